import { NagMessageLevel } from 'cdk-nag';
import { CfnDBInstance } from 'aws-cdk-lib/aws-rds';
import { COMPLIANT, NON_COMPLIANT, NOT_APPLICABLE, ReadinessRule, resolve } from '../rule';

export const DatabaseMultiAz: ReadinessRule = {
  name: 'DatabaseMultiAz',
  category: 'data',
  level: NagMessageLevel.ERROR,
  info: 'The database runs in a single Availability Zone.',
  explanation: 'An AZ outage stops retrieval and storage until a restore finishes; production runs a standby.',
  check: (node) => (node instanceof CfnDBInstance ? (resolve(node, node.multiAz) === true ? COMPLIANT : NON_COMPLIANT) : NOT_APPLICABLE),
};
