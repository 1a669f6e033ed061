import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { imageFor, InferenceFramework, SERVERLESS_INFERENCE_REGIONS, ServerlessEmbeddingEndpoint } from '../../lib/gpu-inference';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { PILOT } from '../../lib/config';
import { estimateMonthlyCost, PRICES, QUESTION_EMBEDDING } from '../../lib/cost';
import { configFor, synthStage } from '../helpers';

/** The stage's resources of one type, from every template: [logicalId, resource]. */
function resources(templates: Record<string, Template>, type: string): Array<[string, any]> {
  return Object.values(templates).flatMap((t) => Object.entries(t.findResources(type)));
}

const queryFunction = (templates: Record<string, Template>) => {
  const [[, fn]] = resources(templates, 'AWS::Lambda::Function').filter(([, r]) => r.Properties.Handler === 'query_handler.handler');
  return fn;
};

/** Every sagemaker:InvokeEndpoint resource the query function's role is granted, flattened to strings. */
function invokeGrants(templates: Record<string, Template>): string[] {
  const roleId = queryFunction(templates).Properties.Role['Fn::GetAtt'][0];
  const policies = resources(templates, 'AWS::IAM::Policy').concat(resources(templates, 'AWS::IAM::ManagedPolicy'))
    .filter(([, p]) => JSON.stringify(p.Properties.Roles ?? []).includes(roleId));
  return policies.flatMap(([, p]) => [p.Properties.PolicyDocument.Statement].flat())
    .filter((s: any) => [s.Action].flat().includes('sagemaker:InvokeEndpoint'))
    .flatMap((s: any) => [s.Resource].flat().map((r: unknown) => JSON.stringify(r)));
}

