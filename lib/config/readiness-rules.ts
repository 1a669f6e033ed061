/**
 * The names of the readiness rules (lib/readiness/rules), which `acceptedReadinessDifferences` may
 * name. Listed here so validating a config loads no rule pack; lib/readiness/rules/index.ts keys its
 * rules by this list, so tsc fails when the two differ.
 */
export const READINESS_RULE_NAMES = [
  'GpuInstanceForGpuContainer', 'EndpointAutoscaling', 'ProductionEndpointMinimum', 'LambdaExplicitLimits', 'IngestionConcurrencyLimit',
  'QueueDlqAlarmed', 'VisibilityTimeoutSixTimes', 'StateMachineRetryCatch', 'IntakeVersioningLifecycle', 'DatabaseBackups', 'DatabaseBackupsProduction',
  'DatabaseMultiAz', 'LogRetentionSet', 'CustomerManagedKeys', 'NoPublicEndpoints', 'CostAllocationTags', 'BudgetExists', 'AlarmTopicSubscribed',
  'QueryApiProtected', 'AuditTrailLocked', 'GatewayStateRecoverable',
] as const;

export type ReadinessRuleName = (typeof READINESS_RULE_NAMES)[number];
