import { Duration, Stack } from 'aws-cdk-lib';
import * as appscaling from 'aws-cdk-lib/aws-applicationautoscaling';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sagemaker from 'aws-cdk-lib/aws-sagemaker';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { acknowledge, grantKey, grantObjects } from '../common';
import { SAGEMAKER_INSTANCE_TYPES } from '../config/instance-catalog';
import { endpointExecutionRole, TEI_ENVIRONMENT } from './execution-role';
import { InferenceFramework, PUBLISHED_IMAGES, resolveImage } from './images';
import { ModelArtifacts } from './model-artifacts';

/** How the endpoint scales. */
export abstract class EndpointScaling {
  /**
   * Costs nothing idle: the model runs as an inference component on an endpoint whose variant uses
   * managed instance scaling down to 0 instances. The first request after idle fails (no capacity)
   * and triggers scale-out from zero, which takes about 5 minutes: callers retry with backoff.
   */
  public static toZero(opts: { maxInstances: number; scaleInCooldown?: Duration; invocationsPerCopy?: number }): EndpointScaling {
    return new (class extends EndpointScaling {})('scale-to-zero', 0, opts.maxInstances, opts.scaleInCooldown ?? Duration.minutes(15), opts.invocationsPerCopy ?? 20);
  }

  /** At least `minInstances` instances (2+ for availability), target tracking on invocations per instance. */
  public static alwaysOn(opts: { minInstances: number; maxInstances: number; scaleInCooldown?: Duration; invocationsPerInstance?: number; gpuUtilizationTarget?: number }): EndpointScaling {
    if (opts.minInstances < 1) throw new Error(`EndpointScaling.alwaysOn: minInstances must be at least 1, received ${opts.minInstances}`);
    return new (class extends EndpointScaling {})('always-on', opts.minInstances, opts.maxInstances, opts.scaleInCooldown ?? Duration.minutes(10), opts.invocationsPerInstance ?? 200, opts.gpuUtilizationTarget);
  }

  protected constructor(
    public readonly mode: 'scale-to-zero' | 'always-on',
    public readonly minInstances: number,
    public readonly maxInstances: number,
    public readonly scaleInCooldown: Duration,
    public readonly targetInvocations: number,
    public readonly gpuUtilizationTarget?: number,
  ) {
    if (maxInstances < Math.max(1, minInstances)) throw new Error(`EndpointScaling: maxInstances (${maxInstances}) must be at least max(1, minInstances = ${minInstances})`);
  }
}

export interface DataCaptureOptions {
  readonly bucket: s3.IBucket;
  /**
   * The bucket name as a synth-time string (pseudo parameters at most, no cross-stack reference), so
   * the policy names the bucket readably and the IAM5 acknowledgement matches it exactly.
   * @default bucket.bucketName
   */
  readonly bucketName?: string;
  /** @default 'capture/<endpoint name>' */
  readonly prefix?: string;
  /** Percentage of requests captured. */
  readonly samplingPercentage: number;
  /** Encrypts captured data. */
  readonly encryptionKey: kms.IKey;
}

export interface GpuInferenceEndpointProps {
  /** Endpoint name; callers invoke it by name. */
  readonly endpointName: string;
  readonly framework: InferenceFramework;
  /** SageMaker instance type, e.g. `ml.g5.xlarge`; must be in the instance catalog. */
  readonly instanceType: string;
  /** Hugging Face model id (`HF_MODEL_ID`). */
  readonly modelId: string;
  /** Extra container environment. @default - none */
  readonly environment?: Record<string, string>;
  /**
   * Model artifacts in S3 (a model.tar.gz, e.g. `ModelArtifacts.staged`) instead of a download from the
   * Hub at start: the container then loads /opt/ml/model and runs with network isolation.
   * @default - the container downloads `modelId` from the Hugging Face Hub at start (network access)
   */
  readonly modelData?: { bucket: s3.IBucket; key: string };
  readonly scaling: EndpointScaling;
  /** @default - no data capture */
  readonly dataCapture?: DataCaptureOptions;
  /** Key for the instance storage volume (refused by NVMe instance types, see docs). @default - a new customer-managed key where supported */
  readonly volumeKey?: kms.IKey;
  /** Run the model containers in these subnets. @default - SageMaker-managed network */
  readonly vpc?: { vpc: ec2.IVpc; subnets: ec2.SubnetSelection; securityGroups: ec2.ISecurityGroup[] };
  /** @default - alarms without actions */
  readonly alarmTopic?: sns.ITopic;
  /** Model latency p95 alarm threshold. @default Duration.seconds(2) */
  readonly latencyP95Threshold?: Duration;
  /** Accelerators the model needs (inference components). @default 1 */
  readonly acceleratorsPerCopy?: number;
}

