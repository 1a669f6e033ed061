import * as fs from 'fs';
import { SERVERLESS_MEMORY_SIZES_MB } from './image-catalog';
import { SAGEMAKER_INSTANCE_TYPES } from './instance-catalog';
import { MODEL_CATALOG } from './model-catalog';
import { PRESETS, WORKLOADS } from './presets';
import { missingInRegion, REGION_AVAILABILITY, stageSupportedRegions } from './regions';
import { READINESS_RULE_NAMES } from './readiness-rules';
import { ACCESS_TIERS } from '../contract';
import { configFileKeyProblems, CONTEXT_OVERRIDES, contextKeyProblems, nearest } from './keys';
import { ADOPTABLE_KEYS, StageConfig } from './stage-config';

/**
 * Thrown when the stage config is invalid. Carries every problem found, each naming the field,
 * the value received and the fix, so one run shows everything to correct.
 */
export class StageConfigError extends Error {
  constructor(public readonly problems: string[]) {
    super(`Invalid stage config (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n` + problems.map((p) => `  - ${p}`).join('\n'));
    this.name = 'StageConfigError';
  }
}

/** Reads context values the way the CDK gives them: strings from `-c`, JSON values from cdk.json. */
export type ContextReader = (key: string) => unknown;

type Mutable = Record<string, unknown>;

function deepMerge(base: unknown, over: unknown): unknown {
  if (over === undefined) return base;
  if (isPlainObject(base) && isPlainObject(over)) {
    const out: Mutable = { ...base };
    for (const [k, v] of Object.entries(over)) out[k] = deepMerge(base[k], v);
    return out;
  }
  return over;
}

function isPlainObject(v: unknown): v is Mutable {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function setPath(obj: Mutable, path: string, value: unknown): void {
  const parts = path.split('.');
  let cur = obj;
  for (const p of parts.slice(0, -1)) {
    cur[p] = { ...(cur[p] as Mutable) };
    cur = cur[p] as Mutable;
  }
  cur[parts[parts.length - 1]] = value;
}

function coerce(key: string, raw: unknown, type: 'string' | 'number' | 'boolean', problems: string[]): unknown {
  if (type === 'string') return typeof raw === 'string' ? raw.trim() : String(raw);
  if (type === 'number') {
    const n = typeof raw === 'number' ? raw : Number(String(raw).trim());
    if (String(raw).trim() === '' || Number.isNaN(n)) {
      problems.push(`${key}: received ${JSON.stringify(raw)}, which is not a number. Fix: -c ${key}=<number>, e.g. -c ${key}=500`);
      return undefined;
    }
    return n;
  }
  if (raw === true || raw === 'true') return true;
  if (raw === false || raw === 'false') return false;
  problems.push(`${key}: received ${JSON.stringify(raw)}; valid choices: true, false`);
  return undefined;
}

/**
 * Resolves the stage config from CDK context: `stage` picks the preset (default `pilot`), then
 * `configFile` and the flat overrides apply, then everything is validated. Throws
 * `StageConfigError` before any construct exists.
 *
 * `contextKeys`: every context key present (the app passes `app.node.getAllContext()`'s keys), so
 * a key the app does not read (`-c stag=production`) is an error with a did-you-mean instead of
 * being ignored.
 */
export function resolveStageConfig(context: ContextReader, opts: { contextKeys?: readonly string[]; onWarning?: (warning: string) => void } = {}): StageConfig {
  const problems: string[] = opts.contextKeys ? contextKeyProblems(opts.contextKeys) : [];
  const stageRaw = context('stage') ?? 'pilot';
  const stage = String(stageRaw).trim();
  const preset = PRESETS[stage];
  if (!preset) {
    throw new StageConfigError([
      `stage: received ${JSON.stringify(stageRaw)}; did you mean "${nearest(stage, Object.keys(PRESETS))}"? Valid choices: ${Object.keys(PRESETS).join(', ')}. Fix: -c stage=pilot or -c stage=production`,
    ]);
  }

  let merged: unknown = preset;
  const configFile = context('configFile');
  if (configFile !== undefined) {
    let fileValue: unknown;
    try {
      fileValue = JSON.parse(fs.readFileSync(String(configFile), 'utf8'));
    } catch (e) {
      throw new StageConfigError([`configFile: cannot read ${JSON.stringify(configFile)} as JSON (${(e as Error).message}). Fix: point -c configFile= at a JSON file holding a partial stage config`]);
    }
    if (!isPlainObject(fileValue)) {
      throw new StageConfigError([`configFile: ${JSON.stringify(configFile)} must hold a JSON object (a partial stage config)`]);
    }
    problems.push(...configFileKeyProblems(fileValue, String(configFile)));
    if ('stage' in fileValue) {
      problems.push(`configFile: sets "stage"; the stage is chosen only with -c stage=<name>. Fix: remove "stage" from ${configFile}`);
    }
    merged = deepMerge(preset, fileValue);
  }

  const cfg = JSON.parse(JSON.stringify(merged)) as Mutable;
  for (const [key, { path, type }] of Object.entries(CONTEXT_OVERRIDES)) {
    const raw = context(key);
    if (raw === undefined || raw === null) continue;
    const value = coerce(key, raw, type, problems);
    if (value !== undefined) setPath(cfg, path, value);
  }
  cfg.stage = stage;

  problems.push(...validateStageConfig(cfg as unknown as StageConfig));
  if (problems.length > 0) throw new StageConfigError(problems);
  for (const w of stageConfigWarnings(cfg as unknown as StageConfig)) (opts.onWarning ?? ((x: string) => console.error(`warning: ${x}`)))(w);
  return cfg as unknown as StageConfig;
}

/** What deploys but should change soon: a Legacy model (new accounts get no access, end of life is announced). */
export function stageConfigWarnings(c: StageConfig): string[] {
  const w: string[] = [];
  for (const [name, m] of Object.entries(c.gateway?.models ?? {})) {
    const entry = m?.provider === 'bedrock' ? MODEL_CATALOG[m.modelId] : undefined;
    if (entry?.lifecycle === 'LEGACY') {
      w.push(`gateway.models.${name}.modelId: "${m.modelId}" is Legacy on Bedrock${entry.legacySince ? ` since ${entry.legacySince}` : ''}${entry.eolDate ? `, end of life ${entry.eolDate}` : ''}: accounts that have not used it get no access. Fix: "modelId": "${entry.successor ?? 'an ACTIVE model of lib/config/model-catalog.ts'}" (${entry.sources[0]})`);
    }
  }
  return w;
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const PROJECT_NAME = /^[a-z][a-z0-9-]{1,19}$/;
const ACCOUNT = /^\d{12}$/;
const REGION = /^[a-z]{2}(-gov)?-[a-z]+-\d$/;
const TAG_VALUE = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]{1,256}$/u;
/**
 * The retention values CloudWatch Logs accepts (PutRetentionPolicy, retentionInDays:
 * https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutRetentionPolicy.html).
 * Listed, not read from aws-cdk-lib's RetentionDays, so reading a config loads no CDK;
 * test/config/load.test.ts compares the two.
 */
export const LOG_RETENTION_VALUES: readonly number[] = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];

