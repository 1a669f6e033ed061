import { Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import { IngestionQueue } from '../../lib';
import { newApp, synthStage } from '../helpers';

describe.each(['pilot', 'production'])('ingestion in the %s stage', (stage) => {
  const data = () => synthStage(stage).templates[`docai-${stage}-data`];
  const app = () => synthStage(stage).templates[`docai-${stage}-app`];
  const config = () => synthStage(stage).config;
  const queues = () => Object.entries(data().findResources('AWS::SQS::Queue'));
  const mainQueue = () => queues().find(([id]) => /^IngestionQueue[0-9A-F]{8}$/.test(id))![1];
  const dlq = () => queues().find(([id]) => id.startsWith('IngestionQueueDeadLetter'))!;

  test('the queue redrives to a 14-day dead-letter queue after maxReceiveCount deliveries', () => {
    const [dlqId, dlqRes] = dlq();
    expect(mainQueue().Properties.RedrivePolicy).toEqual({ deadLetterTargetArn: { 'Fn::GetAtt': [dlqId, 'Arn'] }, maxReceiveCount: config().ingestion.maxReceiveCount });
    expect(dlqRes.Properties.MessageRetentionPeriod).toBe(14 * 24 * 3600);
    expect(dlqRes.Properties.RedriveAllowPolicy).toEqual({ redrivePermission: 'allowAll' });
    // the DLQ keeps messages longer than the source (SQS keeps the original enqueue time)
    expect(mainQueue().Properties.MessageRetentionPeriod).toBeLessThan(dlqRes.Properties.MessageRetentionPeriod);
  });

  test('both queues are encrypted with a customer key and refuse non-TLS requests', () => {
    for (const [id, q] of [dlq(), ['main', mainQueue()] as const]) {
      expect({ id, key: q.Properties.KmsMasterKeyId }).toEqual({ id, key: { 'Fn::GetAtt': [expect.stringMatching(/^IngestionQueueKey/), 'Arn'] } });
    }
    data().hasResourceProperties('AWS::SQS::QueuePolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Action: 'sqs:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
  });

  test('the visibility timeout is at least six times the function timeout', () => {
    const fn = Object.values(app().findResources('AWS::Lambda::Function')).find((f: any) => f.Properties.Handler === 'ingestion_handler.handler')!;
    expect(fn.Properties.Timeout).toBe(config().ingestion.functionTimeoutSeconds);
    expect(mainQueue().Properties.VisibilityTimeout).toBeGreaterThanOrEqual(6 * fn.Properties.Timeout);
  });

  test('the function is ARM64 Python (a GA runtime) with tracing, retention-bound encrypted logs and a DLQ, outside the VPC (it calls only Step Functions), without reserved concurrency', () => {
    app().hasResourceProperties('AWS::Lambda::Function', {
      Handler: 'ingestion_handler.handler',
      Runtime: 'python3.13',
      Architectures: ['arm64'],
      TracingConfig: { Mode: 'Active' },
      ReservedConcurrentExecutions: Match.absent(),
      DeadLetterConfig: { TargetArn: Match.anyValue() },
      VpcConfig: Match.absent(),
      Environment: { Variables: Match.objectLike({ STATE_MACHINE_ARN: Match.anyValue() }) },
      LoggingConfig: Match.objectLike({ LogFormat: 'JSON', LogGroup: { Ref: Match.stringLikeRegexp('^IngestionFunctionLogs') } }),
    });
    app().hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: config().logRetentionDays, KmsKeyId: Match.anyValue() });
  });

  test('the SQS event source reports batch item failures and caps concurrency', () => {
    app().hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      BatchSize: config().ingestion.batchSize,
      ScalingConfig: { MaximumConcurrency: config().ingestion.maxConcurrency },
      EventSourceArn: { 'Fn::GetStackOutput': Match.objectLike({ StackName: `docai-${stage}-data`, OutputName: Match.stringLikeRegexp('IngestionQueue') }) },
    });
  });

  test('the function may start executions of the pipeline, describe executions of the pipeline, and nothing else in Step Functions', () => {
    const policies = Object.values(app().findResources('AWS::IAM::ManagedPolicy')).filter((p: any) => JSON.stringify(p.Properties.Roles ?? []).includes('IngestionFunctionServiceRole'));
    const statements = policies.flatMap((p: any) => p.Properties.PolicyDocument.Statement);
    const states = statements.filter((s: any) => [s.Action].flat().some((a: string) => a.startsWith('states:')));
    expect(states).toEqual([
      expect.objectContaining({ Action: 'states:StartExecution', Resource: { Ref: expect.stringMatching(/^Pipeline/) } }),
      expect.objectContaining({ Action: 'states:DescribeExecution' }),
    ]);
    // executions of the pipeline state machine only: :execution:<its name>:*
    const describe = JSON.stringify(states[1].Resource);
    expect(describe).toContain(':execution:');
    expect(describe).toMatch(/"Fn::Select":\[6,\{"Fn::Split":\[":",\{"Ref":"PipelineStateMachine[0-9A-F]{8}"\}\]\}\]/);
    expect(describe).toContain('":*"');
  });

  test('the function is told the intake bucket it serves (events of any other bucket are refused to the alarmed DLQ)', () => {
    const fn = Object.values(app().findResources('AWS::Lambda::Function')).find((f: any) => f.Properties.Handler === 'ingestion_handler.handler')! as any;
    const { stacks } = synthStage(stage);
    const served = fn.Properties.Environment.Variables.INTAKE_BUCKET;
    expect(served).toBeDefined();
    expect(served).toEqual(stacks.app.resolve(stacks.data.intake.bucketName));
  });

  test('alarms on any dead-letter message and on old messages go to the alarm topic', () => {
    const topic = { Ref: expect.stringMatching(/^AlarmsTopic/) };
    const alarms = Object.values(data().findResources('AWS::CloudWatch::Alarm')) as any[];
    const dlqAlarm = alarms.find((a) => a.Properties.MetricName === 'ApproximateNumberOfMessagesVisible')!;
    expect(dlqAlarm.Properties).toEqual(expect.objectContaining({ Threshold: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold', AlarmActions: [topic] }));
    expect(dlqAlarm.Properties.Dimensions[0].Value['Fn::GetAtt'][0]).toMatch(/^IngestionQueueDeadLetter/);
    const ageAlarm = alarms.find((a) => a.Properties.MetricName === 'ApproximateAgeOfOldestMessage')!;
    expect(ageAlarm.Properties).toEqual(expect.objectContaining({ Threshold: config().ingestion.oldestMessageAlarmSeconds, AlarmActions: [topic] }));
  });
});

describe('IngestionQueue', () => {
  test('grantRedrive gives exactly the message-move permissions on the DLQ and send on the source', () => {
    const s = new Stack(newApp(), 'S');
    const q = new IngestionQueue(s, 'Q');
    const role = new iam.Role(s, 'Operator', { assumedBy: new iam.AccountRootPrincipal() });
    q.grantRedrive(role);
    const doc = Template.fromStack(s).findResources('AWS::IAM::Policy');
    const statements = Object.values(doc).flatMap((p: any) => p.Properties.PolicyDocument.Statement);
    expect(statements).toEqual(expect.arrayContaining([
      expect.objectContaining({ Action: expect.arrayContaining(['sqs:StartMessageMoveTask', 'sqs:ListMessageMoveTasks', 'sqs:ReceiveMessage', 'sqs:DeleteMessage']), Resource: { 'Fn::GetAtt': [expect.stringMatching(/^QDeadLetter/), 'Arn'] } }),
      expect.objectContaining({ Action: expect.arrayContaining(['sqs:SendMessage']), Resource: { 'Fn::GetAtt': [expect.stringMatching(/^QQueue/), 'Arn'] } }),
    ]));
  });

  test('a consumer timeout whose 6x exceeds the SQS limit is rejected', () => {
    expect(() => new IngestionQueue(new Stack(newApp(), 'S'), 'Q', { consumerTimeout: Duration.hours(3) })).toThrow(/over the SQS maximum of 43200s/);
  });

  test('maxReceiveCount out of range is rejected', () => {
    expect(() => new IngestionQueue(new Stack(newApp(), 'S'), 'Q', { maxReceiveCount: 0 })).toThrow(/maxReceiveCount must be a whole number from 1 to 1000, received 0/);
  });
});
