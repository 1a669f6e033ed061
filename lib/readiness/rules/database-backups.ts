import { NagMessageLevel } from 'cdk-nag';
import { CfnDBCluster, CfnDBInstance } from 'aws-cdk-lib/aws-rds';
import { COMPLIANT, NON_COMPLIANT, NOT_APPLICABLE, ReadinessRule, resolve } from '../rule';

/**
 * Days of automated backups of a database node (CloudFormation's default is 1); undefined for an
 * instance of an Aurora cluster, whose backups are the cluster's (BackupRetentionPeriod of
 * AWS::RDS::DBCluster; the instance property does not apply to Aurora:
 * https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-rds-dbinstance.html).
 */
export function backupRetentionDays(node: unknown): number | undefined {
  if (node instanceof CfnDBCluster) return Number(resolve(node, node.backupRetentionPeriod) ?? 1);
  if (node instanceof CfnDBInstance && resolve(node, node.dbClusterIdentifier) === undefined) return Number(resolve(node, node.backupRetentionPeriod) ?? 1);
  return undefined;
}

export const DatabaseBackups: ReadinessRule = {
  name: 'DatabaseBackups',
  category: 'data',
  level: NagMessageLevel.ERROR,
  info: 'The database keeps automated backups for less than 7 days.',
  explanation: 'A week is the least that lets a team notice a bad write and restore before the good state is gone.',
  check: (node) => {
    const days = backupRetentionDays(node);
    return days === undefined ? NOT_APPLICABLE : days >= 7 ? COMPLIANT : NON_COMPLIANT;
  },
};
