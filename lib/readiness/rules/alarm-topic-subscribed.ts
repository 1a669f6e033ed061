import { NagMessageLevel } from 'cdk-nag';
import { CfnAlarm, CfnCompositeAlarm } from 'aws-cdk-lib/aws-cloudwatch';
import { CfnSubscription, CfnTopic } from 'aws-cdk-lib/aws-sns';
import { allResources, COMPLIANT, NON_COMPLIANT, NOT_APPLICABLE, ReadinessRule, referencedResource, resolve } from '../rule';

/** Warning level: a stage deploys without an alarm e-mail, but then nobody is paged. */
export const AlarmTopicSubscribed: ReadinessRule = {
  name: 'AlarmTopicSubscribed',
  category: 'security-and-cost',
  level: NagMessageLevel.WARN,
  info: 'Alarms go to a topic nobody subscribes to (set -c alarmEmail=...).',
  explanation: 'An alarm that reaches no person is a dashboard nobody watches.',
  check: (node) => {
    if (!(node instanceof CfnTopic)) return NOT_APPLICABLE;
    const all = allResources(node);
    const usedByAlarms = all.some((r) => (r instanceof CfnAlarm || r instanceof CfnCompositeAlarm) && ((resolve(r, r.alarmActions) as unknown[]) ?? []).some((a) => referencedResource(r, a) === node));
    if (!usedByAlarms) return NOT_APPLICABLE;
    return all.some((r) => r instanceof CfnSubscription && referencedResource(r, r.topicArn) === node) ? COMPLIANT : NON_COMPLIANT;
  },
};
