import { CfnRule, Duration, Fn, Stack, Token } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as sagemaker from 'aws-cdk-lib/aws-sagemaker';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { acknowledge } from '../common';
import { endpointExecutionRole, TEI_ENVIRONMENT } from './execution-role';
import { InferenceEndpointBase } from './gpu-inference-endpoint';
import { InferenceFramework, resolveImage, SERVERLESS_INFERENCE_REGIONS, SERVERLESS_MEMORY_SIZES_MB } from './images';
import { ModelArtifacts, StagedModelLocation } from './model-artifacts';


export interface ServerlessEmbeddingEndpointProps {
  readonly endpointName: string;
  /** Hugging Face model id (`HF_MODEL_ID`): the documents' model, so both vectors are comparable. */
  readonly modelId: string;
  /** Extra container environment (e.g. `REVISION`, `POOLING`, the same as the document endpoint's). @default - none */
  readonly environment?: Record<string, string>;
  /**
   * Model artifacts in S3 (a model.tar.gz, e.g. `ModelArtifacts.staged`): the container loads /opt/ml/model
   * and never asks the Hub. Serverless Inference cannot isolate the container's network (see the class comment).
   * @default - the container downloads `modelId` from the Hugging Face Hub at each cold start
   */
  readonly modelData?: StagedModelLocation;
  /** 1024 to 6144 in steps of 1024; SageMaker gives CPU in proportion to memory. @default 2048 */
  readonly memorySizeMb?: number;
  /** Concurrent invocations before SageMaker throttles (1 to 200). @default 10 */
  readonly maxConcurrency?: number;
  /** Copies kept warm (billed while provisioned). 0: none, the first request after idle waits for a cold start. @default 0 */
  readonly provisionedConcurrency?: number;
  /** @default - alarms without actions */
  readonly alarmTopic?: sns.ITopic;
  /** Model latency p95 alarm threshold. @default Duration.seconds(2) */
  readonly latencyP95Threshold?: Duration;
}

/**
 * Embeds questions on SageMaker Serverless Inference with the Text Embeddings Inference CPU build:
 * no instance, nothing paid idle (without provisioned concurrency), a cold start of seconds (the
 * container starts and loads the model; AWS requires /ping within 3 minutes) instead of the GPU
 * endpoint's minutes from zero. Serverless Inference has no GPU, no VPC placement, no network
 * isolation and no data capture (https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints.html),
 * so this endpoint is reachable only through the SageMaker runtime API with IAM (InvokeEndpoint, granted
 * by name). With `modelData` the container loads the pinned, checksummed files from this account's bucket
 * and is told to stay offline (HF_HUB_OFFLINE); it still runs on SageMaker's managed network, which this
 * account cannot close. Without it, the container downloads the model from the Hugging Face Hub.
 */
export class ServerlessEmbeddingEndpoint extends InferenceEndpointBase {
  public readonly endpoint: sagemaker.CfnEndpoint;
  public readonly endpointConfig: sagemaker.CfnEndpointConfig;
  public readonly model: sagemaker.CfnModel;
  public readonly role: iam.Role;
  public readonly endpointName: string;
  /** A serverless endpoint hosts no inference component: calls name the endpoint only. */
  public readonly inferenceComponentName?: string = undefined;
  public readonly variantName = 'AllTraffic';
  public readonly alarms: cloudwatch.Alarm[] = [];
  public readonly memorySizeMb: number;
  public readonly maxConcurrency: number;

  constructor(scope: Construct, id: string, props: ServerlessEmbeddingEndpointProps) {
    super(scope, id);
    const memory = props.memorySizeMb ?? 2048;
    const concurrency = props.maxConcurrency ?? 10;
    const provisioned = props.provisionedConcurrency ?? 0;
    if (!SERVERLESS_MEMORY_SIZES_MB.includes(memory)) throw new Error(`ServerlessEmbeddingEndpoint: memorySizeMb ${memory}; valid: ${SERVERLESS_MEMORY_SIZES_MB.join(', ')}`);
    if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 200) throw new Error(`ServerlessEmbeddingEndpoint: maxConcurrency ${concurrency}; expected a whole number from 1 to 200`);
    if (!Number.isInteger(provisioned) || provisioned < 0 || provisioned > concurrency) throw new Error(`ServerlessEmbeddingEndpoint: provisionedConcurrency ${provisioned}; expected 0 to maxConcurrency (${concurrency})`);
    this.memorySizeMb = memory;
    this.maxConcurrency = concurrency;
    const stack = Stack.of(this);
    this.endpointName = props.endpointName;
    if (!Token.isUnresolved(stack.region) && !SERVERLESS_INFERENCE_REGIONS.includes(stack.region)) {
      throw new Error(`ServerlessEmbeddingEndpoint: SageMaker Serverless Inference is not offered in ${stack.region}; regions: ${SERVERLESS_INFERENCE_REGIONS.join(', ')}`);
    }
    if (Token.isUnresolved(stack.region) && !stack.node.tryFindChild('ServerlessInferenceRegion')) {
      new CfnRule(stack, 'ServerlessInferenceRegion', {
        assertions: [{
          assert: Fn.conditionContains([...SERVERLESS_INFERENCE_REGIONS], stack.region),
          assertDescription: `SageMaker Serverless Inference (the question-embedding endpoint) is not offered in this region. Regions: ${SERVERLESS_INFERENCE_REGIONS.join(', ')}`,
        }],
      });
    }
    const image = resolveImage(this, InferenceFramework.TEXT_EMBEDDINGS_INFERENCE_CPU);

