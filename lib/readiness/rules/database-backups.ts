import { NagMessageLevel } from 'cdk-nag';
import { CfnDBInstance } from 'aws-cdk-lib/aws-rds';
import { COMPLIANT, NON_COMPLIANT, NOT_APPLICABLE, ReadinessRule, resolve } from '../rule';

/** Days of automated backups; CloudFormation's default is 1. */
export const backupRetentionDays = (node: CfnDBInstance) => Number(resolve(node, node.backupRetentionPeriod) ?? 1);

export const DatabaseBackups: ReadinessRule = {
  name: 'DatabaseBackups',
  category: 'data',
  level: NagMessageLevel.ERROR,
  info: 'The database keeps automated backups for less than 7 days.',
  explanation: 'A week is the least that lets a team notice a bad write and restore before the good state is gone.',
  check: (node) => (node instanceof CfnDBInstance ? (backupRetentionDays(node) >= 7 ? COMPLIANT : NON_COMPLIANT) : NOT_APPLICABLE),
};