/** Returns one message per problem; empty when the config is valid. */
export function validateStageConfig(c: StageConfig): string[] {
  const p: string[] = [];
  const got = (v: unknown) => `received ${JSON.stringify(v)}`;
  const int = (field: string, v: unknown, min: number, max: number, fix = '') => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      p.push(`${field}: ${got(v)}; expected a whole number from ${min} to ${max}${fix ? `. Fix: ${fix}` : ''}`);
      return false;
    }
    return true;
  };
  const num = (field: string, v: unknown, min: number, max: number, fix = '') => {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) {
      p.push(`${field}: ${got(v)}; expected a number from ${min} to ${max}${fix ? `. Fix: ${fix}` : ''}`);
    }
  };
  const bool = (field: string, v: unknown) => {
    if (typeof v !== 'boolean') p.push(`${field}: ${got(v)}; valid choices: true, false`);
  };
  const oneOf = (field: string, v: unknown, choices: readonly unknown[], fix = '') => {
    if (!choices.includes(v)) p.push(`${field}: ${got(v)}; valid choices: ${choices.join(', ')}${fix ? `. Fix: ${fix}` : ''}`);
  };

  if (typeof c.projectName !== 'string' || !PROJECT_NAME.test(c.projectName)) {
    p.push(`projectName: ${got(c.projectName)}; expected 2-20 characters, lower-case letters, digits and '-', starting with a letter (it prefixes stack and resource names). Fix: -c projectName=docai`);
  }
  if (c.environmentName !== undefined && (typeof c.environmentName !== 'string' || !PROJECT_NAME.test(c.environmentName))) {
    p.push(`environmentName: ${got(c.environmentName)}; expected 2-20 characters, lower-case letters, digits and '-', starting with a letter (it names the stacks and resources of this deployment). Fix: -c environmentName=pilot`);
  }
  if (c.account !== undefined && !ACCOUNT.test(String(c.account))) {
    p.push(`account: ${got(c.account)}; expected a 12-digit AWS account id. Fix: -c account=123456789012, or leave it out for an environment-agnostic synth`);
  }
  if (c.region !== undefined && !REGION.test(String(c.region))) {
    p.push(`region: ${got(c.region)}; expected an AWS region name such as us-east-1. Fix: -c region=us-east-1`);
  } else if (c.region !== undefined) {
    // Published per-region availability of everything the stage uses (regions.ts), so an unsupported
    // region fails here, not 45 s into the synth on a resource type.
    const missing = missingInRegion(c, c.region);
    if (missing.length > 0) {
      p.push(`region: ${got(c.region)}; AWS does not offer there what this stage uses: ${missing.join('; ')} (published data: lib/config/region-availability.json from cfn-lint ${REGION_AVAILABILITY.cfnLintVersion}, lib/config/image-catalog.ts, lib/config/model-catalog.ts). Regions that have everything: ${stageSupportedRegions(c).join(', ') || 'none'}. Fix: -c region=${stageSupportedRegions(c).includes('us-east-1') ? 'us-east-1' : stageSupportedRegions(c)[0]}`);
    }
  }
  if (c.alarmEmail !== undefined && (typeof c.alarmEmail !== 'string' || !EMAIL.test(c.alarmEmail))) {
    p.push(`alarmEmail: ${got(c.alarmEmail)}; expected an e-mail address like oncall@example.com. Fix: -c alarmEmail=oncall@example.com`);
  }
  for (const k of ['costCenter', 'businessUnit', 'owner'] as const) {
    const v = c.tags?.[k];
    if (typeof v !== 'string' || !TAG_VALUE.test(v)) {
      p.push(`tags.${k}: ${got(v)}; expected 1-256 characters of letters, digits, spaces and _ . : / = + - @ (an AWS tag value). Fix: -c ${k}=<value>`);
    }
  }
  bool('retainData', c.retainData);
  bool('terminationProtection', c.terminationProtection);
  oneOf('logRetentionDays', c.logRetentionDays, LOG_RETENTION_VALUES, 'use a CloudWatch Logs retention value');

  int('network.maxAzs', c.network?.maxAzs, 2, 6, 'the database subnet group needs at least 2 AZs');
  bool('network.interfaceEndpointsInEveryAz', c.network?.interfaceEndpointsInEveryAz);
  bool('network.privateLinkForAwsApis', c.network?.privateLinkForAwsApis);

  const i = c.intake;
  int('intake.infrequentAccessAfterDays', i?.infrequentAccessAfterDays, 30, 3650, 'S3 allows Standard-IA transitions after 30 days at the earliest');
  int('intake.noncurrentTransitionAfterDays', i?.noncurrentTransitionAfterDays, 1, 3650);
  int('intake.noncurrentExpirationDays', i?.noncurrentExpirationDays, 1, 3650);
  if (i && i.noncurrentExpirationDays <= i.noncurrentTransitionAfterDays) {
    p.push(`intake.noncurrentExpirationDays: ${got(i.noncurrentExpirationDays)}; must be greater than intake.noncurrentTransitionAfterDays (${i.noncurrentTransitionAfterDays}), or versions would expire before they move`);
  }
  int('intake.accessLogExpirationDays', i?.accessLogExpirationDays, 1, 3650);

  const g = c.ingestion;
  int('ingestion.maxReceiveCount', g?.maxReceiveCount, 1, 1000);
  int('ingestion.maxConcurrency', g?.maxConcurrency, 2, 1000, 'SQS event sources accept a maximum concurrency from 2 to 1000');
  int('ingestion.batchSize', g?.batchSize, 1, 10000);
  int('ingestion.functionTimeoutSeconds', g?.functionTimeoutSeconds, 3, 900);
  if (g && g.functionTimeoutSeconds * 6 > 43200) {
    p.push(`ingestion.functionTimeoutSeconds: ${got(g.functionTimeoutSeconds)}; six times it must fit the SQS visibility timeout limit of 43200 s, so at most 7200`);
  }
  int('ingestion.oldestMessageAlarmSeconds', g?.oldestMessageAlarmSeconds, 60, 1209600);

  // Aurora Serverless v2 capacity: 0 to 256 ACUs in half steps, 0 only where the engine supports
  // auto-pause (every Aurora PostgreSQL 17 release), a maximum of at least 1, pause after 300 to
  // 86400 idle seconds: https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_ServerlessV2ScalingConfiguration.html
  const d = c.database;
  const acu = (field: string, v: unknown, min: number) => {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > 256 || !Number.isInteger(v * 2)) {
      p.push(`${field}: ${got(v)}; expected Aurora capacity units from ${min} to 256 in steps of 0.5 (1 ACU ~ 2 GiB of memory)${min === 0 ? '; 0 pauses the database when idle' : ''}`);
      return false;
    }
    return true;
  };
  if (acu('database.minCapacityAcu', d?.minCapacityAcu, 0) && acu('database.maxCapacityAcu', d?.maxCapacityAcu, 1) && d.maxCapacityAcu < d.minCapacityAcu) {
    p.push(`database.maxCapacityAcu: ${got(d.maxCapacityAcu)}; must be at least database.minCapacityAcu (${d.minCapacityAcu}). Fix: raise maxCapacityAcu or lower minCapacityAcu`);
  }
  int('database.autoPauseSeconds', d?.autoPauseSeconds, 300, 86400, 'Aurora pauses an idle 0-ACU instance after 300 s to 1 day');
  if (int('database.readers', d?.readers, 0, 15, 'an Aurora cluster has at most 15 readers') && c.network?.maxAzs !== undefined && d.readers > 0 && c.network.maxAzs < 2) {
    p.push(`database.readers: ${got(d.readers)}; a reader belongs in another AZ than the writer, and network.maxAzs is ${c.network.maxAzs}`);
  }
  int('database.backupRetentionDays', d?.backupRetentionDays, 1, 35, 'Aurora keeps automated backups 1 to 35 days');
  bool('database.deletionProtection', d?.deletionProtection);

  for (const which of ['embedding', 'generation'] as const) {
    const e = c[which];
    if (which === 'generation') {
      bool('generation.enabled', c.generation?.enabled);
      if (c.generation?.enabled !== true) continue;
    }
    const type = SAGEMAKER_INSTANCE_TYPES[e?.instanceType];
    if (!type) {
      oneOf(`${which}.instanceType`, e?.instanceType, Object.keys(SAGEMAKER_INSTANCE_TYPES),
        'pick a SageMaker hosting instance type from this list (add one with its price to lib/config/instance-catalog.ts)');
    } else if (type.gpus === 0) {
      const gpuTypes = Object.values(SAGEMAKER_INSTANCE_TYPES).filter((t) => t.gpus > 0).map((t) => t.name);
      p.push(`${which}.instanceType: ${got(e.instanceType)} has no GPU, but the ${which === 'embedding' ? 'Text Embeddings Inference' : 'LLM serving'} container needs one; valid choices: ${gpuTypes.join(', ')}`);
    }
    if (typeof e?.modelId !== 'string' || !/^[\w.-]+(\/[\w.-]+)?$/.test(e.modelId)) {
      p.push(`${which}.modelId: ${got(e?.modelId)}; expected a Hugging Face model id like BAAI/bge-base-en-v1.5`);
    }
    oneOf(`${which}.scaling`, e?.scaling, ['scale-to-zero', 'always-on']);
    if (int(`${which}.maxInstances`, e?.maxInstances, 1, 100) && int(`${which}.minInstances`, e?.minInstances, 0, 100)) {
      if (e.minInstances > e.maxInstances) p.push(`${which}.minInstances: ${got(e.minInstances)}; must not exceed ${which}.maxInstances (${e.maxInstances})`);
      if (e.scaling === 'scale-to-zero' && e.minInstances !== 0) p.push(`${which}.minInstances: ${got(e.minInstances)}; must be 0 when ${which}.scaling is scale-to-zero. Fix: set minInstances to 0, or scaling to always-on`);
      if (e.scaling === 'always-on' && e.minInstances < 1) p.push(`${which}.minInstances: ${got(e.minInstances)}; must be at least 1 when ${which}.scaling is always-on. Fix: set minInstances to 1 or more, or scaling to scale-to-zero`);
    }
    if (int(`${which}.dataCapturePercent`, e?.dataCapturePercent, 0, 100) && e.dataCapturePercent > 0 && e.dataCaptureOptIn !== true) {
      const text = which === 'embedding' ? 'the text of every document chunk, of every access tier (public, internal, confidential, restricted)'
        : 'each question with the passages of the caller\'s tier, so across callers every access tier (public, internal, confidential, restricted)';
      p.push(`${which}.dataCapturePercent: ${got(e.dataCapturePercent)}; this captures ${e.dataCapturePercent}% of the endpoint's requests and responses: ${text}, kept in the capture bucket ` +
        `for 90 days and readable by anyone who may read that bucket and its key. Fix: set ${which}.dataCapturePercent to 0, or opt in with ${which}.dataCaptureOptIn: true`);
    }
    if (e?.dataCaptureOptIn !== undefined && typeof e.dataCaptureOptIn !== 'boolean') p.push(`${which}.dataCaptureOptIn: ${got(e.dataCaptureOptIn)}; expected true or false`);
  }
  int('embedding.dimension', c.embedding?.dimension, 1, 2000, 'pgvector HNSW indexes vectors of up to 2000 dimensions');
  if (int('embedding.batchWindowMinutes', c.embedding?.batchWindowMinutes, 0, 1440, '0 embeds at once; windows start every N minutes from midnight UTC')) {
    if (c.embedding.batchWindowMinutes > 0 && 1440 % c.embedding.batchWindowMinutes !== 0) {
      p.push(`embedding.batchWindowMinutes: ${got(c.embedding.batchWindowMinutes)}; must divide a day (1440 minutes) so windows start at the same times every day, e.g. 60, 240, 360, 720 or 1440`);
    }
    if (c.embedding.batchWindowMinutes > 0 && c.embedding.scaling === 'always-on') {
      p.push(`embedding.batchWindowMinutes: ${got(c.embedding.batchWindowMinutes)}; an always-on endpoint gains nothing from a window and documents would wait for it. Fix: 0, or embedding.scaling scale-to-zero`);
    }
  }
  int('embedding.scaleInCooldownMinutes', c.embedding?.scaleInCooldownMinutes, 1, 60);

  const pl = c.pipeline;
  int('pipeline.maxDocumentMiB', pl?.maxDocumentMiB, 1, 5120);
  if (int('pipeline.chunkTokens', pl?.chunkTokens, 32, 8192) && int('pipeline.chunkOverlapTokens', pl?.chunkOverlapTokens, 0, 4096)) {
    if (pl.chunkOverlapTokens >= pl.chunkTokens) p.push(`pipeline.chunkOverlapTokens: ${got(pl.chunkOverlapTokens)}; must be smaller than pipeline.chunkTokens (${pl.chunkTokens})`);
  }
  int('pipeline.embedBatchSize', pl?.embedBatchSize, 1, 256);
  int('pipeline.embedConcurrency', pl?.embedConcurrency, 1, 40);
  int('pipeline.humanReviewTimeoutHours', pl?.humanReviewTimeoutHours, 1, 24 * 364);
  oneOf('pipeline.logLevel', pl?.logLevel, ['ALL', 'ERROR']);
  bool('pipeline.includeExecutionData', pl?.includeExecutionData);
  oneOf('pipeline.defaultAccessTier', pl?.defaultAccessTier, ACCESS_TIERS);
  int('pipeline.backfillConcurrency', pl?.backfillConcurrency, 1, 10000);
  num('pipeline.backfillToleratedFailurePercent', pl?.backfillToleratedFailurePercent, 0, 100);

  const o = c.observability;
  num('observability.embeddingUsdPerMillionTokens', o?.embeddingUsdPerMillionTokens, 0, 1000);
  num('observability.errorRatePercent', o?.errorRatePercent, 0.1, 100);
  int('observability.modelLatencyP95Ms', o?.modelLatencyP95Ms, 1, 600000);
  num('observability.databaseCpuPercent', o?.databaseCpuPercent, 1, 100);
  num('observability.databaseAcuUtilizationPercent', o?.databaseAcuUtilizationPercent, 1, 100);
  int('observability.databaseConnections', o?.databaseConnections, 1, 100000);
  int('observability.vectorStoreMetricsHours', o?.vectorStoreMetricsHours, 1, 24, 'hours between measurements, e.g. 12 where the database pauses, 1 where it never does');

  p.push(...validateQuestionEmbedding(c, { int, num, oneOf, got }));
  p.push(...validateGateway(c, { int, num, oneOf, got }));
  const q = c.query;
  oneOf('query.authorization', q?.authorization, ['cognito', 'iam'], 'cognito for people (a user pool with tier groups), iam for service callers signing with SigV4');
  oneOf('query.iamCallerTier', q?.iamCallerTier, ACCESS_TIERS);
  if (!isPlainObject(q?.tierGroups) || Object.keys(q.tierGroups).length === 0) {
    p.push(`query.tierGroups: ${got(q?.tierGroups)}; expected an object of Cognito group -> tier (${ACCESS_TIERS.join(', ')})`);
  } else {
    for (const [group, tier] of Object.entries(q.tierGroups)) {
      if (!/^[\p{L}\p{M}\p{S}\p{N}\p{P}]{1,128}$/u.test(group)) p.push(`query.tierGroups: group name "${group}"; expected 1-128 characters without spaces (a Cognito group name)`);
      oneOf(`query.tierGroups.${group}`, tier, ACCESS_TIERS);
    }
  }
  if (int('query.maxTopK', q?.maxTopK, 1, 100) && int('query.defaultTopK', q?.defaultTopK, 1, 100) && q.defaultTopK > q.maxTopK) {
    p.push(`query.defaultTopK: ${got(q.defaultTopK)}; must not exceed query.maxTopK (${q.maxTopK})`);
  }
  if (int('query.throttle.rateLimit', q?.throttle?.rateLimit, 1, 10000, 'requests per second across the stage') && int('query.throttle.burstLimit', q?.throttle?.burstLimit, 1, 5000)) {
    if (q.throttle.burstLimit < q.throttle.rateLimit) p.push(`query.throttle.burstLimit: ${got(q.throttle.burstLimit)}; should be at least the rate limit (${q.throttle.rateLimit}), or bursts are cut below the steady rate`);
  }
  if (!Array.isArray(q?.clients) || q.clients.some((x) => typeof x !== 'string' || !/^[a-z][a-z0-9-]{0,39}$/.test(x))) {
    p.push(`query.clients: ${got(q?.clients)}; expected a list of client names (lower-case letters, digits, '-'), each getting an API key`);
  }
  int('query.clientDailyQuota', q?.clientDailyQuota, 0, 1e9, '0 = no quota');
  if (q?.apiGatewayAccountRole !== undefined && typeof q.apiGatewayAccountRole !== 'boolean') p.push(`query.apiGatewayAccountRole: ${got(q.apiGatewayAccountRole)}; valid choices: true, false (true: this stage owns the account's API Gateway logging role, one per account and region)`);
  int('query.wafRateLimitPer5Minutes', q?.wafRateLimitPer5Minutes, 10, 2e9, 'AWS WAF rate-based rules start at 10 requests per evaluation window');
  int('query.auditRetentionDays', q?.auditRetentionDays, 1, 36500);
  oneOf('query.auditLockMode', q?.auditLockMode, ['GOVERNANCE', 'COMPLIANCE'], 'COMPLIANCE cannot be shortened or lifted by anyone, the root user included, until each record\'s retention ends');
  num('query.alarm5xxPercent', q?.alarm5xxPercent, 0.1, 100);
  int('query.alarmP95LatencyMs', q?.alarmP95LatencyMs, 100, 29000, 'API Gateway ends requests at 29 s');

  const b = c.budget;
  num('budget.monthlyLimitUsd', b?.monthlyLimitUsd, 1, 10_000_000, '-c monthlyBudgetUsd=<a positive amount in USD>');
  num('budget.dailyGrowthPercent', b?.dailyGrowthPercent, 101, 100_000, 'percent of the recent daily average a day may cost before the growth alert; 150 = 1.5 times');
  int('budget.dailyGrowthBaselineDays', b?.dailyGrowthBaselineDays, 1, 60, 'AWS Budgets averages at most 60 days for a daily budget');
  num('budget.anomalyThresholdUsd', b?.anomalyThresholdUsd, 1, 1_000_000);
  oneOf('budget.anomalyMonitor', b?.anomalyMonitor, ['none', 'services'], 'in a configFile: {"budget": {"anomalyMonitor": "services"}} (one per account)');
  bool('budget.activateCostAllocationTags', b?.activateCostAllocationTags);
  if (!isPlainObject(c.acceptedReadinessDifferences)) {
    p.push(`acceptedReadinessDifferences: ${got(c.acceptedReadinessDifferences)}; expected an object of readiness rule -> reason`);
  } else {
    const rules: readonly string[] = READINESS_RULE_NAMES;
    for (const [rule, reason] of Object.entries(c.acceptedReadinessDifferences)) {
      if (!rules.includes(rule)) p.push(`acceptedReadinessDifferences: unknown readiness rule "${rule}"; did you mean "${nearest(rule, rules)}"? Rules: ${rules.join(', ')}`);
      if (typeof reason !== 'string' || reason.trim().length < 10) p.push(`acceptedReadinessDifferences.${rule}: ${got(reason)}; expected the reason this stage accepts the difference (a sentence a reviewer can judge)`);
    }
  }
  const r = c.rebuild;
  if (r !== undefined) {
    const KEY_ARN = /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[0-9a-f-]{36}$/;
    // An Aurora cluster snapshot by identifier or ARN, or an RDS DB (instance) snapshot by ARN: a cluster
    // restores from a DB snapshot only by its ARN (RestoreDBClusterFromSnapshot SnapshotIdentifier:
    // https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_RestoreDBClusterFromSnapshot.html).
    const SNAPSHOT = /^(arn:aws[a-z-]*:rds:[a-z0-9-]+:\d{12}:(cluster-snapshot|snapshot):)?(rds:)?[a-zA-Z][a-zA-Z0-9-]{0,254}$/;
    for (const [name, arn] of Object.entries(r.keys ?? {})) {
      // The flow logs share the operations key since the data stack has one key for its logs.
      if (name === 'flowLogs') p.push('rebuild.keys.flowLogs: the VPC flow logs are encrypted with the data stack\'s logs key, adopted as rebuild.keys.operations; drop flowLogs (the flow-log key of an older version stays with the log group it encrypted)');
      else if (!(ADOPTABLE_KEYS as readonly string[]).includes(name)) p.push(`rebuild.keys: unknown key "${name}"; did you mean "${nearest(name, [...ADOPTABLE_KEYS])}"? Keys: ${ADOPTABLE_KEYS.join(', ')}`);
      else if (typeof arn !== 'string' || !KEY_ARN.test(arn)) p.push(`rebuild.keys.${name}: ${got(arn)}; expected a KMS key ARN like arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab (the retained key; aws kms list-keys)`);
    }
    if (r.restoreFromSnapshot !== undefined) {
      if (typeof r.restoreFromSnapshot !== 'string' || !SNAPSHOT.test(r.restoreFromSnapshot)) {
        p.push(`rebuild.restoreFromSnapshot: ${got(r.restoreFromSnapshot)}; expected an Aurora DB cluster snapshot identifier or ARN (aws rds describe-db-cluster-snapshots), or the ARN of an RDS for PostgreSQL DB snapshot (aws rds describe-db-snapshots)`);
      }
      if (!r.keys?.database) {
        p.push('rebuild.restoreFromSnapshot: set rebuild.keys.database to the KMS key the snapshot is encrypted with (aws rds describe-db-cluster-snapshots --query "DBClusterSnapshots[].KmsKeyId"): a restored cluster keeps its snapshot\'s key, and its managed secret and logs use the same one');
      }
    }
  }
  if (!isPlainObject(b?.workloadLimitsUsd)) {
    p.push(`budget.workloadLimitsUsd: ${got(b?.workloadLimitsUsd)}; expected an object of workload -> USD`);
  } else {
    for (const [w, v] of Object.entries(b.workloadLimitsUsd)) {
      oneOf(`budget.workloadLimitsUsd key`, w, WORKLOADS);
      num(`budget.workloadLimitsUsd.${w}`, v, 1, 10_000_000);
    }
  }
  return p;
}