    this.role = endpointExecutionRole(this, props.endpointName, image, {
      wildcard: 'Resource "*" only where the action has no resource-level permissions: ecr:GetAuthorizationToken (registry login) and cloudwatch:PutMetricData ' +
        '(limited by a namespace condition to SageMaker namespaces). Image pulls name the one repository.',
      logGroups: 'The endpoint writes to log groups /aws/sagemaker/Endpoints/<this endpoint name>*, whose streams SageMaker names per container at run time.',
    });

    if (props.modelData) for (const st of ModelArtifacts.readStatements(props.modelData)) this.role.addToPolicy(st);
    this.model = new sagemaker.CfnModel(this, 'Model', {
      executionRoleArn: this.role.roleArn,
      primaryContainer: {
        image: image.imageUri,
        // The document endpoint's TEI settings (GpuInferenceEndpoint), so both paths batch and truncate alike.
        environment: { ...(props.modelData ? { HF_MODEL_ID: '/opt/ml/model', HF_HUB_OFFLINE: '1' } : { HF_MODEL_ID: props.modelId }), ...TEI_ENVIRONMENT, ...props.environment },
        ...(props.modelData ? { modelDataUrl: props.modelData.bucket.s3UrlForObject(props.modelData.key) } : {}),
      },
      // Serverless Inference supports neither VPC configuration nor network isolation ("Feature exclusions",
      // https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints.html): with modelData the
      // container loads the pinned files from S3 and runs offline, but SageMaker's network stays open to it.
      enableNetworkIsolation: false,
    });
    this.model.node.addDependency(this.role);

    this.endpointConfig = new sagemaker.CfnEndpointConfig(this, 'Config', {
      productionVariants: [{
        variantName: this.variantName,
        modelName: this.model.attrModelName,
        serverlessConfig: { memorySizeInMb: memory, maxConcurrency: concurrency, ...(provisioned > 0 ? { provisionedConcurrency: provisioned } : {}) },
      }],
    });
    acknowledge(this.endpointConfig, [
      'HIPAA.Security::HIPAA.Security-SageMakerEndpointConfigurationKMSKeyConfigured',
      'NIST.800.53.R5::NIST.800.53.R5-SageMakerEndpointConfigurationKMSKeyConfigured',
      'PCI.DSS.321::PCI.DSS.321-SageMakerEndpointConfigurationKMSKeyConfigured',
    ], 'KmsKeyId encrypts the ML storage volume attached to an endpoint\'s instances; a serverless variant has no instance or volume of this account: SageMaker runs ' +
      'the container on its own compute. The container stores only the public model it downloads; questions pass through memory and are not captured (serverless has no data capture).');
    this.endpoint = new sagemaker.CfnEndpoint(this, 'Endpoint', { endpointName: props.endpointName, endpointConfigName: this.endpointConfig.attrEndpointConfigName });

    const metric = (name: string, statistic: string) => this.metricInvocationMetric(name, { statistic, period: Duration.minutes(1) });
    const latency = props.latencyP95Threshold ?? Duration.seconds(2);
    this.addAlarm('ModelLatencyP95', metric('ModelLatency', 'p95'), latency.toMilliseconds() * 1000, 5, `Model latency p95 above ${latency.toHumanString()} (ModelLatency is in microseconds).`);
    this.addAlarm('Errors5xx', metric('Invocation5XXErrors', 'Sum'), 5, 5, 'The model container answers with 5xx errors.');
    // ModelSetupTime: a serverless endpoint's cold start (container start and model load), in microseconds.
    this.addAlarm('ColdStartSlow', metric('ModelSetupTime', 'Maximum'), 60_000_000, 1, 'A cold start took over 60 s: questions after idle time out (the query function waits 8 s); check the model download, or set provisioned concurrency.');
    for (const a of this.alarms) if (props.alarmTopic) a.addAlarmAction(new cwActions.SnsAction(props.alarmTopic));
  }

  private addAlarm(id: string, metric: cloudwatch.Metric, threshold: number, minutes: number, description: string): void {
    this.alarms.push(new cloudwatch.Alarm(this, id, {
      alarmDescription: `${this.endpointName}: ${description}`,
      metric, threshold, evaluationPeriods: minutes, datapointsToAlarm: minutes,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    }));
  }
}
