import { NagMessageLevel } from 'cdk-nag';
import { CfnLogGroup } from 'aws-cdk-lib/aws-logs';
import { COMPLIANT, NON_COMPLIANT, NOT_APPLICABLE, ReadinessRule, resolve } from '../rule';

export const LogRetentionSet: ReadinessRule = {
  name: 'LogRetentionSet',
  category: 'data',
  level: NagMessageLevel.ERROR,
  info: 'A log group keeps logs forever (no retention).',
  explanation: 'Unbounded retention is unbounded cost and an unbounded store of personal data in logs.',
  check: (node) => (node instanceof CfnLogGroup ? (resolve(node, node.retentionInDays) ? COMPLIANT : NON_COMPLIANT) : NOT_APPLICABLE),
};
