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
import { Construct, IConstruct } from 'constructs';
import { acknowledge, grantKey, grantObjects } from '../common';
import { DocaiMetricFactory } from '../common/metric-factory';
import { SAGEMAKER_INSTANCE_TYPES } from '../config/instance-catalog';
import { endpointExecutionRole, TEI_ENVIRONMENT } from './execution-role';
import { InferenceFramework, PUBLISHED_IMAGES, resolveImage } from './images';
import { ModelArtifacts } from './model-artifacts';

/** Whether an endpoint may scale to no instance at all. */
export enum ScalingMode {
  SCALE_TO_ZERO = 'scale-to-zero',
  ALWAYS_ON = 'always-on',
}

/** EndpointScaling.toZero. */
export interface ScaleToZeroOptions {
  readonly maxInstances: number;
  /** @default Duration.minutes(15) */
  readonly scaleInCooldown?: Duration;
  /** Target of the copy count's tracking policy. @default 20 */
  readonly invocationsPerCopy?: number;
}

/** EndpointScaling.alwaysOn. */
export interface AlwaysOnScalingOptions {
  /** At least 1 (2+ for availability). */
  readonly minInstances: number;
  readonly maxInstances: number;
  /** @default Duration.minutes(10) */
  readonly scaleInCooldown?: Duration;
  /** Target of the copy count's tracking policy. @default 200 */
  readonly invocationsPerInstance?: number;
  /** GPU utilization the copies also track, percent. @default - none (invocations only) */
  readonly gpuUtilizationTarget?: number;
}

/**
 * GpuInferenceEndpointProps.embeddingWindow: a scale-to-zero endpoint that is meant to run only after
 * the start of each window (windows start every `every` from midnight UTC).
 */
export interface EmbeddingWindowOptions {
  /** Must divide a day. */
  readonly every: Duration;
  /**
   * How long after a window's start the GPU may still run: cold start plus the scale-in tail. Past
   * that, an instance that still reports raises the GpuOutsideWindow alarm.
   */
  readonly allowance: Duration;
}

/**
 * Minutes a copy takes to serve after the first request finds none: the NoCapacityInvocationFailures
 * alarm (1-minute period), then an instance and the model ("several minutes":
 * https://docs.aws.amazon.com/sagemaker/latest/dg/endpoint-auto-scaling-zero-instances.html). The cost
 * estimate assumes the same 6 (DEFAULT_ASSUMPTIONS.coldStartMinutes).
 */
export const COLD_START_MINUTES = 6;
/**
 * Minutes without traffic before target tracking removes the last copy (its scale-in alarm; the cost
 * estimate's scaleInDetectMinutes), before the scale-in cooldown and the instance's release.
 */
export const SCALE_IN_DETECT_MINUTES = 15;

/** How the endpoint scales. */
export abstract class EndpointScaling {
  /**
   * Costs nothing idle: the model runs as an inference component on an endpoint whose variant uses
   * managed instance scaling down to 0 instances. The first request after idle fails (no capacity)
   * and triggers scale-out from zero, which takes about 5 minutes: callers retry with backoff.
   */
  public static toZero(opts: ScaleToZeroOptions): EndpointScaling {
    return new (class extends EndpointScaling {})(ScalingMode.SCALE_TO_ZERO, 0, opts.maxInstances, opts.scaleInCooldown ?? Duration.minutes(15), opts.invocationsPerCopy ?? 20);
  }

  /** At least `minInstances` instances (2+ for availability), target tracking on invocations per instance. */
  public static alwaysOn(opts: AlwaysOnScalingOptions): EndpointScaling {
    if (opts.minInstances < 1) throw new Error(`EndpointScaling.alwaysOn: minInstances must be at least 1, received ${opts.minInstances}`);
    return new (class extends EndpointScaling {})(ScalingMode.ALWAYS_ON, opts.minInstances, opts.maxInstances, opts.scaleInCooldown ?? Duration.minutes(10), opts.invocationsPerInstance ?? 200, opts.gpuUtilizationTarget);
  }

