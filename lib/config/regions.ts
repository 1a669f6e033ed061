import { InferenceFramework, PUBLISHED_IMAGES, SERVERLESS_INFERENCE_REGIONS } from './image-catalog';
import { MODEL_CATALOG, modelRegions } from './model-catalog';
// `import = require`: a default import of JSON needs esModuleInterop, which consumers and jsii may not set.
import AVAILABILITY = require('./region-availability.json');
import { StageConfig } from './stage-config';

/**
 * Which regions can hold a stage, from published data only: CloudFormation's per-region resource
 * schemas and RDS's instance classes per engine (Aurora PostgreSQL db.serverless; region-availability.json, generated from the schemas
 * cfn-lint bundles by scripts/region_availability.py), the container image tables AWS publishes
 * (image-catalog.ts) and the model catalogue (model-catalog.ts). SageMaker endpoint
 * instance types per region are published in no machine-readable table bundled here: the preflight
 * asks Service Quotas for them (scripts/preflight_quotas.py), where a type not offered has no quota.
 */
export const REGION_AVAILABILITY = AVAILABILITY as {
  readonly source: string;
  readonly generatedBy: string;
  readonly cfnLintVersion: string;
  readonly regions: readonly string[];
  readonly resourceTypes: Readonly<Record<string, readonly string[]>>;
  readonly pinnedStackTypes: readonly string[];
  readonly rdsInstanceClasses: Readonly<Record<string, readonly string[]>>;
  /** Regions whose aurora-postgresql engine offers the db.serverless class (Aurora Serverless v2). */
  readonly auroraPostgresServerlessV2: readonly string[];
};

/** The Bedrock models the config's chains call. */
export function chainModelIds(c: StageConfig): string[] {
  const ids = new Set<string>();
  for (const w of Object.values(c.gateway?.workflows ?? {})) {
    for (const name of w?.models ?? []) {
      const m = c.gateway?.models?.[name];
      if (m?.provider === 'bedrock') ids.add(m.modelId);
    }
  }
  return [...ids];
}

/** What `region` lacks for this config, one entry per missing thing (empty: the region can hold it). */
export function missingInRegion(c: StageConfig, region: string): string[] {
  const missing: string[] = [];
  for (const [type, regions] of Object.entries(REGION_AVAILABILITY.resourceTypes)) {
    if (!regions.includes(region)) missing.push(`resource type ${type}`);
  }
  if (!REGION_AVAILABILITY.auroraPostgresServerlessV2.includes(region)) missing.push('Aurora PostgreSQL Serverless v2 (instance class db.serverless)');
  const frameworks = [InferenceFramework.TEXT_EMBEDDINGS_INFERENCE, ...(c.generation?.enabled ? [InferenceFramework.LARGE_MODEL_INFERENCE] : [])];
  const serverlessQuestions = c.questionEmbedding?.path === 'serverless';
  if (serverlessQuestions) frameworks.push(InferenceFramework.TEXT_EMBEDDINGS_INFERENCE_CPU);
  for (const f of frameworks) if (!PUBLISHED_IMAGES[f].registries[region]) missing.push(`${f.toUpperCase()} container image`);
  if (serverlessQuestions && !SERVERLESS_INFERENCE_REGIONS.includes(region)) missing.push('SageMaker Serverless Inference (questionEmbedding.path serverless)');
  for (const id of chainModelIds(c)) {
    if (MODEL_CATALOG[id] && !modelRegions(id).includes(region)) missing.push(`Bedrock model ${id} (neither on demand in-region nor through an inference profile)`);
  }
  return missing;
}

/** Every region of the aws partition that has everything this config uses. */
export function stageSupportedRegions(c: StageConfig): string[] {
  return REGION_AVAILABILITY.regions.filter((r) => missingInRegion(c, r).length === 0);
}
