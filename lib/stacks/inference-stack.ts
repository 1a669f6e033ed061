import { Duration, Stack, StackProps } from 'aws-cdk-lib';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { namePrefix } from './stack-names';
import { tagWorkload } from '../common/tags';
import { EndpointScalingMode, GenerationEndpointConfig, StageConfig } from '../config';
import { COLD_START_MINUTES, EndpointScaling, SCALE_IN_DETECT_MINUTES, GpuInferenceEndpoint, InferenceFramework, ModelArtifacts, ServerlessEmbeddingEndpoint } from '../gpu-inference';
import { IWorkBucket } from '../document-pipeline';

export interface InferenceStackProps extends StackProps {
  readonly config: StageConfig;
  /** Where the endpoints' alarms go. */
  readonly alarmTopic: sns.ITopic;
  /** Endpoint data capture goes here, in stages that capture. @default - no data capture */
  readonly captureBucket?: IWorkBucket;
  readonly embeddingEndpointName: string;
  /** Name of the question-embedding endpoint, when questions have their own (questionEmbedding.path serverless). */
  readonly questionEndpointName?: string;
}

function scaling(mode: EndpointScalingMode, min: number, max: number, cooldownMinutes?: number): EndpointScaling {
  const scaleInCooldown = cooldownMinutes === undefined ? undefined : Duration.minutes(cooldownMinutes);
  return mode === 'scale-to-zero' ? EndpointScaling.toZero({ maxInstances: max, scaleInCooldown }) : EndpointScaling.alwaysOn({ minInstances: min, maxInstances: max, gpuUtilizationTarget: 70, scaleInCooldown });
}

/** Inference endpoints of a stage: GPU embeddings always, questions' serverless endpoint and generation when the stage has them. Stateless. */
export class InferenceStack extends Stack {
  public readonly embedding: GpuInferenceEndpoint;
  public readonly generation?: GpuInferenceEndpoint;
  /** Questions' own endpoint (Serverless Inference, CPU), when the stage does not embed them on `embedding`. */
  public readonly questionEmbedding?: ServerlessEmbeddingEndpoint;

  constructor(scope: Construct, id: string, props: InferenceStackProps) {
    super(scope, id, props);
    const c = props.config;
    const captureBucket = props.captureBucket;
    tagWorkload(this, 'inference');
    const capture = (percent: number) =>
      percent > 0 && captureBucket ? { bucket: captureBucket.bucket, bucketName: captureBucket.bucketName, samplingPercentage: percent, encryptionKey: captureBucket.encryptionKey } : undefined;

    const e = c.embedding;
    // The pinned, checksummed model in this account's bucket (scripts/stage_model.py; the preflight checks it).
    const embeddingModel = ModelArtifacts.staged(this, 'EmbeddingModelArtifacts', e.modelId);
    this.embedding = new GpuInferenceEndpoint(this, 'Embedding', {
      endpointName: props.embeddingEndpointName,
      framework: InferenceFramework.TEXT_EMBEDDINGS_INFERENCE,
      instanceType: e.instanceType,
      modelId: e.modelId,
      modelData: embeddingModel,
      scaling: scaling(e.scaling, e.minInstances, e.maxInstances, e.scaleInCooldownMinutes),
      dataCapture: capture(e.dataCapturePercent),
      alarmTopic: props.alarmTopic,
      latencyP95Threshold: Duration.millis(c.observability.modelLatencyP95Ms),
      // Documents reach the GPU at each window's start; after cold start + scale-in tail it should be at zero.
      embeddingWindow: e.scaling === 'scale-to-zero' && e.batchWindowMinutes > 0
        ? { every: Duration.minutes(e.batchWindowMinutes), allowance: Duration.minutes(COLD_START_MINUTES + SCALE_IN_DETECT_MINUTES + e.scaleInCooldownMinutes) }
        : undefined,
    });

    const q = c.questionEmbedding;
    if (q.path === 'serverless') {
      this.questionEmbedding = new ServerlessEmbeddingEndpoint(this, 'QuestionEmbedding', {
        endpointName: props.questionEndpointName ?? `${props.embeddingEndpointName}-question`,
        modelId: e.modelId,
        modelData: embeddingModel,
        memorySizeMb: q.memorySizeMb,
        maxConcurrency: q.maxConcurrency,
        provisionedConcurrency: q.provisionedConcurrency,
        alarmTopic: props.alarmTopic,
        latencyP95Threshold: Duration.millis(c.observability.modelLatencyP95Ms),
      });
    }

    const g: GenerationEndpointConfig = c.generation;
    if (g.enabled) {
      this.generation = new GpuInferenceEndpoint(this, 'Generation', {
        endpointName: `${namePrefix(c)}-generate`,
        framework: InferenceFramework.LARGE_MODEL_INFERENCE,
        instanceType: g.instanceType,
        modelId: g.modelId,
        scaling: scaling(g.scaling, g.minInstances, g.maxInstances),
        dataCapture: capture(g.dataCapturePercent),
        alarmTopic: props.alarmTopic,
        latencyP95Threshold: Duration.seconds(30),
      });
    }
  }
}