  protected constructor(
    public readonly mode: ScalingMode,
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

/** Model artifacts in S3. */
export interface ModelDataLocation {
  readonly bucket: s3.IBucket;
  /** The object key of the artifact (model.tar.gz). */
  readonly key: string;
}

/** Where the model containers run in a VPC. */
export interface EndpointVpcPlacement {
  readonly vpc: ec2.IVpc;
  readonly subnets: ec2.SubnetSelection;
  readonly securityGroups: ec2.ISecurityGroup[];
}

/**
 * A SageMaker endpoint a caller invokes and a dashboard watches: its names, the grant to call it,
 * and its invocation metrics (per InferenceComponentName when it hosts one, else per EndpointName
 * and VariantName, as SageMaker publishes them:
 * https://docs.aws.amazon.com/sagemaker/latest/dg/monitoring-cloudwatch.html).
 */
export interface IInferenceEndpoint extends IConstruct {
  readonly endpointName: string;
  readonly variantName: string;
  /** Calls must name it when there is one. */
  readonly inferenceComponentName?: string;
  /** sagemaker:InvokeEndpoint on the endpoint (and its inference component). */
  grantInvoke(grantee: iam.IGrantable): iam.Grant;
  /** An AWS/SageMaker invocation metric of this endpoint. */
  metricInvocationMetric(metricName: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  /** Sum. */
  metricInvocations(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  /** Sum. */
  metricInvocation4xxErrors(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  /** Sum. */
  metricInvocation5xxErrors(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  /** Microseconds (Average unless told). */
  metricModelLatency(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
}

/** A GPU endpoint: instance metrics and, with an inference component, capacity failures. */
export interface IGpuInferenceEndpoint extends IInferenceEndpoint {
  /** An instance metric (namespace /aws/sagemaker/Endpoints, EndpointName and VariantName). */
  metricInstanceMetric(metricName: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  /** Percent (Average). */
  metricGpuUtilization(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  /** Percent (Average). */
  metricGpuMemoryUtilization(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  /** Percent (Average; SampleCount counts the instances reporting). */
  metricCpuUtilization(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  /** Requests that found no copy of the model (scale-out from zero; Sum). Only with an inference component. */
  metricNoCapacityInvocationFailures(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
}

/** An endpoint deployed elsewhere. */
export interface InferenceEndpointAttributes {
  readonly endpointName: string;
  /** @default 'AllTraffic' */
  readonly variantName?: string;
  /** @default - the endpoint hosts no inference component */
  readonly inferenceComponentName?: string;
}

/** Names, grant and invocation metrics shared by this module's endpoints and imported ones. */
export abstract class InferenceEndpointBase extends Construct implements IInferenceEndpoint {
  public abstract readonly endpointName: string;
  public abstract readonly variantName: string;
  public abstract readonly inferenceComponentName?: string;

  public grantInvoke(grantee: iam.IGrantable): iam.Grant {
    const stack = Stack.of(this);
    const resources = [stack.formatArn({ service: 'sagemaker', resource: 'endpoint', resourceName: this.endpointName.toLowerCase() })];
    if (this.inferenceComponentName) resources.push(stack.formatArn({ service: 'sagemaker', resource: 'inference-component', resourceName: this.inferenceComponentName.toLowerCase() }));
    return iam.Grant.addToPrincipal({ grantee, actions: ['sagemaker:InvokeEndpoint'], resourceArns: resources });
  }

  public metricInvocationMetric(metricName: string, props: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    const dims: Record<string, string> = this.inferenceComponentName ? { InferenceComponentName: this.inferenceComponentName } : { EndpointName: this.endpointName, VariantName: this.variantName };
    return DocaiMetricFactory.of(this).awsMetric('AWS/SageMaker', metricName, dims, props);
  }

  public metricInvocations(props: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return this.metricInvocationMetric('Invocations', { statistic: 'Sum', ...props });
  }

  public metricInvocation4xxErrors(props: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return this.metricInvocationMetric('Invocation4XXErrors', { statistic: 'Sum', ...props });
  }

  public metricInvocation5xxErrors(props: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return this.metricInvocationMetric('Invocation5XXErrors', { statistic: 'Sum', ...props });
  }

  public metricModelLatency(props: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return this.metricInvocationMetric('ModelLatency', props);
  }

}

/** The instance metrics of an endpoint on GPU instances. */
export abstract class GpuInferenceEndpointBase extends InferenceEndpointBase implements IGpuInferenceEndpoint {
  public metricInstanceMetric(metricName: string, props: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return DocaiMetricFactory.of(this).awsMetric('/aws/sagemaker/Endpoints', metricName, { EndpointName: this.endpointName, VariantName: this.variantName }, props);
  }

  public metricGpuUtilization(props: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return this.metricInstanceMetric('GPUUtilization', { statistic: 'Average', ...props });
  }

  public metricGpuMemoryUtilization(props: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return this.metricInstanceMetric('GPUMemoryUtilization', { statistic: 'Average', ...props });
  }

  public metricCpuUtilization(props: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return this.metricInstanceMetric('CPUUtilization', { statistic: 'Average', ...props });
  }

  public metricNoCapacityInvocationFailures(props: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    if (!this.inferenceComponentName) throw new Error(`${this.endpointName}: NoCapacityInvocationFailures is published per inference component, and this endpoint has none`);
    return this.metricInvocationMetric('NoCapacityInvocationFailures', { statistic: 'Sum', ...props });
  }
}

class ImportedInferenceEndpoint extends GpuInferenceEndpointBase {
  public readonly endpointName: string;
  public readonly variantName: string;
  public readonly inferenceComponentName?: string;

  constructor(scope: Construct, id: string, attrs: InferenceEndpointAttributes) {
    super(scope, id);
    this.endpointName = attrs.endpointName;
    this.variantName = attrs.variantName ?? 'AllTraffic';
    this.inferenceComponentName = attrs.inferenceComponentName;
  }
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
  readonly modelData?: ModelDataLocation;
  readonly scaling: EndpointScaling;
  /** @default - no data capture */
  readonly dataCapture?: DataCaptureOptions;
  /** Key for the instance storage volume (refused by NVMe instance types, see docs). @default - a new customer-managed key where supported */
  readonly volumeKey?: kms.IKey;
  /** Run the model containers in these subnets. @default - SageMaker-managed network */
  readonly vpc?: EndpointVpcPlacement;
  /** @default - alarms without actions */
  readonly alarmTopic?: sns.ITopic;
  /** Model latency p95 alarm threshold. @default Duration.seconds(2) */
  readonly latencyP95Threshold?: Duration;
  /** Accelerators the model needs (inference components). @default 1 */
  readonly acceleratorsPerCopy?: number;
  /**
   * Scale-to-zero only: the GPU should run only in the allowance after each window's start; an alarm
   * fires when it runs longer. @default - no window, no such alarm
   */
  readonly embeddingWindow?: EmbeddingWindowOptions;
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
export class GpuInferenceEndpoint extends GpuInferenceEndpointBase {
  /** An endpoint deployed elsewhere, for its grant and metrics. */
  public static fromInferenceEndpointAttributes(scope: Construct, id: string, attrs: InferenceEndpointAttributes): IGpuInferenceEndpoint {
    return new ImportedInferenceEndpoint(scope, id, attrs);
  }

  public readonly endpoint: sagemaker.CfnEndpoint;
  public readonly endpointConfig: sagemaker.CfnEndpointConfig;
  public readonly model: sagemaker.CfnModel;
  public readonly role: iam.Role;
  public readonly endpointName: string;
  /** Calls must name the inference component. */
  /** Always set on this endpoint (the model runs as an inference component); optional only as the interface declares it. */
  public readonly inferenceComponentName?: string;
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
    const toZero = props.scaling.mode === ScalingMode.SCALE_TO_ZERO;
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
    // Alarms and scaling look at one-minute periods.
    const minute = { period: Duration.minutes(1) };

    const componentName = `${props.endpointName}-ic`;
    this.inferenceComponentName = componentName;
    const ic = new sagemaker.CfnInferenceComponent(this, 'Component', {
      inferenceComponentName: componentName,
      endpointName: props.endpointName,
      variantName: this.variantName,
      specification: {
        modelName: this.model.attrModelName,
        computeResourceRequirements: { numberOfAcceleratorDevicesRequired: props.acceleratorsPerCopy ?? 1, minMemoryRequiredInMb: 4096 },
      },
      // Scale to zero starts at zero copies. Scale-in from one copy would need target tracking to see
      // low invocations per copy, and AWS does not say SageMaker publishes that metric for a copy that
      // is never invoked, while a target tracking policy "does not perform scale in" on insufficient
      // data (https://docs.aws.amazon.com/autoscaling/application/userguide/target-tracking-scaling-policy-overview.html,
      // Considerations): a pilot deployed and never used could keep its GPU. With no copy, managed
      // instance scaling (MinInstanceCount 0) has no copy to place and releases the instance the
      // endpoint starts with (InitialInstanceCount must be at least 1). AWS defines that release as the
      // IDLE_RELEASE strategy, "releases instances that have no hosted inference component copies"
      // (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ProductionVariantManagedInstanceScalingScaleInPolicy.html),
      // but not which strategy applies when ScaleInPolicy is unset, nor how soon: the pinned cfn-lint
      // does not know ScaleInPolicy yet, so GpuOutsideWindow is what watches it.
      // CopyCount may be 0 (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-sagemaker-inferencecomponent-inferencecomponentruntimeconfig.html);
      // the first request then fails with NoCapacityInvocationFailures and the step policy below adds a
      // copy, as after any scale-in. A redeploy also resets the copies to this number: 0, not a GPU.
      runtimeConfig: { copyCount: props.scaling.minInstances },
    });
    ic.addResourceDependency(this.endpoint);
    // Copies scale on invocations per copy; managed instance scaling adds and removes the instances
    // the copies need (one accelerator each), down to the variant's minimum.
    const target = new appscaling.ScalableTarget(this, 'CopyScaling', {
      serviceNamespace: appscaling.ServiceNamespace.SAGEMAKER,
      resourceId: `inference-component/${componentName}`,
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
        customMetric: this.metricGpuUtilization(minute),
        scaleInCooldown: props.scaling.scaleInCooldown,
        scaleOutCooldown: Duration.minutes(2),
      });
    }
    if (toZero) {
      // Scale out from zero: requests that find no copy raise NoCapacityInvocationFailures.
      const noCapacity = this.metricNoCapacityInvocationFailures({ statistic: 'Maximum', ...minute });
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

    if (props.embeddingWindow) this.addWindowAlarm(props.embeddingWindow, toZero);

    const latency = props.latencyP95Threshold ?? Duration.seconds(2);
    // Invocation metrics of an endpoint that hosts inference components are published per
    // InferenceComponentName, not per EndpointName + VariantName (the SageMaker metrics page lists
    // it as its own dimension set): https://docs.aws.amazon.com/sagemaker/latest/dg/monitoring-cloudwatch.html
    this.addAlarm('ModelLatencyP95', this.metricModelLatency({ statistic: 'p95', ...minute }), latency.toMilliseconds() * 1000, 5, `Model latency p95 above ${latency.toHumanString()} (ModelLatency is in microseconds).`);
    this.addAlarm('Errors5xx', this.metricInvocation5xxErrors(minute), 5, 5, 'The model container answers with 5xx errors.');
    this.addAlarm('Errors4xx', this.metricInvocation4xxErrors(minute), 20, 5, 'Many requests are rejected (4xx): a client sends malformed or oversized input.');
    this.addAlarm('GpuMemoryHigh', this.metricGpuMemoryUtilization(minute), 90, 10, 'GPU memory above 90%: batches may fail; scale out or lower the batch size.');
    this.addAlarm('GpuUtilizationHigh', this.metricGpuUtilization(minute), 90, 15, 'GPU utilization above 90% for 15 minutes: latency will climb; raise maxInstances.');
    for (const a of this.alarms) for (const act of actions) a.addAlarmAction(act);
  }

  /**
   * GpuOutsideWindow: an instance still reports later in the window than the allowance. Instances are
   * counted by the SampleCount of CPUUtilization, which each instance of the variant publishes every
   * minute while it runs (https://docs.aws.amazon.com/sagemaker/latest/dg/monitoring-cloudwatch.html);
   * with no instance there is no data (not breaching). HOUR and MINUTE give each datapoint's UTC time
   * (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/using-metric-math.html), so the
   * expression is the minute of the window while an instance runs, and the threshold the allowance.
   */
  private addWindowAlarm(w: EmbeddingWindowOptions, toZero: boolean): void {
    const every = w.every.toMinutes();
    const allowance = w.allowance.toMinutes();
    if (!toZero) throw new Error(`${this.endpointName}: embeddingWindow needs EndpointScaling.toZero (an always-on endpoint runs in every minute)`);
    if (every < 1 || 1440 % every !== 0) throw new Error(`${this.endpointName}: embeddingWindow.every must divide a day (1440 minutes), received ${every} minutes`);
    if (allowance < 1 || allowance >= every) throw new Error(`${this.endpointName}: embeddingWindow.allowance must be from 1 minute to less than the window (${every} minutes), received ${allowance} minutes`);
    const minuteOfDay = '(HOUR(instances) * 60 + MINUTE(instances))';
    const minuteOfWindow = new cloudwatch.MathExpression({
      expression: `IF(instances > 0, ${minuteOfDay} - ${every} * FLOOR(${minuteOfDay} / ${every}), 0)`,
      usingMetrics: { instances: this.metricCpuUtilization({ statistic: 'SampleCount', period: Duration.minutes(1) }) },
      period: Duration.minutes(1),
      label: 'Minute of the embedding window while an instance runs',
    });
    this.alarms.push(new cloudwatch.Alarm(this, 'GpuOutsideWindow', {
      alarmDescription: `${this.endpointName}: the GPU runs more than ${allowance} minutes (cold start + scale-in tail) after the start of its ${every}-minute embedding window: ` +
        'scale-in failed or a window has far more work than expected; every hour costs the instance price (check the copy count and the scaling activities).',
      metric: minuteOfWindow,
      threshold: allowance,
      // Five minutes in a row: an instance released a minute or two late, or one that starts with a deploy, is no alarm.
      evaluationPeriods: 5,
      datapointsToAlarm: 5,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    }));
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
