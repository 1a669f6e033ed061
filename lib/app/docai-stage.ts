import { Aspects, CfnOutput, Environment } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { InlinePoliciesToManaged } from '../common';
import { StageConfig } from '../config';
import { AppStack, CostStack, DataStack, InferenceStack, MonitoringStack, namePrefix, stackName } from '../stacks';
import { CfnLintSchemaLag } from './cfn-lint';
import { applyCostAllocationTags, TagRawResources } from './tags';

export interface DocaiStacks {
  readonly data: DataStack;
  readonly inference: InferenceStack;
  readonly app: AppStack;
  readonly monitoring: MonitoringStack;
  readonly cost: CostStack;
}

/** Name of the stage's embedding endpoint (and, in scale-to-zero mode, `<name>-ic` for its inference component). */
export function embeddingEndpointName(config: StageConfig): string {
  return `${namePrefix(config)}-embed`;
}

/** Name of the stage's question-embedding endpoint when questions have their own (questionEmbedding.path serverless). */
export function questionEndpointName(config: StageConfig): string {
  return `${embeddingEndpointName(config)}-question`;
}

/**
 * Maps a validated stage config to the stacks of one stage. The only place that turns config into
 * construct props; constructs themselves never see the stage name.
 */
export function createDocaiStacks(scope: Construct, config: StageConfig, opts: { deployNonce?: string; rebuildId?: string } = {}): DocaiStacks {
  // Environment-agnostic unless the user names an account/region: synth needs no credentials.
  const env: Environment | undefined = config.account || config.region ? { account: config.account, region: config.region } : undefined;
  const common = { env, config };
  const data = new DataStack(scope, stackName(config, 'data'), {
    ...common,
    description: `docai-blueprint ${config.stage}: stateful resources (keys, buckets, queues, database, alarm topic)`,
  });
  const inference = new InferenceStack(scope, stackName(config, 'inference'), {
    ...common,
    alarmTopic: data.alarms.topic,
    captureBucket: data.captureBucket,
    embeddingEndpointName: embeddingEndpointName(config),
    questionEndpointName: questionEndpointName(config),
    description: `docai-blueprint ${config.stage}: GPU inference endpoints (embeddings${config.generation.enabled ? ', generation' : ''})`,
  });
  const app = new AppStack(scope, stackName(config, 'app'), {
    ...common,
    vpc: data.network.vpc,
    vpcSubnets: data.network.isolatedSubnets,
    intake: data.intake,
    ingestionQueue: data.ingestionQueue,
    database: data.database,
    workBucket: data.workBucket,
    reviewQueue: data.reviewQueue,
    reviewTopic: data.reviewTopic,
    asyncFailures: data.asyncFailures,
    alarmTopic: data.alarms.topic,
    gateway: data.gateway,
    audit: data.audit,
    userPoolRemovalPolicy: data.dataRemovalPolicy,
    embedding: {
      endpointName: inference.embedding.endpointName,
      inferenceComponentName: inference.embedding.inferenceComponentName,
      dimension: config.embedding.dimension,
      modelId: config.embedding.modelId,
      usdPerMillionTokens: config.observability.embeddingUsdPerMillionTokens,
    },
    // Questions on their own endpoint when the stage has one; otherwise on the documents' endpoint.
    questionEmbedding: inference.questionEmbedding ? { endpointName: inference.questionEmbedding.endpointName } : undefined,
    generation: inference.generation ? { endpointName: inference.generation.endpointName, inferenceComponentName: inference.generation.inferenceComponentName } : undefined,
    description: `docai-blueprint ${config.stage}: stateless application (ingestion, pipeline, query API, migrations)`,
  });
  app.addStackDependency(inference, 'the pipeline calls the embedding endpoint');
  const monitoring = new MonitoringStack(scope, stackName(config, 'monitoring'), {
    ...common,
    alarmTopic: data.alarms.topic,
    pipeline: app.pipeline,
    ingestionQueue: data.ingestionQueue,
    database: data.database,
    embedding: inference.embedding,
    query: app.query,
    vectorStore: app.vectorStoreMetrics,
    description: `docai-blueprint ${config.stage}: dashboard and alarms`,
  });
  const cost = new CostStack(scope, stackName(config, 'cost'), {
    config,
    deployNonce: opts.deployNonce,
    env: { account: config.account, region: 'us-east-1' },
    description: `docai-blueprint ${config.stage}: budgets, cost anomaly detection, cost-allocation tags (us-east-1)`,
  });
  // The app's cross-stack references are weak (Fn::GetStackOutput, cdk.json): a consumer reads the
  // producer's outputs when its own template changes, and cdk deploy skips unchanged stacks. After a
  // rebuild replaced producer resources, `npm run deploy -- --rebuild` passes a new rebuildId, which
  // changes every consumer's template, so each is updated and reads the new identifiers.
  if (opts.rebuildId) {
    for (const s of [inference, app, monitoring]) {
      new CfnOutput(s, 'RebuildId', { value: opts.rebuildId, description: 'Set by npm run deploy -- --rebuild: this stack was updated to read the rebuilt producer stacks\' outputs again' });
    }
  }
  applyCostAllocationTags(scope, config);
  Aspects.of(scope).add(new InlinePoliciesToManaged());
  Aspects.of(scope).add(new CfnLintSchemaLag());
  Aspects.of(scope).add(new TagRawResources());
  return { data, inference, app, monitoring, cost };
}
