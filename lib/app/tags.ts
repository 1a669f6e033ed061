import { Tags } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';
import { StageConfig, Workload } from '../config';

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

/** Applies the stage-wide cost-allocation tags once, at the app (or stage) level. */
export function applyCostAllocationTags(scope: IConstruct, config: StageConfig): void {
  const t = Tags.of(scope);
  t.add(TAG_KEYS.project, config.projectName);
  t.add(TAG_KEYS.environment, config.stage);
  t.add(TAG_KEYS.costCenter, config.tags.costCenter);
  t.add(TAG_KEYS.businessUnit, config.tags.businessUnit);
  t.add(TAG_KEYS.owner, config.tags.owner);
  t.add(TAG_KEYS.managedBy, MANAGED_BY);
}

/**
 * Marks everything under `scope` as belonging to one workload. Applied to a stack it is the default;
 * applied to a building block inside it, the nearer tag wins.
 */
export function tagWorkload(scope: IConstruct, workload: Workload): void {
  Tags.of(scope).add(TAG_KEYS.workload, workload);
}
