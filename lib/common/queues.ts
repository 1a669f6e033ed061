import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { acknowledge } from './acknowledge';
import { DocaiMetricFactory } from './metric-factory';

export interface DeadLetterQueueProps {
  readonly encryptionKey: kms.IKey;
  /** @default 14 days, the SQS maximum */
  readonly retentionPeriod?: Duration;
  /**
   * Set when the queue is the DLQ of something cdk-nag does not recognise as a DLQ source
   * (an SNS subscription, a Lambda event source mapping's on-failure destination).
   */
  readonly sourceDescription?: string;
}

/**
 * A terminal dead-letter queue: customer-key encrypted, TLS-only, 14-day retention, marked as a
 * DLQ (`RedriveAllowPolicy`) so its messages can be moved back with `StartMessageMoveTask`.
 */
export function createDeadLetterQueue(scope: Construct, id: string, props: DeadLetterQueueProps): sqs.Queue {
  const dlq = new sqs.Queue(scope, id, {
    encryption: sqs.QueueEncryption.KMS,
    encryptionMasterKey: props.encryptionKey,
    dataKeyReuse: Duration.hours(1),
    enforceSSL: true,
    retentionPeriod: props.retentionPeriod ?? Duration.days(14),
    redriveAllowPolicy: { redrivePermission: sqs.RedrivePermission.ALLOW_ALL },
  });
  const ids = ['Serverless::Serverless-SQSRedrivePolicy'];
  if (props.sourceDescription) ids.push('AwsSolutions::AwsSolutions-SQS3');
  acknowledge(
    dlq,
    ids,
    'This queue is itself a terminal dead-letter queue' +
      (props.sourceDescription ? ` (of ${props.sourceDescription}, which cdk-nag does not recognise as a DLQ source)` : '') +
      ': a redrive policy on it would only move the same failed messages to yet another queue. ' +
      'Its messages are kept 14 days, alarmed on, and can be moved back to the source with StartMessageMoveTask.',
  );
  return dlq;
}

/**
 * The alarm every dead-letter queue gets: at least one message visible (Maximum over `period`),
 * missing data not breaching. The caller adds the actions.
 */
export function deadLetterAlarm(scope: Construct, id: string, queue: sqs.IQueue, description: string, period: Duration): cloudwatch.Alarm {
  return new cloudwatch.Alarm(scope, id, {
    alarmDescription: description,
    metric: DocaiMetricFactory.of(scope).awsMetric('AWS/SQS', 'ApproximateNumberOfMessagesVisible', { QueueName: queue.queueName }, { period, statistic: 'Maximum' }),
    threshold: 1,
    evaluationPeriods: 1,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
  });
}
