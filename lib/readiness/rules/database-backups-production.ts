import { NagMessageLevel } from 'cdk-nag';
import { COMPLIANT, NON_COMPLIANT, NOT_APPLICABLE, ReadinessRule } from '../rule';
import { backupRetentionDays } from './database-backups';

export const DatabaseBackupsProduction: ReadinessRule = {
  name: 'DatabaseBackupsProduction',
  category: 'data',
  level: NagMessageLevel.ERROR,
  info: 'The database keeps automated backups for less than 14 days.',
  explanation: 'Production keeps at least two weeks of point-in-time recovery.',
  check: (node) => {
    const days = backupRetentionDays(node);
    return days === undefined ? NOT_APPLICABLE : days >= 14 ? COMPLIANT : NON_COMPLIANT;
  },
};
