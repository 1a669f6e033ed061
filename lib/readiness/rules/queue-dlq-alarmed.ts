import { NagMessageLevel } from 'cdk-nag';
import { CfnAlarm } from 'aws-cdk-lib/aws-cloudwatch';
import { CfnQueue } from 'aws-cdk-lib/aws-sqs';
import { allResources, COMPLIANT, NON_COMPLIANT, NOT_APPLICABLE, ReadinessRule, referencedResource, resolve } from '../rule';

export const QueueDlqAlarmed: ReadinessRule = {
  name: 'QueueDlqAlarmed',
  category: 'data',
  level: NagMessageLevel.ERROR,
  info: 'A queue has no dead-letter queue, or its dead-letter queue has no alarm.',
  explanation: 'A message that can never be processed must end somewhere a person is told about; a silent DLQ is a slow data loss.',
  check: (node) => {
    if (!(node instanceof CfnQueue)) return NOT_APPLICABLE;
    const redrive = resolve(node, node.redrivePolicy);
    if (!redrive) {
      const allow = resolve(node, node.redriveAllowPolicy);
      return allow ? NOT_APPLICABLE : NON_COMPLIANT; // a DLQ itself, or a queue without one
    }
    const dlq = referencedResource(node, redrive.deadLetterTargetArn);
    if (!dlq) return NON_COMPLIANT;
    const alarmed = allResources(node).some((r) => r instanceof CfnAlarm && ((resolve(r, r.dimensions) as any[]) ?? []).some((d) => referencedResource(r, d.value) === dlq));
    return alarmed ? COMPLIANT : NON_COMPLIANT;
  },
};
