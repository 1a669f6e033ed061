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

export const READINESS_RULES: ReadinessRule[] = [
  GpuInstanceForGpuContainer, EndpointAutoscaling, ProductionEndpointMinimum, LambdaExplicitLimits, IngestionConcurrencyLimit,
  QueueDlqAlarmed, VisibilityTimeoutSixTimes, StateMachineRetryCatch, IntakeVersioningLifecycle, DatabaseBackups, DatabaseBackupsProduction, DatabaseMultiAz, LogRetentionSet,
  CustomerManagedKeys, NoPublicEndpoints, CostAllocationTags, BudgetExists, AlarmTopicSubscribed, QueryApiProtected, AuditTrailLocked, GatewayStateRecoverable,
];

export {
  AlarmTopicSubscribed, AuditTrailLocked, GatewayStateRecoverable, QueryApiProtected, BudgetExists, CostAllocationTags, CustomerManagedKeys, DatabaseBackups, DatabaseBackupsProduction, DatabaseMultiAz, EndpointAutoscaling,
  GpuInstanceForGpuContainer, IngestionConcurrencyLimit, IntakeVersioningLifecycle, LambdaExplicitLimits, LogRetentionSet, NoPublicEndpoints,
  ProductionEndpointMinimum, QueueDlqAlarmed, StateMachineRetryCatch, VisibilityTimeoutSixTimes,
};
