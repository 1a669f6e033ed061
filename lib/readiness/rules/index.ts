import { READINESS_RULE_NAMES, ReadinessRuleName } from '../../config/readiness-rules';
import { ReadinessRule } from '../rule';
import { AlarmTopicSubscribed } from './alarm-topic-subscribed';
import { AuditTrailLocked } from './audit-trail-locked';
import { GatewayStateRecoverable } from './gateway-state-recoverable';
import { QueryApiProtected } from './query-api-protected';
import { BudgetExists } from './budget-exists';
import { CostAllocationTags } from './cost-allocation-tags';
import { CustomerManagedKeys } from './customer-managed-keys';
import { DatabaseBackups } from './database-backups';
import { DatabaseBackupsProduction } from './database-backups-production';
import { DatabaseMultiAz } from './database-multi-az';
import { EndpointAutoscaling } from './endpoint-autoscaling';
import { GpuInstanceForGpuContainer } from './gpu-instance-for-gpu-container';
import { IngestionConcurrencyLimit } from './ingestion-concurrency-limit';
import { IntakeVersioningLifecycle } from './intake-versioning-lifecycle';
import { LambdaExplicitLimits } from './lambda-explicit-limits';
import { LogRetentionSet } from './log-retention';
import { NoPublicEndpoints } from './no-public-endpoints';
import { ProductionEndpointMinimum } from './production-endpoint-minimum';
import { QueueDlqAlarmed } from './queue-dlq-alarmed';
import { StateMachineRetryCatch } from './state-machine-retry-catch';
import { VisibilityTimeoutSixTimes } from './visibility-timeout';

/** Every rule by its name: keyed by the config's list of names, so a rule missing from either fails tsc. */
const BY_NAME: { readonly [N in ReadinessRuleName]: ReadinessRule } = {
  GpuInstanceForGpuContainer, EndpointAutoscaling, ProductionEndpointMinimum, LambdaExplicitLimits, IngestionConcurrencyLimit,
  QueueDlqAlarmed, VisibilityTimeoutSixTimes, StateMachineRetryCatch, IntakeVersioningLifecycle, DatabaseBackups, DatabaseBackupsProduction, DatabaseMultiAz, LogRetentionSet,
  CustomerManagedKeys, NoPublicEndpoints, CostAllocationTags, BudgetExists, AlarmTopicSubscribed, QueryApiProtected, AuditTrailLocked, GatewayStateRecoverable,
};

export const READINESS_RULES: ReadinessRule[] = READINESS_RULE_NAMES.map((name) => {
  if (BY_NAME[name].name !== name) throw new Error(`readiness rule ${name} is named ${BY_NAME[name].name}: lib/config/readiness-rules.ts lists it by its name`);
  return BY_NAME[name];
});

export {
  AlarmTopicSubscribed, AuditTrailLocked, GatewayStateRecoverable, QueryApiProtected, BudgetExists, CostAllocationTags, CustomerManagedKeys, DatabaseBackups, DatabaseBackupsProduction, DatabaseMultiAz, EndpointAutoscaling,
  GpuInstanceForGpuContainer, IngestionConcurrencyLimit, IntakeVersioningLifecycle, LambdaExplicitLimits, LogRetentionSet, NoPublicEndpoints,
  ProductionEndpointMinimum, QueueDlqAlarmed, StateMachineRetryCatch, VisibilityTimeoutSixTimes,
};
