import { RemovalPolicy } from 'aws-cdk-lib';
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

    // Services that publish to an encrypted topic need the key; scope it to this account's resources.
    const publishers = ['sns.amazonaws.com', 'cloudwatch.amazonaws.com', 'budgets.amazonaws.com', 'costalerts.amazonaws.com'];
    key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowAlarmPublishersToUseKey',
        principals: publishers.map((p) => new iam.ServicePrincipal(p)),
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'], // in a key policy, "*" means this key
      }),
    );
    this.topic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AllowBudgetsAndAnomalyAlerts',
        principals: ['budgets.amazonaws.com', 'costalerts.amazonaws.com'].map((p) => new iam.ServicePrincipal(p)),
        actions: ['sns:Publish'],
        resources: [this.topic.topicArn],
      }),
    );

    if (props.email) {
      // Notifications SNS could not deliver (bounces, an unconfirmed address) are kept for 14 days
      // instead of vanishing: an on-call engineer can read what they missed.
      this.undeliveredQueue = createDeadLetterQueue(this, 'Undelivered', { encryptionKey: key, sourceDescription: 'the e-mail subscription' });
      this.topic.addSubscription(new subs.EmailSubscription(props.email, { deadLetterQueue: this.undeliveredQueue }));
    }
  }
}