interface Checks {
  int: (field: string, v: unknown, min: number, max: number, fix?: string) => boolean;
  num: (field: string, v: unknown, min: number, max: number, fix?: string) => void;
  oneOf: (field: string, v: unknown, choices: readonly unknown[], fix?: string) => void;
  got: (v: unknown) => string;
}

function validateQuestionEmbedding(c: StageConfig, { int, oneOf, got }: Checks): string[] {
  const p: string[] = [];
  const q = c.questionEmbedding;
  if (!isPlainObject(q)) return [`questionEmbedding: ${got(q)}; expected { path, memorySizeMb, maxConcurrency, provisionedConcurrency } (see lib/config/presets.ts)`];
  oneOf('questionEmbedding.path', q.path, ['serverless', 'document-endpoint'], 'serverless embeds questions on SageMaker Serverless Inference (CPU), document-endpoint on the GPU endpoint that embeds the documents');
  if (q.path === 'document-endpoint' && c.embedding?.scaling === 'scale-to-zero') {
    p.push(`questionEmbedding.path: ${got(q.path)} while embedding.scaling is scale-to-zero: outside the embedding windows every question waits minutes for the GPU endpoint to start (503 warming_up). Fix: "serverless", or embedding.scaling always-on`);
  }
  if (q.path !== 'serverless') return p;
  oneOf('questionEmbedding.memorySizeMb', q.memorySizeMb, SERVERLESS_MEMORY_SIZES_MB, 'SageMaker Serverless Inference memory sizes (ProductionVariantServerlessConfig)');
  if (int('questionEmbedding.maxConcurrency', q.maxConcurrency, 1, 200, 'SageMaker Serverless Inference allows 1 to 200 concurrent invocations per endpoint')) {
    int('questionEmbedding.provisionedConcurrency', q.provisionedConcurrency, 0, q.maxConcurrency, `0 to questionEmbedding.maxConcurrency (${q.maxConcurrency}); each provisioned copy is billed while it exists`);
  }
  // A region without Serverless Inference is named with everything else the region lacks (regions.ts).
  return p;
}