/**
 * A SageMaker real-time endpoint for a GPU container (TEI embeddings or LMI generation): model,
 * endpoint config, endpoint, autoscaling, optional data capture, alarms, and a least-privilege
 * execution role (no AmazonSageMakerFullAccess).
 *
 * Volume encryption: instance types with only NVMe instance storage (g5, g6, g6e) reject a KMS key in
 * the endpoint config, because there is no EBS volume; their instance storage is encrypted by the
 * hardware (AES-256) with keys that never leave the instance. No key is set for them; other types
 * get a customer-managed key.
 */
export class GpuInferenceEndpoint extends Construct {
  public readonly endpoint: sagemaker.CfnEndpoint;
  public readonly endpointConfig: sagemaker.CfnEndpointConfig;
  public readonly model: sagemaker.CfnModel;
  public readonly role: iam.Role;
  public readonly endpointName: string;
  /** Calls must name the inference component. */
  public readonly inferenceComponentName: string;
  public readonly alarms: cloudwatch.Alarm[] = [];
  public readonly variantName = 'AllTraffic';

  constructor(scope: Construct, id: string, props: GpuInferenceEndpointProps) {
    super(scope, id);
    const type = SAGEMAKER_INSTANCE_TYPES[props.instanceType];
    if (!type) throw new Error(`GpuInferenceEndpoint: instanceType "${props.instanceType}" is not in the instance catalog; valid choices: ${Object.keys(SAGEMAKER_INSTANCE_TYPES).join(', ')}`);
    if (PUBLISHED_IMAGES[props.framework].gpu && type.gpus === 0) {
      const gpu = Object.values(SAGEMAKER_INSTANCE_TYPES).filter((t) => t.gpus > 0).map((t) => t.name);
      throw new Error(`GpuInferenceEndpoint: instanceType "${props.instanceType}" has no GPU, but the ${props.framework} container needs one; valid choices: ${gpu.join(', ')}`);
    }
    if (props.dataCapture && (props.dataCapture.samplingPercentage < 1 || props.dataCapture.samplingPercentage > 100)) {
      throw new Error(`GpuInferenceEndpoint: dataCapture.samplingPercentage must be from 1 to 100, received ${props.dataCapture.samplingPercentage}`);
    }
    this.endpointName = props.endpointName;
    const image = resolveImage(this, props.framework);

    // Execution role: pull this one image, write its own logs and metrics, read its model data.
    this.role = endpointExecutionRole(this, props.endpointName, image, {
      wildcard: 'Resource "*" only where the action has no resource-level permissions: ecr:GetAuthorizationToken (registry login), cloudwatch:PutMetricData ' +
        '(limited by a namespace condition to SageMaker namespaces) and, with VPC placement, the EC2 network-interface actions SageMaker documents. Image pulls name the one repository.',
      logGroups: 'The endpoint writes to log groups /aws/sagemaker/Endpoints/<this endpoint name>*, whose streams SageMaker names per instance at run time.',
    });
    if (props.modelData) for (const st of ModelArtifacts.readStatements(props.modelData)) this.role.addToPolicy(st);
    if (props.vpc) {
      this.role.addToPolicy(new iam.PolicyStatement({
        actions: ['ec2:CreateNetworkInterface', 'ec2:CreateNetworkInterfacePermission', 'ec2:DeleteNetworkInterface', 'ec2:DeleteNetworkInterfacePermission', 'ec2:DescribeNetworkInterfaces', 'ec2:DescribeVpcs', 'ec2:DescribeDhcpOptions', 'ec2:DescribeSubnets', 'ec2:DescribeSecurityGroups'],
        resources: ['*'],
      }));
    }

    const environment = {
      // From S3: SageMaker unpacks the archive into /opt/ml/model; the Hub is never asked (offline).
      ...(props.modelData ? { HF_MODEL_ID: '/opt/ml/model', HF_HUB_OFFLINE: '1' } : { HF_MODEL_ID: props.modelId }),
      ...(props.framework === InferenceFramework.TEXT_EMBEDDINGS_INFERENCE ? TEI_ENVIRONMENT : { OPTION_ROLLING_BATCH: 'vllm', TENSOR_PARALLEL_DEGREE: 'max' }),
      ...props.environment,
    };
    this.model = new sagemaker.CfnModel(this, 'Model', {
      executionRoleArn: this.role.roleArn,
      primaryContainer: {
        image: image.imageUri,
        environment,
        ...(props.modelData ? { modelDataUrl: props.modelData.bucket.s3UrlForObject(props.modelData.key) } : {}),
      },
      vpcConfig: props.vpc ? { subnets: props.vpc.vpc.selectSubnets(props.vpc.subnets).subnetIds, securityGroupIds: props.vpc.securityGroups.map((s) => s.securityGroupId) } : undefined,
      // No inbound or outbound network for the container when the model comes from S3 (the model sees
      // every tier's text); without modelData TEI/LMI must download it from the Hub.
      enableNetworkIsolation: props.modelData !== undefined,
    });
    this.model.node.addDependency(this.role);

    const volumeKey = type.nvmeInstanceStorage ? undefined : props.volumeKey ?? new kms.Key(this, 'VolumeKey', { enableKeyRotation: true, description: `Encrypts the storage volume of ${props.endpointName}` });
    const toZero = props.scaling.mode === 'scale-to-zero';
    const capture = props.dataCapture
      ? {
          enableCapture: true,
          initialSamplingPercentage: props.dataCapture.samplingPercentage,
          destinationS3Uri: `s3://${props.dataCapture.bucketName ?? props.dataCapture.bucket.bucketName}/${props.dataCapture.prefix ?? `capture/${props.endpointName}`}`,
          kmsKeyId: props.dataCapture.encryptionKey.keyArn,
          captureOptions: [{ captureMode: 'Input' }, { captureMode: 'Output' }],
          captureContentTypeHeader: { jsonContentTypes: ['application/json'] },
        }
      : undefined;
    if (props.dataCapture) {
      grantObjects(this.role, {
        bucketName: props.dataCapture.bucketName ?? props.dataCapture.bucket.bucketName,
        keyPattern: `${props.dataCapture.prefix ?? `capture/${props.endpointName}`}/*`,
        actions: ['s3:PutObject'],
        why: 'SageMaker names capture files by date and request id under this prefix.',
      });
      grantKey(this.role, props.dataCapture.encryptionKey, ['kms:GenerateDataKey', 'kms:Encrypt']);
    }

    // One shape in every mode: the model runs as an inference component on a variant with managed
    // instance scaling. Scale-to-zero and always-on differ only in numbers (minimum copies and
    // instances), so a stage moves from one to the other with an in-place endpoint update; SageMaker
    // cannot move a live endpoint between models in variants and inference components
    // (https://docs.aws.amazon.com/sagemaker/latest/dg/inference-component-deploy.html).
    this.endpointConfig = new sagemaker.CfnEndpointConfig(this, 'Config', {
      kmsKeyId: volumeKey?.keyArn,
      dataCaptureConfig: capture,
      executionRoleArn: this.role.roleArn,
      productionVariants: [{
        variantName: this.variantName,
        instanceType: props.instanceType,
        initialInstanceCount: Math.max(1, props.scaling.minInstances),
        managedInstanceScaling: { status: 'ENABLED', minInstanceCount: props.scaling.minInstances, maxInstanceCount: props.scaling.maxInstances },
        routingConfig: { routingStrategy: 'LEAST_OUTSTANDING_REQUESTS' },
      }],
    });
    if (type.nvmeInstanceStorage) {
      acknowledge(this.endpointConfig, [
        'HIPAA.Security::HIPAA.Security-SageMakerEndpointConfigurationKMSKeyConfigured',
        'NIST.800.53.R5::NIST.800.53.R5-SageMakerEndpointConfigurationKMSKeyConfigured',
        'PCI.DSS.321::PCI.DSS.321-SageMakerEndpointConfigurationKMSKeyConfigured',
        'AwsSolutions::AwsSolutions-SM4',
      ], `${props.instanceType} has only NVMe instance storage: SageMaker rejects a KmsKeyId for it (there is no EBS volume to encrypt); the instance store is ` +
        'encrypted by the hardware with AES-256 and its keys are destroyed with the instance. Captured data, if any, is encrypted with a customer key.');
    }
    this.endpoint = new sagemaker.CfnEndpoint(this, 'Endpoint', { endpointName: props.endpointName, endpointConfigName: this.endpointConfig.attrEndpointConfigName });

    const actions = props.alarmTopic ? [new cwActions.SnsAction(props.alarmTopic)] : [];
    const dims: Record<string, string> = { EndpointName: props.endpointName, VariantName: this.variantName };
    const metric = (name: string, statistic: string, namespace = 'AWS/SageMaker', d: Record<string, string> = dims) =>
      new cloudwatch.Metric({ namespace, metricName: name, dimensionsMap: d, statistic, period: Duration.minutes(1) });

    this.inferenceComponentName = `${props.endpointName}-ic`;
    const ic = new sagemaker.CfnInferenceComponent(this, 'Component', {
      inferenceComponentName: this.inferenceComponentName,
      endpointName: props.endpointName,
      variantName: this.variantName,
      specification: {
        modelName: this.model.attrModelName,
        computeResourceRequirements: { numberOfAcceleratorDevicesRequired: props.acceleratorsPerCopy ?? 1, minMemoryRequiredInMb: 4096 },
      },
      runtimeConfig: { copyCount: Math.max(1, props.scaling.minInstances) },
    });
    ic.addResourceDependency(this.endpoint);
    // Copies scale on invocations per copy; managed instance scaling adds and removes the instances
    // the copies need (one accelerator each), down to the variant's minimum.
    const target = new appscaling.ScalableTarget(this, 'CopyScaling', {
      serviceNamespace: appscaling.ServiceNamespace.SAGEMAKER,
      resourceId: `inference-component/${this.inferenceComponentName}`,
      scalableDimension: 'sagemaker:inference-component:DesiredCopyCount',
      minCapacity: props.scaling.minInstances,
      maxCapacity: props.scaling.maxInstances,
    });
    target.node.addDependency(ic);
    target.scaleToTrackMetric('InvocationsPerCopy', {
      targetValue: props.scaling.targetInvocations,
      predefinedMetric: appscaling.PredefinedMetric.SAGEMAKER_INFERENCE_COMPONENT_INVOCATIONS_PER_COPY,
      scaleInCooldown: props.scaling.scaleInCooldown,
      scaleOutCooldown: Duration.minutes(toZero ? 1 : 2),
    });
    if (props.scaling.gpuUtilizationTarget) {
      target.scaleToTrackMetric('GpuUtilization', {
        targetValue: props.scaling.gpuUtilizationTarget,
        customMetric: metric('GPUUtilization', 'Average', '/aws/sagemaker/Endpoints'),
        scaleInCooldown: props.scaling.scaleInCooldown,
        scaleOutCooldown: Duration.minutes(2),
      });
    }
    if (toZero) {
      // Scale out from zero: requests that find no copy raise NoCapacityInvocationFailures.
      const noCapacity = metric('NoCapacityInvocationFailures', 'Maximum', 'AWS/SageMaker', { InferenceComponentName: this.inferenceComponentName });
      target.scaleOnMetric('ScaleOutFromZero', {
        metric: noCapacity,
        scalingSteps: [{ upper: 0, change: 0 }, { lower: 1, change: 1 }],
        adjustmentType: appscaling.AdjustmentType.CHANGE_IN_CAPACITY,
        cooldown: Duration.minutes(1),
        evaluationPeriods: 1,
        metricAggregationType: appscaling.MetricAggregationType.MAXIMUM,
      });
      // Only a person's problem when it lasts well beyond a cold start (~5 minutes).
      this.addAlarm('NoCapacitySustained', noCapacity, 1, 15, 'Requests keep failing for lack of capacity beyond the expected cold start: check the GPU quota, the scale-out policy and the inference component.');
    }

    const latency = props.latencyP95Threshold ?? Duration.seconds(2);
    // Invocation metrics of an endpoint that hosts inference components are published per
    // InferenceComponentName, not per EndpointName + VariantName (the SageMaker metrics page lists
    // it as its own dimension set): https://docs.aws.amazon.com/sagemaker/latest/dg/monitoring-cloudwatch.html
    const icDims = { InferenceComponentName: this.inferenceComponentName };
    this.addAlarm('ModelLatencyP95', metric('ModelLatency', 'p95', 'AWS/SageMaker', icDims), latency.toMilliseconds() * 1000, 5, `Model latency p95 above ${latency.toHumanString()} (ModelLatency is in microseconds).`);
    this.addAlarm('Errors5xx', metric('Invocation5XXErrors', 'Sum', 'AWS/SageMaker', icDims), 5, 5, 'The model container answers with 5xx errors.');
    this.addAlarm('Errors4xx', metric('Invocation4XXErrors', 'Sum', 'AWS/SageMaker', icDims), 20, 5, 'Many requests are rejected (4xx): a client sends malformed or oversized input.');
    this.addAlarm('GpuMemoryHigh', metric('GPUMemoryUtilization', 'Average', '/aws/sagemaker/Endpoints'), 90, 10, 'GPU memory above 90%: batches may fail; scale out or lower the batch size.');
    this.addAlarm('GpuUtilizationHigh', metric('GPUUtilization', 'Average', '/aws/sagemaker/Endpoints'), 90, 15, 'GPU utilization above 90% for 15 minutes: latency will climb; raise maxInstances.');
    for (const a of this.alarms) for (const act of actions) a.addAlarmAction(act);
  }

  /** Lets `grantee` call the endpoint (and its inference component). */
  public grantInvoke(grantee: iam.IGrantable): iam.Grant {
    const stack = Stack.of(this);
    const resources = [stack.formatArn({ service: 'sagemaker', resource: 'endpoint', resourceName: this.endpointName.toLowerCase() })];
    resources.push(stack.formatArn({ service: 'sagemaker', resource: 'inference-component', resourceName: this.inferenceComponentName.toLowerCase() }));
    return iam.Grant.addToPrincipal({ grantee, actions: ['sagemaker:InvokeEndpoint'], resourceArns: resources });
  }

  private addAlarm(id: string, metric: cloudwatch.Metric, threshold: number, minutes: number, description: string): void {
    this.alarms.push(new cloudwatch.Alarm(this, id, {
      alarmDescription: `${this.endpointName}: ${description}`,
      metric,
      threshold,
      evaluationPeriods: minutes,
      datapointsToAlarm: minutes,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    }));
  }
}
