import { Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { acknowledge, createDeadLetterQueue, deadLetterAlarm } from '../common';

export interface BreakGlassAlarmsProps {
  /** Receives one notification per matched call (the CloudTrail event: who, what, from where). */
  readonly alarmTopic: sns.ITopic;
  /**
   * Key of the alarm topic: it also encrypts the queue of notifications EventBridge could not deliver,
   * and lets EventBridge use it for this account's rules only.
   */
  readonly alarmTopicKey: kms.IKey;
  /**
   * ARN of the database master secret: a GetSecretValue on it by anyone but `expectedSecretReaders` alarms.
   * @default - no master-secret alarm
   */
  readonly masterSecretArn?: string;
  /**
   * Assumed-role session ARNs (EventBridge wildcards) whose reads of the master secret are expected:
   * the database bootstrap function (RDS rotates the managed secret itself).
   * @default - none: every read alarms
   */
  readonly expectedSecretReaders?: string[];
  /**
   * Cognito groups whose membership changes alarm (the restricted tier's groups).
   * @default - no membership alarm
   */
  readonly restrictedGroups?: string[];
}

/**
 * Break-glass paths, each with an alarm: an EventBridge rule on the CloudTrail event of the call,
 * publishing the event to the alarm topic.
 *
 * - A read of the database master secret (secretsmanager:GetSecretValue) by any principal but the
 *   the bootstrap function (RDS rotates the managed secret itself). GetSecretValue is a read-only management event: EventBridge
 *   receives it only on a rule whose state is ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS
 *   (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-service-event.html, "Receiving read-only management events").
 *   The call names the secret by ARN or by name, so the rule matches every read in the account and
 *   region not made by an expected reader (a stage in an account of its own has no other secret).
 * - A membership change of a restricted tier's Cognito group (AdminAddUserToGroup,
 *   AdminRemoveUserFromGroup): whoever adds a user reads restricted text.
 * - A key policy change, a scheduled deletion or a disabled key (PutKeyPolicy, ScheduleKeyDeletion,
 *   DisableKey) on any key of the account and region: the root principal keeps kms:* on every key
 *   (https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html), so removing the
 *   audit key's decrypt guard is a PutKeyPolicy.
 *
 * Events of the form "AWS API Call via CloudTrail" reach EventBridge only while a CloudTrail trail
 * with logging is enabled in the account; no metric filter is needed, the rule matches the event
 * itself: https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-service-event.html
 * The preflight's account checks are where a missing trail would show; this construct cannot see it.
 */
export class BreakGlassAlarms extends Construct {
  public readonly rules: events.Rule[] = [];
  /** Notifications EventBridge could not deliver to the topic after its retries (24 hours). */
  public readonly undelivered: sqs.Queue;
  /** Alarms when `undelivered` holds a message: a break-glass notification was lost on its way. */
  public readonly undeliveredAlarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: BreakGlassAlarmsProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const apiCall = (source: string, eventSource: string, eventName: string[], detail: Record<string, unknown> = {}) => ({
      source: [source], detailType: ['AWS API Call via CloudTrail'], detail: { eventSource: [eventSource], eventName, ...detail },
    });
    // Through one role EventBridge assumes for this account's rules (sns:Publish and the topic key), so the
    // topic holds no unconditioned service grant: https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-identity-based.html
    const sourceConditions = { StringEquals: { 'aws:SourceAccount': stack.account }, ArnLike: { 'aws:SourceArn': `arn:${stack.partition}:events:${stack.region}:${stack.account}:rule/*` } };
    const role = new iam.Role(this, 'PublishRole', {
      assumedBy: new iam.ServicePrincipal('events.amazonaws.com', { conditions: sourceConditions }),
      description: 'EventBridge publishes break-glass notifications to the alarm topic',
    });
    acknowledge(role, ['AwsSolutions::AwsSolutions-IAM5[Action::kms:GenerateDataKey*]'],
      'sns.Topic.grantPublish on a topic encrypted with a customer key: kms:GenerateDataKey* (and kms:Decrypt) on that one key, which SNS needs to ' +
        'encrypt the published message. The role may publish to the alarm topic only and is assumable only by EventBridge rules of this account and region.');
    this.undelivered = createDeadLetterQueue(this, 'Undelivered', { encryptionKey: props.alarmTopicKey, sourceDescription: 'the break-glass EventBridge rules' });
    // EventBridge encrypts what it sends to the dead-letter queue with the queue's key.
    props.alarmTopicKey.addToResourcePolicy(new iam.PolicyStatement({
      sid: 'AllowEventBridgeDeadLettersToUseKey',
      principals: [new iam.ServicePrincipal('events.amazonaws.com')],
      actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
      resources: ['*'],
      conditions: sourceConditions,
    }));
    const target = new targets.SnsTopic(props.alarmTopic, { role, deadLetterQueue: this.undelivered, retryAttempts: 185, maxEventAge: Duration.hours(24) });
    const rule = (ruleId: string, description: string, eventPattern: events.EventPattern, readOnly = false) => {
      const r = new events.Rule(this, ruleId, { description, eventPattern, targets: [target] });
      if (readOnly) (r.node.defaultChild as events.CfnRule).state = 'ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS';
      this.rules.push(r);
    };

    if (props.masterSecretArn) {
      const expected = props.expectedSecretReaders ?? [];
      rule('MasterSecretRead', 'Break glass: the database master secret was read by a principal other than the database bootstrap function',
        apiCall('aws.secretsmanager', 'secretsmanager.amazonaws.com', ['GetSecretValue'],
          expected.length ? { userIdentity: { arn: [{ 'anything-but': { wildcard: expected } }] } } : {}), true);
    }
    if (props.restrictedGroups?.length) {
      rule('RestrictedGroupChange', `Break glass: membership of ${props.restrictedGroups.join(', ')} (restricted tier) changed`,
        apiCall('aws.cognito-idp', 'cognito-idp.amazonaws.com', ['AdminAddUserToGroup', 'AdminRemoveUserFromGroup'], { requestParameters: { groupName: props.restrictedGroups } }));
    }
    rule('KeyPolicyChange', `Break glass: a KMS key policy was changed, or a key disabled or scheduled for deletion, in ${stack.region}`,
      apiCall('aws.kms', 'kms.amazonaws.com', ['PutKeyPolicy', 'ScheduleKeyDeletion', 'DisableKey']));

    this.undeliveredAlarm = deadLetterAlarm(this, 'UndeliveredAlarm', this.undelivered,
      'A break-glass notification (master secret read, restricted group change, key policy change) could not be delivered to the alarm topic: read the queue.', Duration.minutes(5));
    this.undeliveredAlarm.addAlarmAction(new cwActions.SnsAction(props.alarmTopic));
  }
}
