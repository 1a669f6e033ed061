/**
 * Checks the account can hold this stage before `cdk deploy`, with read-only calls: GPU endpoint
 * instance quotas (new accounts often have 0), Lambda concurrency (reserved concurrency must leave 10
 * unreserved), API Gateway's CloudWatch Logs role, the CDK bootstrap version in the stage's region and
 * us-east-1, each Bedrock model of the gateway chains (lifecycle, access, inference profile), and the
 * cost-allocation tags the budgets filter on (active, or the budgets see 0 USD).
 * scripts/preflight_quotas.py and preflight_account.py make the calls.
 * `npm run deploy` runs it first and refuses to deploy when it fails.
 *
 *   npm run preflight -- -c stage=pilot [-c region=eu-west-1]
 *
 * Without AWS credentials it prints what it would check and exits 0. DOCAI_PREFLIGHT_RECORDED=<file>
 * answers the AWS calls from recorded responses (tests).
 */
import { spawnSync } from 'child_process';
import * as path from 'path';
import { chainModelIds, invocationFor, MODEL_CATALOG, modelRegions, resolveStageConfig, StageConfig, StageConfigError } from '../lib/config';
import { TAG_KEYS } from '../lib/contract';
import { Cli, CliError, CONTEXT_FLAG, contextPairs, parseCli } from './cli';
import { synthesizeStage } from './synth';

const CLI: Cli = {
  name: 'npm run preflight',
  usage: 'npm run preflight -- -c stage=<pilot|production> [-c key=value ...]',
  summary: 'Checks the account before a deploy: quotas (GPU endpoint instances, Lambda concurrency), the API Gateway logging role, the CDK bootstrap, model lifecycle and access of each gateway chain, and the cost-allocation tags the budgets filter on. Without AWS credentials it prints what it would check.',
  flags: { context: CONTEXT_FLAG },
};

let config: StageConfig;
try {
  const { values } = parseCli(CLI);
  const ctx = contextPairs(CLI, values.context as string[] | undefined);
  config = resolveStageConfig((k) => ctx[k], { contextKeys: Object.keys(ctx) });
} catch (e) {
  if (e instanceof StageConfigError || e instanceof CliError) {
    console.error(e.message);
    process.exit(e instanceof CliError ? 2 : 1);
  }
  throw e;
}

const endpoints = [{ name: 'embedding', ...config.embedding }, ...(config.generation.enabled ? [{ name: 'generation', ...config.generation }] : [])];
const needs: Record<string, number> = {};
for (const e of endpoints) needs[e.instanceType] = (needs[e.instanceType] ?? 0) + e.maxInstances;
// Reserved concurrency of the stage's functions, read from the stage as synthesized (no bundling).
let reserved = 0;
const synthesized = synthesizeStage(config);
for (const t of Object.values(synthesized.templates)) {
  for (const r of Object.values(t.Resources as Record<string, any>)) if (r.Type === 'AWS::Lambda::Function') reserved += r.Properties.ReservedConcurrentExecutions ?? 0;
}

// What the stage's bounded entry points can drive at once: ingestion invocations, Embed batches, backfill items.
const peak = config.ingestion.maxConcurrency + config.pipeline.embedConcurrency + config.pipeline.backfillConcurrency;
const recorded = process.env.DOCAI_PREFLIGHT_RECORDED;
// Each chain model with the id the gateway calls it by in each region, and the regions IAM allows (model-catalog.ts).
const models = Object.entries(config.gateway.models).filter(([, m]) => m.provider === 'bedrock' && chainModelIds(config).includes(m.modelId)).map(([name, m]) => {
  const regions = MODEL_CATALOG[m.modelId] ? modelRegions(m.modelId) : [];
  return {
    name, modelId: m.modelId,
    invocation: Object.fromEntries(regions.map((r) => [r, invocationFor(m.modelId, r)!.invocationId])),
    destinations: Object.fromEntries(regions.map((r) => [r, invocationFor(m.modelId, r)!.foundationModelRegions])),
  };
});
const py = path.join(__dirname, '..', '.venv', 'bin', 'python');
function budgetTagKeys(c: StageConfig): string[] {
  return [TAG_KEYS.project, TAG_KEYS.environment, ...(Object.keys(c.budget.workloadLimitsUsd).length ? [TAG_KEYS.workload] : [])];
}
const r = spawnSync(py, [path.join(__dirname, 'preflight_quotas.py'), '--stage', config.stage, '--reserved-concurrency', String(reserved), '--peak-concurrency', String(peak),
  ...(recorded ? ['--recorded-responses', recorded] : []),
  '--bootstrap-parameter', synthesized.bootstrap.parameter, '--bootstrap-version', String(synthesized.bootstrap.version), ...synthesized.pinnedRegions.flatMap((r) => ['--bootstrap-region', r]),
  '--models', JSON.stringify(models), ...(config.query.apiGatewayAccountRole ? ['--apigateway-role-owned'] : []),
  // The embedding model loads from this account's bucket (network isolation): staged, with the table's checksums.
  '--staged-model', config.embedding.modelId, ...(process.env.DOCAI_PREFLIGHT_MODEL_TABLE ? ['--model-table', process.env.DOCAI_PREFLIGHT_MODEL_TABLE] : []),
  // The tags the cost stack's budgets filter on (lib/cost-controls): inactive, every budget sees 0 USD.
  ...budgetTagKeys(config).flatMap((k) => ['--cost-allocation-tag', k]), ...(config.budget.activateCostAllocationTags ? ['--tags-activated-by-stage'] : []),
  ...(config.region ? ['--region', config.region] : []), ...Object.entries(needs).map(([t, n]) => `--endpoint-instances=${t}=${n}`)], { stdio: 'inherit' });
process.exit(r.status ?? 1);
