import { Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { EndpointScaling, GpuInferenceEndpoint, InferenceFramework, ModelArtifacts } from '../../lib';
import { newApp, synthStage } from '../helpers';

const inference = (stage: string) => synthStage(stage).templates[`docai-${stage}-inference`];

function writeConfig(value: unknown): string {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'cfg-')), 'config.json');
  fs.writeFileSync(file, JSON.stringify(value));
  return file;
}

describe('pilot: scale to zero', () => {
  const t = () => inference('pilot');

  test('the variant uses managed instance scaling with a minimum of 0, and the model runs as an inference component', () => {
    t().hasResourceProperties('AWS::SageMaker::EndpointConfig', {
      ProductionVariants: [Match.objectLike({ InstanceType: 'ml.g5.xlarge', ManagedInstanceScaling: { Status: 'ENABLED', MinInstanceCount: 0, MaxInstanceCount: 1 }, ModelName: Match.absent() })],
      ExecutionRoleArn: Match.anyValue(),
    });
    t().hasResourceProperties('AWS::SageMaker::InferenceComponent', { InferenceComponentName: 'docai-pilot-embed-ic', EndpointName: 'docai-pilot-embed' });
    t().hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', { MinCapacity: 0, ScalableDimension: 'sagemaker:inference-component:DesiredCopyCount' });
  });

  test('a step-scaling policy on NoCapacityInvocationFailures scales out from zero', () => {
    const policies = Object.entries(t().findResources('AWS::ApplicationAutoScaling::ScalingPolicy')) as [string, any][];
    const step = policies.find(([, p]) => p.Properties.PolicyType === 'StepScaling')!;
    // bounds are relative to the alarm threshold: at or above 1 failed request, add one copy
    expect(step[1].Properties.StepScalingPolicyConfiguration.StepAdjustments).toEqual([{ MetricIntervalLowerBound: 0, ScalingAdjustment: 1 }]);
    t().hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'NoCapacityInvocationFailures',
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      Dimensions: [{ Name: 'InferenceComponentName', Value: 'docai-pilot-embed-ic' }],
      AlarmActions: [{ Ref: Match.stringLikeRegexp(`^${step[0]}`) }],
    });
  });

  test('the person-facing no-capacity alarm waits well beyond a cold start', () => {
    const alarm = (Object.values(t().findResources('AWS::CloudWatch::Alarm')) as any[]).find((a) => a.Properties.MetricName === 'NoCapacityInvocationFailures' && JSON.stringify(a.Properties.AlarmActions ?? []).includes('AlarmsTopic'));
    expect(alarm.Properties.EvaluationPeriods * alarm.Properties.Period).toBeGreaterThanOrEqual(15 * 60);
  });

  test('the inference component starts at zero copies (scale-in from a copy never invoked is not documented) and the first request still scales out', () => {
    t().hasResourceProperties('AWS::SageMaker::InferenceComponent', { InferenceComponentName: 'docai-pilot-embed-ic', RuntimeConfig: { CopyCount: 0 } });
    // zero copies is the state every scale-in ends in: the same step policy brings the first copy
    const policies = Object.values(t().findResources('AWS::ApplicationAutoScaling::ScalingPolicy')) as any[];
    expect(policies.map((p) => p.Properties.PolicyType).sort()).toEqual(['StepScaling', 'TargetTrackingScaling']);
    t().hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', { MinCapacity: 0, MaxCapacity: 1, ResourceId: 'inference-component/docai-pilot-embed-ic' });
  });

  test('no data capture in the pilot', () => {
    const cfg = Object.values(t().findResources('AWS::SageMaker::EndpointConfig'))[0] as any;
    expect(cfg.Properties.DataCaptureConfig).toBeUndefined();
  });
});

/** The GpuOutsideWindow alarm of a stage's embedding endpoint, if any. */
const windowExpression = (alarm: any): string => alarm.Properties.Metrics.find((m: any) => m.Expression).Expression;

