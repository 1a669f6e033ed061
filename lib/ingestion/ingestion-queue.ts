import { Duration, RemovalPolicy, Token } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct, IConstruct } from 'constructs';
import { createDataKey, createDeadLetterQueue, deadLetterAlarm } from '../common';
import { DocaiMetricFactory } from '../common/metric-factory';

/** The queue S3 events arrive in, as its consumer sees it. */
export interface IIngestionQueue extends IConstruct {
  readonly queue: sqs.IQueue;
  readonly deadLetterQueue: sqs.IQueue;
  /** Encrypts both queues. */
  readonly encryptionKey: kms.IKey;
  /** The queue's visibility timeout: at least six times the consumer's timeout. */
  readonly visibilityTimeout: Duration;
  /** The longest a consumer may take per batch (a sixth of the visibility timeout). */
  readonly consumerTimeout: Duration;
  /** Events waiting (AWS/SQS ApproximateNumberOfMessagesVisible). @default Maximum over 5 minutes */
  metricQueueDepth(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  /** Age of the oldest event waiting, seconds (AWS/SQS ApproximateAgeOfOldestMessage). @default Maximum over 5 minutes */
  metricOldestMessageAge(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  /** Events that failed every delivery (the dead-letter queue's ApproximateNumberOfMessagesVisible). @default Maximum over 5 minutes */
  metricDeadLetterMessages(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
}

/** The metrics of an ingestion queue, deployed or imported: AWS/SQS by QueueName, through the metric factory. */
abstract class IngestionQueueMetrics extends Construct {
  public abstract readonly queue: sqs.IQueue;
  public abstract readonly deadLetterQueue: sqs.IQueue;

  public metricQueueDepth(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return sqsMetric(this, this.queue, 'ApproximateNumberOfMessagesVisible', props);
  }

  public metricOldestMessageAge(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return sqsMetric(this, this.queue, 'ApproximateAgeOfOldestMessage', props);
  }

  public metricDeadLetterMessages(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return sqsMetric(this, this.deadLetterQueue, 'ApproximateNumberOfMessagesVisible', props);
  }
}

function sqsMetric(scope: Construct, queue: sqs.IQueue, metricName: string, props: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
  return DocaiMetricFactory.of(scope).awsMetric('AWS/SQS', metricName, { QueueName: queue.queueName }, { statistic: 'Maximum', ...props });
}

/** An ingestion queue deployed elsewhere, for `IngestionQueue.fromIngestionQueueAttributes`. */
export interface IngestionQueueAttributes {
  readonly queueArn: string;
  readonly deadLetterQueueArn: string;
  /** The key both queues are encrypted with. */
  readonly encryptionKey: kms.IKey;
  /** The queue's visibility timeout. */
  readonly visibilityTimeout: Duration;
  /** @default - a sixth of visibilityTimeout */
  readonly consumerTimeout?: Duration;
}

export interface IngestionQueueProps {
  /**
   * Key that encrypts both queues.
   * @default - a new customer-managed key with rotation on
   */
  readonly encryptionKey?: kms.IKey;
  /**
   * Timeout of the function that consumes the queue: the visibility timeout is six times this, as
   * AWS recommends for SQS event sources (a batch may be retried while another is in flight).
   * @default Duration.seconds(30)
   */
  readonly consumerTimeout?: Duration;
  /**
   * Deliveries of one message before it moves to the dead-letter queue.
   * @default 5
   */
  readonly maxReceiveCount?: number;
  /**
   * How long the ingestion queue keeps a message (the DLQ always keeps 14 days, longer than this,
   * because SQS keeps a message's original enqueue time when it moves to a DLQ).
   * @default Duration.days(4)
   */
  readonly retentionPeriod?: Duration;
  /**
   * Alarm when the oldest message waiting is older than this.
   * @default Duration.minutes(15)
   */
  readonly oldestMessageAgeThreshold?: Duration;
  /**
   * Where alarms go.
   * @default - alarms are created without actions
   */
  readonly alarmTopic?: sns.ITopic;
  /** @default RemovalPolicy.RETAIN (for a key created here) */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The SQS queue S3 events land in, its dead-letter queue, and the two alarms that need a person:
 * anything in the DLQ, and events waiting too long.
 */
export class IngestionQueue extends IngestionQueueMetrics implements IIngestionQueue {
  /** An ingestion queue deployed elsewhere (another stack or app), by ARNs, key and visibility timeout. */
  public static fromIngestionQueueAttributes(scope: Construct, id: string, attrs: IngestionQueueAttributes): IIngestionQueue {
    return new ImportedIngestionQueue(scope, id, attrs);
  }

  public readonly queue: sqs.IQueue;
  public readonly deadLetterQueue: sqs.IQueue;
  public readonly encryptionKey: kms.IKey;
  public readonly visibilityTimeout: Duration;
  public readonly consumerTimeout: Duration;
  public readonly maxReceiveCount: number;
  public readonly deadLetterAlarm: cloudwatch.Alarm;
  public readonly oldestMessageAlarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: IngestionQueueProps = {}) {
    super(scope, id);
    this.consumerTimeout = props.consumerTimeout ?? Duration.seconds(30);
    this.maxReceiveCount = props.maxReceiveCount ?? 5;
    if (!Token.isUnresolved(this.maxReceiveCount) && (!Number.isInteger(this.maxReceiveCount) || this.maxReceiveCount < 1 || this.maxReceiveCount > 1000)) {
      throw new Error(`IngestionQueue: maxReceiveCount must be a whole number from 1 to 1000, received ${this.maxReceiveCount}`);
    }
    this.visibilityTimeout = Duration.seconds(this.consumerTimeout.toSeconds() * 6);
    if (this.visibilityTimeout.toSeconds() > 43200) {
      throw new Error(`IngestionQueue: consumerTimeout ${this.consumerTimeout.toSeconds()}s needs a visibility timeout of ${this.visibilityTimeout.toSeconds()}s (6x), over the SQS maximum of 43200s; lower the consumer timeout to 7200s or less`);
    }

    this.encryptionKey = props.encryptionKey ?? createDataKey(this, 'Key', { description: 'Encrypts the ingestion queues', removalPolicy: props.removalPolicy });
    this.deadLetterQueue = createDeadLetterQueue(this, 'DeadLetter', { encryptionKey: this.encryptionKey });
    this.queue = new sqs.Queue(this, 'Queue', {
      encryption: sqs.QueueEncryption.KMS,
      encryptionMasterKey: this.encryptionKey,
      dataKeyReuse: Duration.hours(1),
      enforceSSL: true,
      visibilityTimeout: this.visibilityTimeout,
      retentionPeriod: props.retentionPeriod ?? Duration.days(4),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: this.maxReceiveCount },
    });

    const action = props.alarmTopic ? new cwActions.SnsAction(props.alarmTopic) : undefined;
    this.deadLetterAlarm = deadLetterAlarm(this, 'DeadLetterAlarm', this.deadLetterQueue,
      'Ingestion events failed every delivery and sit in the dead-letter queue. Read one, fix the cause, then move them back (README: "Redrive").',
      Duration.minutes(1));
    const oldest = props.oldestMessageAgeThreshold ?? Duration.minutes(15);
    this.oldestMessageAlarm = new cloudwatch.Alarm(this, 'OldestMessageAlarm', {
      alarmDescription: `Ingestion events wait longer than ${oldest.toHumanString()}: the ingestion function is failing, throttled or capped.`,
      metric: this.metricOldestMessageAge({ period: Duration.minutes(1) }),
      threshold: oldest.toSeconds(),
      evaluationPeriods: 5,
      datapointsToAlarm: 3,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    if (action) {
      for (const a of [this.deadLetterAlarm, this.oldestMessageAlarm]) {
        a.addAlarmAction(action);
        a.addOkAction(action);
      }
    }
  }

  /**
   * Lets an operator move messages from the dead-letter queue back to the ingestion queue with
   * `aws sqs start-message-move-task --source-arn <dlq arn>` (no destination: back to the source).
   */
  public grantRedrive(grantee: iam.IGrantable): iam.Grant {
    const g = iam.Grant.addToPrincipal({
      grantee,
      actions: ['sqs:StartMessageMoveTask', 'sqs:ListMessageMoveTasks', 'sqs:CancelMessageMoveTask', 'sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes'],
      resourceArns: [this.deadLetterQueue.queueArn],
    });
    this.queue.grantSendMessages(grantee);
    this.encryptionKey.grantEncryptDecrypt(grantee);
    return g;
  }
}

class ImportedIngestionQueue extends IngestionQueueMetrics implements IIngestionQueue {
  public readonly queue: sqs.IQueue;
  public readonly deadLetterQueue: sqs.IQueue;
  public readonly encryptionKey: kms.IKey;
  public readonly visibilityTimeout: Duration;
  public readonly consumerTimeout: Duration;

  constructor(scope: Construct, id: string, attrs: IngestionQueueAttributes) {
    super(scope, id);
    this.encryptionKey = attrs.encryptionKey;
    this.queue = sqs.Queue.fromQueueAttributes(this, 'Queue', { queueArn: attrs.queueArn, keyArn: attrs.encryptionKey.keyArn });
    this.deadLetterQueue = sqs.Queue.fromQueueAttributes(this, 'DeadLetter', { queueArn: attrs.deadLetterQueueArn, keyArn: attrs.encryptionKey.keyArn });
    this.visibilityTimeout = attrs.visibilityTimeout;
    this.consumerTimeout = attrs.consumerTimeout ?? Duration.seconds(Math.floor(attrs.visibilityTimeout.toSeconds() / 6));
  }
}
