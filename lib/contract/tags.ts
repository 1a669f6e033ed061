/** The cost-allocation tag keys: budgets, anomaly monitors and the readiness rules use these names. */
export const TAG_KEYS = {
  project: 'Project',
  environment: 'Environment',
  workload: 'Workload',
  costCenter: 'CostCenter',
  businessUnit: 'BusinessUnit',
  owner: 'Owner',
  managedBy: 'ManagedBy',
} as const;

export const MANAGED_BY = 'docai-blueprint';