function windowAlarm(template: Template): any {
  return (Object.entries(template.findResources('AWS::CloudWatch::Alarm')) as [string, any][]).find(([id]) => id.includes('GpuOutsideWindow'))?.[1];
}

/**
 * Evaluates the alarm's metric math for one datapoint: `instances` reporting at `hh:mm` UTC. Only the
 * functions the expression uses (IF, HOUR, MINUTE, FLOOR); anything else fails the test.
 */
function evaluate(expression: string, instances: number, hh: number, mm: number): number {
  const js = expression
    .replace(/HOUR\(instances\)/g, String(hh)).replace(/MINUTE\(instances\)/g, String(mm))
    .replace(/FLOOR\(/g, 'Math.floor(').replace(/\binstances\b/g, String(instances)).replace(/^IF\(/, 'iff(');
  expect(js).toMatch(/^iff\([\d\s()+\-*/>.,Mathflor]*\)$/);
  return new Function('iff', `return ${js};`)((c: boolean, a: number, b: number) => (c ? a : b));
}

describe('pilot: an alarm when the GPU runs outside its embedding windows', () => {
  test('threshold = cold start + scale-in tail (detection + the configured cooldown), over the configured window, to the alarm topic', () => {
    const config = synthStage('pilot').config;
    const alarm = windowAlarm(inference('pilot'));
    expect(alarm.Properties.Threshold).toBe(6 + 15 + config.embedding.scaleInCooldownMinutes);
    expect(alarm.Properties.ComparisonOperator).toBe('GreaterThanOrEqualToThreshold');
    expect(alarm.Properties.TreatMissingData).toBe('notBreaching'); // no instance, no datapoint
    expect(JSON.stringify(alarm.Properties.AlarmActions)).toContain('AlarmsTopic');
    const instances = alarm.Properties.Metrics.find((m: any) => m.Id === 'instances');
    const expr = alarm.Properties.Metrics.find((m: any) => m.Expression);
    expect(instances.MetricStat).toMatchObject({ Stat: 'SampleCount', Period: 60, Metric: { Namespace: '/aws/sagemaker/Endpoints', MetricName: 'CPUUtilization', Dimensions: expect.arrayContaining([{ Name: 'EndpointName', Value: 'docai-pilot-embed' }]) } });
    expect(expr.Expression).toContain(`${config.embedding.batchWindowMinutes} * FLOOR(`);
  });

  test('the threshold and the window follow the config', () => {
    const file = writeConfig({ embedding: { batchWindowMinutes: 360, scaleInCooldownMinutes: 12 } });
    const alarm = windowAlarm(synthStage('pilot', { configFile: file }).templates['docai-pilot-inference']);
    expect(alarm.Properties.Threshold).toBe(6 + 15 + 12);
    expect(windowExpression(alarm)).toContain('360 * FLOOR(');
    // no window: documents go to the GPU at any hour, there is nothing to be outside of
    expect(windowAlarm(synthStage('pilot', { configFile: writeConfig({ embedding: { batchWindowMinutes: 0 } }) }).templates['docai-pilot-inference'])).toBeUndefined();
  });

  test('the expression breaches only while an instance runs past the allowance in a window (00:00 and 12:00 UTC windows)', () => {
    const alarm = windowAlarm(inference('pilot'));
    const expression = windowExpression(alarm);
    const breaches = (n: number, hh: number, mm: number) => evaluate(expression, n, hh, mm) >= alarm.Properties.Threshold;
    expect(breaches(1, 0, 10)).toBe(false); // cold start and work after the midnight window
    expect(breaches(1, 12, 25)).toBe(false); // scale-in tail of the noon window
    expect(breaches(1, 12, 26)).toBe(true); // past cold start + tail
    expect(breaches(1, 23, 59)).toBe(true); // never scaled in
    expect(breaches(1, 3, 0)).toBe(true); // deployed at 03:00 and never released
    expect(breaches(0, 23, 59)).toBe(false); // at zero
  });
});

describe('production: always on', () => {
  test('no window alarm: the endpoint is meant to run', () => {
    expect(windowAlarm(inference('production'))).toBeUndefined();
  });

  const t = () => inference('production');

  test('at least two instances and copies, with target tracking on invocations per copy and GPU utilization, in the pilot\'s shape', () => {
    // Inference components as in the pilot (one shape: promotion is an in-place update), never scaling to zero.
    t().hasResourceProperties('AWS::SageMaker::EndpointConfig', { ProductionVariants: [Match.objectLike({ InitialInstanceCount: 2, ModelName: Match.absent(), ManagedInstanceScaling: { Status: 'ENABLED', MinInstanceCount: 2, MaxInstanceCount: 6 } })] });
    t().hasResourceProperties('AWS::SageMaker::InferenceComponent', { RuntimeConfig: { CopyCount: 2 } });
    t().hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', { MinCapacity: 2, MaxCapacity: 6, ScalableDimension: 'sagemaker:inference-component:DesiredCopyCount' });
    t().hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', {
      TargetTrackingScalingPolicyConfiguration: Match.objectLike({ PredefinedMetricSpecification: { PredefinedMetricType: 'SageMakerInferenceComponentInvocationsPerCopy' }, ScaleInCooldown: 600 }),
    });
    t().hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', { TargetTrackingScalingPolicyConfiguration: Match.objectLike({ CustomizedMetricSpecification: Match.objectLike({ MetricName: 'GPUUtilization' }) }) });
    // no scale-out-from-zero step policy: there is always a copy
    expect(Object.values(t().findResources('AWS::ApplicationAutoScaling::ScalingPolicy')).map((p: any) => p.Properties.PolicyType)).toEqual(['TargetTrackingScaling', 'TargetTrackingScaling']);
  });

  test('no data capture unless the stage opts in (it captures every tier\'s text); opted in, the configured share goes to an encrypted location', () => {
    for (const c of Object.values(t().findResources('AWS::SageMaker::EndpointConfig')) as any[]) expect(c.Properties.DataCaptureConfig).toBeUndefined();
    expect(() => synthStage('production', { configFile: writeConfig({ embedding: { dataCapturePercent: 10 } }) }))
      .toThrow(/embedding.dataCapturePercent: received 10; this captures 10% of the endpoint's requests and responses: the text of every document chunk, of every access tier \(public, internal, confidential, restricted\).*Fix: set embedding.dataCapturePercent to 0, or opt in with embedding.dataCaptureOptIn: true/);
    const opted = synthStage('production', { configFile: writeConfig({ embedding: { dataCapturePercent: 10, dataCaptureOptIn: true } }) }).templates['docai-production-inference'];
    opted.hasResourceProperties('AWS::SageMaker::EndpointConfig', {
      DataCaptureConfig: Match.objectLike({ EnableCapture: true, InitialSamplingPercentage: 10, KmsKeyId: Match.anyValue(), CaptureOptions: [{ CaptureMode: 'Input' }, { CaptureMode: 'Output' }] }),
    });
  });
});

describe.each(['pilot', 'production'])('%s endpoint, both modes', (stage) => {
  test('alarms on latency p95, 4xx/5xx and GPU memory/utilization go to the alarm topic', () => {
    const alarms = (Object.values(inference(stage).findResources('AWS::CloudWatch::Alarm')) as any[]).filter((a) => JSON.stringify(a.Properties.AlarmActions ?? []).includes('AlarmsTopic'));
    const names = alarms.map((a) => `${a.Properties.MetricName}:${a.Properties.ExtendedStatistic ?? a.Properties.Statistic}`).sort();
    expect(names).toEqual(expect.arrayContaining(['GPUMemoryUtilization:Average', 'GPUUtilization:Average', 'Invocation4XXErrors:Sum', 'Invocation5XXErrors:Sum', 'ModelLatency:p95']));
  });

  test('the execution role has no AWS managed policy and pulls only its image repository', () => {
    const t = inference(stage).toJSON();
    const roles = Object.values(t.Resources as Record<string, any>).filter((r) => r.Type === 'AWS::IAM::Role' && JSON.stringify(r.Properties.AssumeRolePolicyDocument).includes('sagemaker.amazonaws.com'));
    expect(roles.length).toBeGreaterThan(0);
    for (const r of roles) expect(r.Properties.ManagedPolicyArns).toBeUndefined();
    expect(JSON.stringify(t)).not.toContain('AmazonSageMakerFullAccess');
    const pulls = Object.values(t.Resources as Record<string, any>).filter((r) => r.Type === 'AWS::IAM::ManagedPolicy').flatMap((p) => p.Properties.PolicyDocument.Statement).filter((s: any) => [s.Action].flat().includes('ecr:BatchGetImage'));
    for (const s of pulls) expect(JSON.stringify(s.Resource)).toContain(':repository/tei');
  });

  test('the model has no path out: network isolation, the pinned revision from this account\'s bucket, offline, readable by its role only at that key', () => {
    const t = inference(stage);
    const revision = ModelArtifacts.pinned('BAAI/bge-base-en-v1.5')!.revision;
    const [, gpu] = (Object.entries(t.findResources('AWS::SageMaker::Model')) as [string, any][]).find(([, m]) => JSON.stringify(m.Properties.PrimaryContainer.Image).includes('/tei:'))!;
    expect(gpu.Properties.EnableNetworkIsolation).toBe(true);
    expect(gpu.Properties.VpcConfig).toBeUndefined(); // isolation, not a VPC: the container has no network at all
    expect(gpu.Properties.PrimaryContainer.Environment).toMatchObject({ HF_MODEL_ID: '/opt/ml/model', HF_HUB_OFFLINE: '1' });
    const url = JSON.stringify(gpu.Properties.PrimaryContainer.ModelDataUrl);
    expect(url).toContain('s3://docai-models-');
    expect(url).toContain(`/models/BAAI/bge-base-en-v1.5/${revision}/model.tar.gz`);
    const reads = (Object.values(t.findResources('AWS::IAM::Policy')) as any[]).concat(Object.values(t.findResources('AWS::IAM::ManagedPolicy')))
      .flatMap((p) => p.Properties.PolicyDocument.Statement).filter((st: any) => JSON.stringify(st.Resource).includes('docai-models-'));
    expect(reads.flatMap((st: any) => [st.Action].flat()).sort()).toEqual(expect.arrayContaining(['s3:GetObject', 's3:ListBucket']));
    for (const st of reads) expect(['s3:GetObject', 's3:ListBucket']).toContain(st.Action); // no wildcard actions, no writes
  });

  test('uses the TEI image and the configured model, and no volume key on an NVMe instance type', () => {
    const t = inference(stage);
    t.hasResourceProperties('AWS::SageMaker::Model', { PrimaryContainer: { Image: Match.objectLike({ 'Fn::Join': Match.arrayWith([Match.arrayWith([Match.stringLikeRegexp('/tei:.*gpu')])]) }), Environment: Match.objectLike({ HF_MODEL_ID: '/opt/ml/model' }) } });
    const cfg = Object.values(t.findResources('AWS::SageMaker::EndpointConfig'))[0] as any;
    expect(cfg.Properties.KmsKeyId).toBeUndefined(); // ml.g5.xlarge: NVMe instance storage only
  });

  test('the pipeline may invoke exactly this endpoint and its inference component; the query function the stage\'s question endpoint', () => {
    const app = synthStage(stage).templates[`docai-${stage}-app`].toJSON();
    const invoke = Object.values(app.Resources as Record<string, any>).filter((r) => r.Type === 'AWS::IAM::ManagedPolicy').flatMap((p) => p.Properties.PolicyDocument.Statement).filter((s: any) => s.Action === 'sagemaker:InvokeEndpoint');
    expect(invoke).toHaveLength(2); // Embed, query
    const resources = invoke.map((s: any) => [s.Resource].flat().map((r: unknown) => JSON.stringify(r)));
    const documents = [`:endpoint/docai-${stage}-embed"`, `:inference-component/docai-${stage}-embed-ic"`];
    // pilot: questions on the serverless endpoint (no inference component); production: on this endpoint.
    const questions = stage === 'pilot' ? [`:endpoint/docai-${stage}-embed-question"`] : documents;
    const matches = (rs: string[], want: string[]) => rs.length === want.length && want.every((w, i) => rs[i].includes(w));
    expect(resources.filter((rs) => matches(rs, documents))).toHaveLength(stage === 'pilot' ? 1 : 2);
    expect(resources.filter((rs) => matches(rs, questions))).toHaveLength(stage === 'pilot' ? 1 : 2);
  });
});

describe('GpuInferenceEndpoint validation', () => {
  const make = (instanceType: string, scaling = EndpointScaling.toZero({ maxInstances: 1 })) =>
    new GpuInferenceEndpoint(new Stack(newApp(), 'S'), 'E', { endpointName: 'e', framework: InferenceFramework.TEXT_EMBEDDINGS_INFERENCE, instanceType, modelId: 'm', scaling });

  test('an unknown instance type fails with the valid choices', () => {
    expect(() => make('ml.x99.huge')).toThrow(/instanceType "ml.x99.huge" is not in the instance catalog; valid choices: ml.g5.xlarge/);
  });

  test('an instance type without a GPU fails for a GPU container', () => {
    expect(() => make('ml.c7i.xlarge')).toThrow(/"ml.c7i.xlarge" has no GPU, but the tei container needs one; valid choices: ml.g5.xlarge/);
  });

  test('an embedding window needs scale to zero, a window that divides a day and an allowance shorter than it', () => {
    const withWindow = (scaling: EndpointScaling, every: number, allowance: number) => () =>
      new GpuInferenceEndpoint(new Stack(newApp(), 'S'), 'E', { endpointName: 'e', framework: InferenceFramework.TEXT_EMBEDDINGS_INFERENCE, instanceType: 'ml.g5.xlarge', modelId: 'm', scaling, embeddingWindow: { every: Duration.minutes(every), allowance: Duration.minutes(allowance) } });
    expect(withWindow(EndpointScaling.alwaysOn({ minInstances: 1, maxInstances: 2 }), 720, 26)).toThrow(/embeddingWindow needs EndpointScaling.toZero/);
    expect(withWindow(EndpointScaling.toZero({ maxInstances: 1 }), 700, 26)).toThrow(/embeddingWindow.every must divide a day \(1440 minutes\), received 700 minutes/);
    expect(withWindow(EndpointScaling.toZero({ maxInstances: 1 }), 30, 30)).toThrow(/allowance must be from 1 minute to less than the window \(30 minutes\), received 30 minutes/);
    expect(withWindow(EndpointScaling.toZero({ maxInstances: 1 }), 60, 26)).not.toThrow();
  });

  test('always-on needs at least one instance', () => {
    expect(() => EndpointScaling.alwaysOn({ minInstances: 0, maxInstances: 2 })).toThrow(/minInstances must be at least 1, received 0/);
  });
});

test('a generation endpoint (LMI) is added when the stage enables it', () => {
  const t = synthStage('pilot', { generationEnabled: 'true' }).templates['docai-pilot-inference'];
  t.hasResourceProperties('AWS::SageMaker::Endpoint', { EndpointName: 'docai-pilot-generate' });
  t.hasResourceProperties('AWS::SageMaker::Model', { PrimaryContainer: { Image: Match.objectLike({ 'Fn::Join': Match.arrayWith([Match.arrayWith([Match.stringLikeRegexp('/djl-inference:')])]) }) } });
  expect(Template.fromJSON(synthStage('pilot').templates['docai-pilot-inference'].toJSON()).findResources('AWS::SageMaker::Endpoint')).not.toHaveProperty('GenerationEndpoint');
});
