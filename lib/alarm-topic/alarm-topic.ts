import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as subs from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import { createDataKey, createDeadLetterQueue } from '../common';

export interface AlarmTopicProps {
  /**
   * E-mail address subscribed to the topic (SNS sends a confirmation mail first).
   * @default - no subscription; add one with `topic.addSubscription(...)`
   */
  readonly email?: string;
  /**
   * Key that encrypts the topic.
   * @default - a new customer-managed key with rotation on
   */
  readonly encryptionKey?: kms.IKey;
  /**
   * What happens to the key when it leaves the stack.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The one SNS topic every alarm, budget and anomaly alert of a stage goes to: encrypted with a
 * customer-managed key that CloudWatch, AWS Budgets and Cost Anomaly Detection may use, TLS-only.
 */
export class AlarmTopic extends Construct {
  public readonly topic: sns.Topic;
  public readonly key: kms.IKey;
  /** Dead-letter queue of the e-mail subscription (only when an e-mail is given). */
  public readonly undeliveredQueue?: sqs.Queue;

  constructor(scope: Construct, id: string, props: AlarmTopicProps = {}) {
    super(scope, id);
    const key =
      props.encryptionKey ??
      createDataKey(this, 'Key', { description: 'Encrypts the alarm topic', removalPolicy: props.removalPolicy });
    this.key = key;

    this.topic = new sns.Topic(this, 'Topic', { masterKey: key, enforceSSL: true });

    // Services that publish to an encrypted topic need the key, each only on behalf of this account's
    // own resources (aws:SourceAccount / aws:SourceArn: the confused-deputy guard AWS documents:
    // https://docs.aws.amazon.com/IAM/latest/UserGuide/confused-deputy.html). The ARNs are patterns,
    // not the resources, which live in other stacks and would make the key depend on them.
    const stack = Stack.of(this);
    const sourceArns = alarmPublisherSourceArns(stack);
    for (const [sid, service, arn] of [
      ['AllowCloudWatchAlarmsToUseKey', 'cloudwatch.amazonaws.com', sourceArns.cloudwatch],
      ['AllowBudgetsToUseKey', 'budgets.amazonaws.com', sourceArns.budgets],
      ['AllowAnomalyAlertsToUseKey', 'costalerts.amazonaws.com', sourceArns.costalerts],
      // SNS itself, when it moves undelivered notifications to the dead-letter queue (same key).
      ['AllowSnsToUseKey', 'sns.amazonaws.com', sourceArns.sns],
    ] as const) {
      key.addToResourcePolicy(new iam.PolicyStatement({
        sid,
        principals: [new iam.ServicePrincipal(service)],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'], // in a key policy, "*" means this key
        conditions: { StringEquals: { 'aws:SourceAccount': stack.account }, ArnLike: { 'aws:SourceArn': arn } },
      }));
    }
    // Budgets: https://docs.aws.amazon.com/cost-management/latest/userguide/budgets-sns-policy.html
    // Cost Anomaly Detection: https://docs.aws.amazon.com/cost-management/latest/userguide/ad-SNS.html
    for (const [sid, service, arn] of [
      ['AllowBudgets', 'budgets.amazonaws.com', sourceArns.budgets],
      ['AllowAnomalyAlerts', 'costalerts.amazonaws.com', sourceArns.costalerts],
    ] as const) {
      this.topic.addToResourcePolicy(new iam.PolicyStatement({
        sid,
        principals: [new iam.ServicePrincipal(service)],
        actions: ['sns:Publish'],
        resources: [this.topic.topicArn],
        conditions: { StringEquals: { 'aws:SourceAccount': stack.account }, ArnLike: { 'aws:SourceArn': arn } },
      }));
    }

    if (props.email) {
      // Notifications SNS could not deliver (bounces, an unconfirmed address) are kept for 14 days
      // instead of vanishing: an on-call engineer can read what they missed.
      this.undeliveredQueue = createDeadLetterQueue(this, 'Undelivered', { encryptionKey: key, sourceDescription: 'the e-mail subscription' });
      this.topic.addSubscription(new subs.EmailSubscription(props.email, { deadLetterQueue: this.undeliveredQueue }));
    }
  }
}

/**
 * The resources that may publish to an alarm topic, as `aws:SourceArn` patterns of this account:
 * CloudWatch alarms of the topic's region (SNS:
 * https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services),
 * budgets and anomaly monitors of the account (global services: no region in their ARNs).
 */
function alarmPublisherSourceArns(stack: Stack): { cloudwatch: string; budgets: string; costalerts: string; sns: string } {
  const { partition: p, region: r, account: a } = stack;
  return {
    cloudwatch: `arn:${p}:cloudwatch:${r}:${a}:alarm:*`,
    budgets: `arn:${p}:budgets::${a}:*`,
    costalerts: `arn:${p}:ce::${a}:*`,
    sns: `arn:${p}:sns:${r}:${a}:*`,
  };
}