describe('questions are embedded on an endpoint that is never cold for minutes', () => {
  test('pilot: the query function embeds on the serverless CPU endpoint, and may invoke only that one', () => {
    const { templates } = synthStage('pilot');
    const env = queryFunction(templates).Properties.Environment.Variables;
    expect(env.EMBEDDING_ENDPOINT).toBe('docai-pilot-embed-question');
    expect(env.EMBEDDING_INFERENCE_COMPONENT).toBe('');
    const grants = invokeGrants(templates);
    expect(grants).toHaveLength(1);
    expect(grants[0]).toContain('endpoint/docai-pilot-embed-question');
    expect(grants.join()).not.toMatch(/endpoint\/docai-pilot-embed"|inference-component\/docai-pilot-embed-ic/);
  });

  test('pilot: the documents keep their GPU endpoint at zero with its window; the question endpoint is serverless with the configured memory and concurrency', () => {
    const { templates } = synthStage('pilot');
    const configs = resources(templates, 'AWS::SageMaker::EndpointConfig').map(([, r]) => r.Properties.ProductionVariants[0]);
    const gpu = configs.find((v) => v.InstanceType)!;
    expect(gpu).toMatchObject({ InstanceType: 'ml.g5.xlarge', ManagedInstanceScaling: { MinInstanceCount: 0 } });
    const serverless = configs.find((v) => v.ServerlessConfig)!;
    expect(serverless.ServerlessConfig).toEqual({ MemorySizeInMB: 2048, MaxConcurrency: 10 });
    expect(serverless.InstanceType).toBeUndefined();
    const pipelineEmbed = resources(templates, 'AWS::Lambda::Function').find(([, r]) => r.Properties.Handler === 'pipeline_handlers.embed_handler')![1];
    expect(pipelineEmbed.Properties.Environment.Variables).toMatchObject({ ENDPOINT_NAME: 'docai-pilot-embed', INFERENCE_COMPONENT: 'docai-pilot-embed-ic' });
  });

  test('pilot: both endpoints serve the same model with the same TEI release and settings, and searches compare vectors of that model', () => {
    const { templates, config } = synthStage('pilot');
    const models = resources(templates, 'AWS::SageMaker::Model').map(([, r]) => r.Properties.PrimaryContainer);
    expect(models).toHaveLength(2);
    const [gpu, cpu] = [models.find((m) => JSON.stringify(m.Image).includes('/tei:'))!, models.find((m) => JSON.stringify(m.Image).includes('/tei-cpu:'))!];
    expect(cpu.Environment).toEqual(gpu.Environment);
    // The same pinned archive of the model (lib/gpu-inference/model-artifacts.json) on both paths.
    expect(cpu.Environment.HF_MODEL_ID).toBe('/opt/ml/model');
    expect(cpu.ModelDataUrl).toEqual(gpu.ModelDataUrl);
    expect(JSON.stringify(cpu.ModelDataUrl)).toContain(`/models/${config.embedding.modelId}/`);
    // One TEI release on both paths: the same tokenizer, pooling (from the model's own config) and normalization code.
    const release = (m: any) => /tei(\d+\.\d+\.\d+)-/.exec(JSON.stringify(m.Image))![1];
    expect(release(cpu)).toBe(release(gpu));
    expect(JSON.stringify(cpu.Image)).toContain('/tei-cpu:2.0.1-tei1.8.2-cpu-py310-ubuntu22.04');
    const retrieve = resources(templates, 'AWS::Lambda::Function').find(([, r]) => r.Properties.Handler === 'retrieve_handler.handler')![1];
    expect(retrieve.Properties.Environment.Variables.EMBEDDING_MODEL).toBe(config.embedding.modelId);
    expect(queryFunction(templates).Properties.Environment.Variables.EMBEDDING_DIMENSION).toBe(String(config.embedding.dimension));
  });

  test('production: questions stay on the always-on GPU endpoint and there is no serverless endpoint', () => {
    const { templates } = synthStage('production');
    const env = queryFunction(templates).Properties.Environment.Variables;
    expect(env).toMatchObject({ EMBEDDING_ENDPOINT: 'docai-production-embed', EMBEDDING_INFERENCE_COMPONENT: 'docai-production-embed-ic' });
    expect(resources(templates, 'AWS::SageMaker::EndpointConfig').every(([, r]) => r.Properties.ProductionVariants.every((v: any) => v.ServerlessConfig === undefined))).toBe(true);
  });

  test('the question endpoint pulls the published TEI CPU image, and only in regions with Serverless Inference', () => {
    const pinned = new Stack(new App(), 'S', { env: { account: '111122223333', region: 'eu-west-1' } });
    new ServerlessEmbeddingEndpoint(pinned, 'Q', { endpointName: 'q', modelId: 'BAAI/bge-base-en-v1.5' });
    Template.fromStack(pinned).hasResourceProperties('AWS::SageMaker::Model', { PrimaryContainer: { Image: imageFor(InferenceFramework.TEXT_EMBEDDINGS_INFERENCE_CPU, 'eu-west-1').imageUri } });
    expect(imageFor(InferenceFramework.TEXT_EMBEDDINGS_INFERENCE_CPU, 'us-east-1').imageUri).toBe('683313688378.dkr.ecr.us-east-1.amazonaws.com/tei-cpu:2.0.1-tei1.8.2-cpu-py310-ubuntu22.04');
    const zurich = new Stack(new App(), 'Z', { env: { account: '111122223333', region: 'eu-central-2' } });
    expect(() => new ServerlessEmbeddingEndpoint(zurich, 'Q', { endpointName: 'q', modelId: 'm' })).toThrow(/not offered in eu-central-2/);
    const agnostic = new Stack(new App(), 'A');
    new ServerlessEmbeddingEndpoint(agnostic, 'Q', { endpointName: 'q', modelId: 'm' });
    const rule = Template.fromStack(agnostic).toJSON().Rules.ServerlessInferenceRegion;
    expect(rule.Assertions[0].Assert['Fn::Contains'][0]).toEqual([...SERVERLESS_INFERENCE_REGIONS]);
    expect(() => new ServerlessEmbeddingEndpoint(new Stack(new App(), 'B'), 'Q', { endpointName: 'q', modelId: 'm', memorySizeMb: 1500 })).toThrow(/memorySizeMb 1500; valid: 1024, 2048/);
  });

  test('the stage config names the field, the value and the fix', () => {
    expect(() => configFor('pilot', { region: 'eu-central-2' })).toThrow(/region: received "eu-central-2"; AWS does not offer there what this stage uses: .*SageMaker Serverless Inference \(questionEmbedding\.path serverless\)/);
    const file = path.join(os.tmpdir(), `qe-${process.pid}.json`);
    const write = (v: unknown) => fs.writeFileSync(file, JSON.stringify(v));
    write({ questionEmbedding: { path: 'document-endpoint' } });
    expect(() => configFor('pilot', { configFile: file })).toThrow(/questionEmbedding\.path: received "document-endpoint" while embedding\.scaling is scale-to-zero: .*503 warming_up.*Fix: "serverless", or embedding\.scaling always-on/);
    write({ questionEmbedding: { memorySizeMb: 1500, maxConcurrency: 300 } });
    expect(() => configFor('pilot', { configFile: file })).toThrow(/questionEmbedding\.memorySizeMb: received 1500; valid choices: 1024, 2048, 3072, 4096, 5120, 6144[\s\S]*questionEmbedding\.maxConcurrency: received 300; expected a whole number from 1 to 200/);
    write({ questionEmbedding: { provisionedConcurrency: 11 } });
    expect(() => configFor('pilot', { configFile: file })).toThrow(/questionEmbedding\.provisionedConcurrency: received 11; expected a whole number from 0 to 10/);
    write({ questionEmbedding: { path: 'lambda' } });
    expect(() => configFor('pilot', { configFile: file })).toThrow(/questionEmbedding\.path: received "lambda"; valid choices: serverless, document-endpoint/);
    expect(() => configFor('production')).not.toThrow();
  });

  test('the README\'s question-embedding figures are the estimate\'s', () => {
    const readme = fs.readFileSync(path.join(__dirname, '..', '..', 'README.md'), 'utf8').replace(/\s+/g, ' ');
    const line = estimateMonthlyCost(PILOT, { docsPerDay: 1000, queriesPerDay: 500 }).lines.find((l) => l.service === 'SageMaker Serverless')!;
    expect(readme).toContain(`\`${line.service}: ${line.item}\` 0.00 idle, ${line.usageUsd.toFixed(2)} USD a month at load`);
    expect(readme).toContain(`+ ~${QUESTION_EMBEDDING.warmSeconds} s model time on ${PILOT.questionEmbedding.memorySizeMb / 1024} GB of CPU`);
    expect(readme).toContain(`~${QUESTION_EMBEDDING.coldStartSeconds} s assumed`);
    const provisioned = Math.round((PILOT.questionEmbedding.memorySizeMb / 1024) * 730 * 3600 * PRICES.serverlessProvisionedGbSecond);
    expect(readme).toContain(`\`provisionedConcurrency\` 1 removes the cold start for ~${provisioned} USD a month at 2 GB`);
  });
});