const BEDROCK_MODEL_ID = /^[a-z0-9-]+\.[a-z0-9.:-]+$/;

function validateGateway(c: StageConfig, { int, num, oneOf, got }: Checks): string[] {
  const p: string[] = [];
  const g = c.gateway;
  if (!isPlainObject(g)) return [`gateway: ${got(g)}; expected the model gateway section (see lib/config/presets.ts)`];
  if (!isPlainObject(g.models) || Object.keys(g.models).length === 0) {
    p.push(`gateway.models: ${got(g.models)}; expected an object of model name -> { provider, modelId, usdPerMillionInputTokens, usdPerMillionOutputTokens }`);
  } else {
    for (const [name, m] of Object.entries(g.models)) {
      if (!/^[a-z][a-z0-9-]{0,39}$/.test(name)) p.push(`gateway.models: model name "${name}"; expected lower-case letters, digits and '-' (it names metrics)`);
      oneOf(`gateway.models.${name}.provider`, m?.provider, ['bedrock', 'sagemaker-lmi']);
      if (m?.provider === 'bedrock' && (typeof m.modelId !== 'string' || !BEDROCK_MODEL_ID.test(m.modelId))) {
        p.push(`gateway.models.${name}.modelId: ${got(m?.modelId)}; expected a Bedrock model id like amazon.nova-lite-v1:0 (lib/config/model-catalog.ts lists the ones this project knows)`);
      }
      if (m?.provider === 'bedrock' && typeof m.modelId === 'string' && BEDROCK_MODEL_ID.test(m.modelId)) {
        const entry = MODEL_CATALOG[m.modelId];
        const active = Object.values(MODEL_CATALOG).filter((x) => x.lifecycle === 'ACTIVE').map((x) => x.modelId);
        if (!entry) {
          p.push(`gateway.models.${name}.modelId: "${m.modelId}" is not in the model catalogue, so its lifecycle, regions and inference profile are unknown. Fix: use one of ${active.join(', ')}, or add the model to lib/config/model-catalog.ts from its Bedrock model card`);
        } else if (entry.lifecycle === 'EOL') {
          p.push(`gateway.models.${name}.modelId: "${m.modelId}" reached end of life on Bedrock${entry.eolDate ? ` on ${entry.eolDate}` : ''}: every call fails (ResourceNotFoundException). Fix: "modelId": "${entry.successor ?? active[0]}" (${entry.sources[0]})`);
        }
      }
      if (m?.provider === 'sagemaker-lmi' && m.modelId !== 'generation') {
        p.push(`gateway.models.${name}.modelId: ${got(m.modelId)}; a sagemaker-lmi model is this stage's generation endpoint. Fix: "modelId": "generation"`);
      }
      num(`gateway.models.${name}.usdPerMillionInputTokens`, m?.usdPerMillionInputTokens, 0, 1000);
      num(`gateway.models.${name}.usdPerMillionOutputTokens`, m?.usdPerMillionOutputTokens, 0, 1000);
    }
  }
  for (const [name, w] of Object.entries(g.workflows ?? {})) {
    const f = `gateway.workflows.${name}`;
    if (!Array.isArray(w?.models) || w.models.length === 0) {
      p.push(`${f}.models: ${got(w?.models)}; expected a list of model names from gateway.models, the first answering, the rest fallbacks`);
    } else {
      for (const m of w.models) {
        if (!isPlainObject(g.models) || !(m in g.models)) {
          p.push(`${f}.models: "${m}" is not in gateway.models; did you mean "${nearest(String(m), Object.keys(g.models ?? {}))}"?`);
        } else if (g.models[m].provider === 'sagemaker-lmi' && c.generation?.enabled !== true) {
          p.push(`${f}.models: "${m}" is the generation endpoint, which this stage does not deploy. Fix: -c generationEnabled=true, or remove "${m}" from the chain`);
        }
      }
      if (new Set(w.models).size !== w.models.length) p.push(`${f}.models: ${got(w.models)} names a model twice`);
    }
    int(`${f}.promptVersion`, w?.promptVersion, 1, 100_000, 'an SSM parameter version of the workflow\'s prompt (aws ssm get-parameter-history --name /<project>/<environment>/prompts/' + name + ')');
    int(`${f}.cacheTtlSeconds`, w?.cacheTtlSeconds, 0, 30 * 86400, '0 turns the cache off');
    int(`${f}.maxOutputTokens`, w?.maxOutputTokens, 16, 8192);
    const b = w?.budget;
    for (const k of ['dailyTokens', 'monthlyTokens', 'callerDailyTokens'] as const) int(`${f}.budget.${k}`, b?.[k], 0, 1e12, '0 = no limit');
    for (const k of ['dailyUsd', 'monthlyUsd'] as const) num(`${f}.budget.${k}`, b?.[k], 0, 1e7, '0 = no limit');
    if (b && b.dailyTokens && b.monthlyTokens && b.dailyTokens > b.monthlyTokens) p.push(`${f}.budget.dailyTokens: ${got(b.dailyTokens)}; larger than monthlyTokens (${b.monthlyTokens})`);
    if (b && w.maxOutputTokens && b.callerDailyTokens && b.callerDailyTokens < w.maxOutputTokens) {
      p.push(`${f}.budget.callerDailyTokens: ${got(b.callerDailyTokens)}; smaller than one answer (maxOutputTokens ${w.maxOutputTokens}): every request would be refused`);
    }
  }
  if (int('gateway.timeoutSeconds', g.timeoutSeconds, 1, 28, 'API Gateway ends a REST integration after 29 s; leave time for retrieval and the audit record')) {
    if (g.timeoutSeconds > 25) p.push(`gateway.timeoutSeconds: ${got(g.timeoutSeconds)}; leave at least 3 s of API Gateway's 29 s for embedding, retrieval and the audit record. Fix: 25 or less`);
  }
  int('gateway.retry.maxAttempts', g.retry?.maxAttempts, 1, 10);
  int('gateway.retry.baseDelayMs', g.retry?.baseDelayMs, 1, 10_000);
  int('gateway.retry.maxDelayMs', g.retry?.maxDelayMs, 1, 60_000);
  num('gateway.retry.notReadyWaitSeconds', g.retry?.notReadyWaitSeconds, 0, 25, '0 degrades at once while an endpoint scales from zero');
  int('gateway.breaker.failureThreshold', g.breaker?.failureThreshold, 1, 100);
  num('gateway.breaker.openSeconds', g.breaker?.openSeconds, 1, 3600);
  oneOf('gateway.guardrail.promptAttackStrength', g.guardrail?.promptAttackStrength, ['LOW', 'MEDIUM', 'HIGH']);
  oneOf('gateway.guardrail.personalData', g.guardrail?.personalData, ['ANONYMIZE', 'BLOCK']);
  num('gateway.budgetAlarmPercent', g.budgetAlarmPercent, 1, 100);
  return p;
}
