import { Duration, Stack, Token } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import { flattenCfnReference } from 'cdk-nag/lib/utils/flatten-cfn-reference';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { Construct } from 'constructs';
import { acknowledge, DocaiFunction, executionsArn, FunctionPlacement } from '../common';
import { DocaiMetricFactory } from '../common/metric-factory';
import { ENV } from '../contract';
import { IDocumentPipeline } from '../document-pipeline';
import { IIngestionQueue } from './ingestion-queue';

export interface IngestionFunctionProps {
  /** The queue S3 events arrive in; its visibility timeout must be at least 6x the function timeout. */
  readonly queue: IIngestionQueue;
  /**
   * The document pipeline: created objects start its upsert path, removed objects its delete path.
   * Its key comes with it: StartExecution on a CMK-encrypted state machine needs a data key from it.
   */
  readonly pipeline: IDocumentPipeline;
  readonly placement: FunctionPlacement;
  /**
   * The intake bucket whose events this function serves: an event of any other bucket starts no
   * execution and goes (as a batch item failure) to the dead-letter queue, which is alarmed.
   * @default - events of any bucket are accepted (the queue policy is then the only guard)
   */
  readonly intakeBucketName?: string;
  /**
   * Function timeout.
   * @default - the queue's consumerTimeout
   */
  readonly timeout?: Duration;
  /**
   * Concurrent invocations the queue may drive (SQS event source maximum concurrency, 2-1000). This
   * bounds the function without reserved concurrency, which a fresh account (concurrency quota 10)
   * cannot grant.
   * @default 5
   */
  readonly maxConcurrency?: number;
  /**
   * Records per invocation.
   * @default 10
   */
  readonly batchSize?: number;
  /**
   * How long to gather a batch.
   * @default Duration.seconds(5)
   */
  readonly maxBatchingWindow?: Duration;
  /** @default 256 */
  readonly memorySize?: number;
}

/**
 * The Python ingestion Lambda: reads S3 events from the queue and starts one pipeline execution per
 * document version, named deterministically so a duplicate delivery is harmless. Malformed records
 * are reported as batch item failures and end in the dead-letter queue; the rest of the batch goes on.
 */
export class IngestionFunction extends Construct {
  public readonly function: DocaiFunction;
  public readonly eventSource: SqsEventSource;

  /** Pipeline executions the function started (ExecutionsStarted, workflow ingestion). @default Sum over 5 minutes */
  public metricExecutionsStarted(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.ingestionMetric('ExecutionsStarted', props);
  }

  /** Events of another bucket, refused to the dead-letter queue (ForeignBucketRecords). @default Sum over 5 minutes */
  public metricForeignBucketRecords(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.ingestionMetric('ForeignBucketRecords', props);
  }

  /** Records that are no S3 event, refused to the dead-letter queue (MalformedRecords). @default Sum over 5 minutes */
  public metricMalformedRecords(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.ingestionMetric('MalformedRecords', props);
  }

  /** StartExecution calls that failed; their messages are redelivered (StartFailures). @default Sum over 5 minutes */
  public metricStartFailures(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.ingestionMetric('StartFailures', props);
  }

  constructor(scope: Construct, id: string, props: IngestionFunctionProps) {
    super(scope, id);
    const timeout = props.timeout ?? props.queue.consumerTimeout;
    const visibility = props.queue.visibilityTimeout.toSeconds();
    if (!Token.isUnresolved(visibility) && visibility < 6 * timeout.toSeconds()) {
      throw new Error(
        `IngestionFunction: the queue's visibility timeout (${visibility}s) is less than 6x the function timeout (${timeout.toSeconds()}s); ` +
          `create the IngestionQueue with consumerTimeout >= ${timeout.toSeconds()}s or lower the function timeout`,
      );
    }
    const maxConcurrency = props.maxConcurrency ?? 5;
    if (!Token.isUnresolved(maxConcurrency) && (maxConcurrency < 2 || maxConcurrency > 1000)) {
      throw new Error(`IngestionFunction: maxConcurrency must be from 2 to 1000 (SQS event source limit), received ${maxConcurrency}`);
    }

    this.function = new DocaiFunction(this, 'Function', {
      folder: 'ingestion',
      index: 'ingestion_handler.py',
      description: 'Starts a document pipeline execution per S3 object version (idempotent)',
      timeout,
      memorySize: props.memorySize ?? 256,
      environment: { [ENV.STATE_MACHINE_ARN]: props.pipeline.stateMachine.stateMachineArn, ...(props.intakeBucketName ? { [ENV.INTAKE_BUCKET]: props.intakeBucketName } : {}) },
      workflow: 'ingestion',
      ...props.placement,
      // Its only call is StartExecution: from the isolated subnets that needs the Step Functions
      // interface endpoint (7.30 USD a month per AZ at list price); outside the VPC it needs none.
      ...(props.placement.apiOnlyFunctionsInVpc === false ? { outsideVpc: { reason: 'the ingestion function only reads SQS events (delivered by Lambda) and calls Step Functions StartExecution.' } } : {}),
    });
    props.pipeline.grantStartExecution(this.function);
    // A redelivered event whose execution exists: DescribeExecution tells a running or succeeded one
    // (a harmless duplicate) from one that failed (replayed as <name>-r<n>). Executions of this state machine only.
    const stack = Stack.of(this);
    const stateMachineArn = props.pipeline.stateMachine.stateMachineArn;
    const executions = executionsArn(this, stateMachineArn, ':*');
    this.function.addToRolePolicy(new iam.PolicyStatement({ actions: ['states:DescribeExecution'], resources: [executions] }));
    acknowledge(this.function.role!, [`AwsSolutions::AwsSolutions-IAM5[Resource::${flattenCfnReference(stack.resolve(executions))}]`],
      'Describing executions of the document pipeline only (their names are derived from each event at run time): a redelivered event whose execution exists ' +
        'is a harmless duplicate when that execution runs or succeeded, and a replay when it failed.');
    // DescribeExecution returns the execution's input, encrypted under the pipeline's key (the data
    // key for StartExecution came with grantStartExecution).
    this.function.addToRolePolicy(new iam.PolicyStatement({
      actions: ['kms:Decrypt'],
      resources: [props.pipeline.encryptionKey.keyArn],
      conditions: { StringEquals: { 'kms:EncryptionContext:aws:states:stateMachineArn': stateMachineArn } },
    }));

    this.eventSource = new SqsEventSource(props.queue.queue, {
      batchSize: props.batchSize ?? 10,
      maxBatchingWindow: props.maxBatchingWindow ?? Duration.seconds(5),
      reportBatchItemFailures: true,
      maxConcurrency,
    });
    this.function.addEventSource(this.eventSource);
    const esm = this.function.node.findAll().find((c) => c instanceof lambda.CfnEventSourceMapping);
    if (esm) {
      acknowledge(esm, ['Serverless::Serverless-LambdaEventSourceMappingDestination'],
        'SQS event source mappings do not support OnFailure destinations. Records that fail are returned to the queue ' +
          '(ReportBatchItemFailures) and move to its dead-letter queue after maxReceiveCount deliveries; that DLQ is alarmed.');
    }
  }

  /** As lambda/ingestion emits them: Workflow ingestion, then the deployment's dimensions. */
  private ingestionMetric(metricName: string, props: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return DocaiMetricFactory.of(this).metric(metricName, { Workflow: 'ingestion' }, { statistic: 'Sum', ...props });
  }
}
