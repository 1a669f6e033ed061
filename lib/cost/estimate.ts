import { SAGEMAKER_INSTANCE_TYPES, PriceConfidence } from '../config/instance-catalog';
import { StageConfig } from '../config/stage-config';
import { interfaceEndpointsOf } from '../config/interface-endpoints';

/**
 * List prices used by the estimate: us-east-1, on-demand, collected 2026-11 (docs/prices.md). Prices
 * change; everything computed from them is an estimate. Instance prices live in the instance catalog.
 */
export const PRICES = {
  collected: '2026-11',
  region: 'us-east-1',
  rdsGp3GbMonth: 0.115,
  interfaceEndpointAzHour: 0.01,
  kmsKeyMonth: 1.0,
  kmsPer10kRequests: 0.03,
  secretMonth: 0.4,
  cloudwatchDashboardMonth: 3.0,
  cloudwatchAlarmMonth: 0.1,
  logsIngestGb: 0.5,
  logsStoreGbMonth: 0.03,
  lambdaArmGbSecond: 0.0000133334,
  lambdaPerMillionRequests: 0.2,
  stepFunctionsPer1kTransitions: 0.025,
  sqsPerMillionRequests: 0.4,
  s3GbMonth: 0.023,
  s3PutPer1k: 0.005,
  s3GetPer1k: 0.0004,
  xrayPerMillionTraces: 5.0,
  // The read side (docs/prices.md, "weak": one or two secondary sources, collected 2026-11).
  apiGatewayRestPerMillion: 3.5,
  wafWebAclMonth: 5.0,
  wafRuleMonth: 1.0,
  wafPerMillionRequests: 0.6,
  dynamodbPerMillionWriteUnits: 0.625,
  dynamodbPerMillionReadUnits: 0.125,
  /** Bedrock Guardrails per 1,000 text units (1,000 characters): content filters incl. prompt attack, and sensitive information. */
  guardrailContentPer1kTextUnits: 0.15,
  guardrailPiiPer1kTextUnits: 0.1,
  // SageMaker Serverless Inference (docs/prices.md, "weak"): compute per GB-second of the configured
  // memory (0.0000200 USD per second at 1 GB), data processed in and out, provisioned concurrency.
  serverlessInferenceGbSecond: 0.00002,
  serverlessInferencePerGbData: 0.016,
  serverlessProvisionedGbSecond: 0.0000048,
} as const;

/**
 * The question-embedding step on Serverless Inference, as this estimate assumes it (AWS publishes no
 * latency figures; npm run bench:question-embedding measures the code path locally):
 * - a warm call runs ~0.1 s (TEI CPU, a base-size model, one short question);
 * - a cold start (container start and model download from the Hub) ~20 s, billed like a call
 *   (counted to stay on the safe side), at most once an hour of the day: AWS does not publish how
 *   long an idle serverless endpoint stays warm, so every hour is assumed to start cold;
 * - each call moves ~10 KB (question in, 768 floats as JSON out).
 */
export const QUESTION_EMBEDDING = { warmSeconds: 0.1, coldStartSeconds: 20, coldStartsPerDay: 24, kbPerCall: 10 } as const;

const HOURS_PER_MONTH = 730;
const DAYS_PER_MONTH = 30;

/** Per-document assumptions: shown with the estimate, overridable on the command line. */
export interface WorkloadAssumptions {
  readonly docsPerDay: number;
  /** Average document size, MB. @default 0.5 */
  readonly docMb?: number;
  /** Chunks per document. @default 30 */
  readonly chunksPerDoc?: number;
  /** Hours a day documents arrive; a scale-to-zero endpoint runs this long (plus its cooldown). @default 8 */
  readonly activeHoursPerDay?: number;
  /** Chunks one GPU instance embeds per second (TEI, base-size model, batch 32). @default 200 */
  readonly chunksPerSecondPerInstance?: number;
  /** Minutes from the first request on a scaled-to-zero endpoint until a copy serves (instance start, model load). @default 6 */
  readonly coldStartMinutes?: number;
  /**
   * Minutes of no traffic before target tracking scales the copies in (its scale-in alarm waits for a
   * sustained low metric: https://docs.aws.amazon.com/autoscaling/application/userguide/application-auto-scaling-target-tracking.html);
   * an assumption of this estimate, measured on a real endpoint before relying on it. @default 15
   */
  readonly scaleInDetectMinutes?: number;
  /** Questions asked per day through POST /query. @default 500 */
  readonly queriesPerDay?: number;
  /** Prompt tokens per answer (instructions + retrieved chunks + question). @default 2800 */
  readonly promptTokensPerQuery?: number;
  /** Answer tokens. @default 300 */
  readonly answerTokensPerQuery?: number;
  /** Percent of questions answered from the cache. @default 10 */
  readonly cacheHitPercent?: number;
}

export interface CostLine {
  readonly service: string;
  readonly item: string;
  /** Monthly USD with nothing uploaded. */
  readonly idleUsd: number;
  /** Monthly USD added by the load. */
  readonly usageUsd: number;
  readonly confidence: PriceConfidence;
}

export interface CostEstimate {
  readonly stage: string;
  /** The assumptions the estimate really used (defaults filled in). */
  readonly assumptions: Required<WorkloadAssumptions>;
  readonly docsPerDay: number;
  readonly lines: CostLine[];
  readonly idleTotalUsd: number;
  readonly totalUsd: number;
  /** Usage cost per 1,000 documents (excludes the idle floor). */
  readonly usagePer1000DocsUsd: number;
  /** Total monthly cost divided by thousands of documents processed in the month. */
  readonly allInPer1000DocsUsd: number;
  /** Usage cost of the read side per 1,000 questions (API, WAF requests, functions, tokens, guardrails, DynamoDB, audit). */
  readonly per1000QueriesUsd: number;
}

/** Per endpoint: 5 alarms to the topic; scaling to zero adds the no-capacity alarm and the scale-out-from-zero step alarm. */
const endpointAlarms = (scaling: string) => (scaling === 'scale-to-zero' ? 7 : 5);

const targetTrackingPolicies = (scaling: string) => (scaling === 'always-on' ? 2 : 1);

/** Counts the stage's fixed resources from its config (the same numbers the stacks create). */
export function fixedResources(c: StageConfig) {
  return {
    interfaceEndpoints: interfaceEndpointsOf(c).length,
    endpointAzs: c.network.interfaceEndpointsInEveryAz ? c.network.maxAzs : 1,
    // data: alarm topic, flow logs, ingestion queues, intake, database, operations; app stack; cost: alert
    // topic, and the tag activation's logs when the stage activates cost-allocation tags
    // + the model gateway's and the audit trail's keys
    kmsKeys: 10 + (c.budget.activateCostAllocationTags ? 1 : 0),
    secrets: 1,
    dashboards: 1,
    // ingestion (2) + review DLQ and async failures (2) + per endpoint (endpointAlarms) + observability
    // (5 + composite); test/cost/estimate.test.ts counts them in the synthesized app
    // + query API (5xx rate, p95 latency) + one budget alarm per gateway workflow + the break-glass
    // notifications' dead-letter queue (lib/break-glass)
    alarms: 5 + endpointAlarms(c.embedding.scaling) + (c.generation.enabled ? endpointAlarms(c.generation.scaling) : 0) + (c.questionEmbedding.path === 'serverless' ? 3 : 0) + 6 + 2 + Object.keys(c.gateway.workflows).length,
    // Application Auto Scaling creates two alarms (high, low) per target-tracking policy at deploy
    // time; they are billed like any alarm but are not in the templates. Per endpoint: invocations
    // per copy, plus GPU utilization when always on.
    // https://docs.aws.amazon.com/autoscaling/application/userguide/application-auto-scaling-target-tracking.html
    targetTrackingAlarms: 2 * (targetTrackingPolicies(c.embedding.scaling) + (c.generation.enabled ? targetTrackingPolicies(c.generation.scaling) : 0)),
  };
}

/** How a scale-to-zero endpoint spends GPU time at a load: the estimate's GPU hours, and what documents wait. */
export interface GpuSchedule {
  /** Times a day the endpoint scales out from zero. */
  readonly startsPerDay: number;
  readonly instances: number;
  readonly gpuHoursPerDay: number;
  /** Longest wait of a document before it is embedded, minutes. */
  readonly maxWaitMinutes: number;
}

/**
 * GPU time of a scale-to-zero endpoint. With an embedding window the endpoint starts once per
 * window that has documents and runs cold start + the window's work + scale-in detection + the
 * scale-in cooldown; without one it runs while documents arrive (activeHoursPerDay) plus the same
 * tail once a day. The work is chunks / measured chunks per second.
 */
export function gpuSchedule(e: { maxInstances: number; batchWindowMinutes?: number; scaleInCooldownMinutes?: number }, a: Required<WorkloadAssumptions>): GpuSchedule {
  const tailMinutes = a.scaleInDetectMinutes + (e.scaleInCooldownMinutes ?? 15);
  const chunksPerDay = a.docsPerDay * a.chunksPerDoc;
  if (a.docsPerDay <= 0) return { startsPerDay: 0, instances: 0, gpuHoursPerDay: 0, maxWaitMinutes: 0 };
  const window = e.batchWindowMinutes ?? 0;
  if (window > 0) {
    const startsPerDay = Math.min(1440 / window, Math.ceil(a.docsPerDay));
    const workSeconds = chunksPerDay / startsPerDay / a.chunksPerSecondPerInstance;
    const instances = Math.min(e.maxInstances, Math.max(1, Math.ceil(workSeconds / (window * 60))));
    const hoursPerStart = (a.coldStartMinutes + tailMinutes) / 60 + workSeconds / instances / 3600;
    return { startsPerDay, instances, gpuHoursPerDay: startsPerDay * instances * hoursPerStart, maxWaitMinutes: window + a.coldStartMinutes };
  }
  const perSecond = chunksPerDay / (a.activeHoursPerDay * 3600);
  const instances = Math.min(e.maxInstances, Math.max(1, Math.ceil(perSecond / a.chunksPerSecondPerInstance)));
  return { startsPerDay: 1, instances, gpuHoursPerDay: instances * (a.activeHoursPerDay + (a.coldStartMinutes + tailMinutes) / 60), maxWaitMinutes: a.coldStartMinutes };
}

function endpointCost(name: string, e: { instanceType: string; scaling: string; minInstances: number; maxInstances: number; batchWindowMinutes?: number; scaleInCooldownMinutes?: number }, a: Required<WorkloadAssumptions>): CostLine {
  const type = SAGEMAKER_INSTANCE_TYPES[e.instanceType];
  if (!type) throw new Error(`cost estimate: no price for SageMaker instance type "${e.instanceType}" (${name}); add it with its price to lib/config/instance-catalog.ts`);
  const idle = e.scaling === 'always-on' ? e.minInstances * HOURS_PER_MONTH * type.usdPerHour : 0;
  let usage = 0;
  let item = `${name} endpoint ${e.instanceType} (${e.scaling})`;
  if (a.docsPerDay > 0) {
    if (e.scaling === 'always-on') {
      const chunksPerSecond = (a.docsPerDay * a.chunksPerDoc) / (a.activeHoursPerDay * 3600);
      const needed = Math.min(e.maxInstances, Math.max(1, Math.ceil(chunksPerSecond / a.chunksPerSecondPerInstance)));
      usage = Math.max(0, needed - e.minInstances) * a.activeHoursPerDay * DAYS_PER_MONTH * type.usdPerHour;
    } else {
      const s = gpuSchedule(e, a);
      usage = s.gpuHoursPerDay * DAYS_PER_MONTH * type.usdPerHour;
      item += `, ${s.gpuHoursPerDay.toFixed(2)} GPU-h/day`;
    }
  }
  return { service: 'SageMaker', item, idleUsd: idle, usageUsd: usage, confidence: type.priceConfidence };
}

export const DEFAULT_ASSUMPTIONS = {
  docMb: 0.5, chunksPerDoc: 30, activeHoursPerDay: 8, chunksPerSecondPerInstance: 200, coldStartMinutes: 6, scaleInDetectMinutes: 15,
  queriesPerDay: 500, promptTokensPerQuery: 2800, answerTokensPerQuery: 300, cacheHitPercent: 10,
} as const;

/** The valid range of each assumption: [min, max, min exclusive]. */
export const ASSUMPTION_RANGES: Record<keyof WorkloadAssumptions, { min: number; max: number; minExclusive?: boolean; integer?: boolean; what: string }> = {
  docsPerDay: { min: 0, max: 100_000_000, what: 'documents uploaded per day' },
  docMb: { min: 0, max: 5120, minExclusive: true, what: 'average document size in MB' },
  chunksPerDoc: { min: 1, max: 1_000_000, what: 'chunks per document' },
  activeHoursPerDay: { min: 0, max: 24, minExclusive: true, what: 'hours a day documents arrive' },
  chunksPerSecondPerInstance: { min: 0, max: 1_000_000, minExclusive: true, what: 'chunks one GPU instance embeds per second' },
  coldStartMinutes: { min: 0, max: 120, what: 'minutes a scaled-to-zero endpoint takes to serve' },
  scaleInDetectMinutes: { min: 0, max: 120, what: 'minutes of no traffic before copies scale in' },
  queriesPerDay: { min: 0, max: 100_000_000, what: 'questions asked per day' },
  promptTokensPerQuery: { min: 1, max: 200_000, what: 'prompt tokens per answer' },
  answerTokensPerQuery: { min: 1, max: 8192, what: 'answer tokens' },
  cacheHitPercent: { min: 0, max: 100, what: 'percent of questions answered from the cache' },
};

/** One message per assumption out of its range, named as `name(field)` says (a CLI flag, say). */
export function assumptionProblems(a: WorkloadAssumptions, name: (field: keyof WorkloadAssumptions) => string = (f) => f): string[] {
  const problems: string[] = [];
  for (const [field, r] of Object.entries(ASSUMPTION_RANGES) as Array<[keyof WorkloadAssumptions, (typeof ASSUMPTION_RANGES)[keyof WorkloadAssumptions]]>) {
    const v = a[field];
    if (v === undefined) continue;
    const low = r.minExclusive ? v > r.min : v >= r.min;
    if (typeof v !== 'number' || !Number.isFinite(v) || !low || v > r.max) {
      problems.push(`${name(field)}: received ${JSON.stringify(v)}; expected ${r.what}, a number ${r.minExclusive ? 'above' : 'from'} ${r.min} ${r.minExclusive ? 'up ' : ''}to ${r.max}`);
    }
  }
  return problems;
}

/** The monthly estimate of a stage: idle, and at the given load. Throws on an instance type without a price or an assumption out of range. */
export function estimateMonthlyCost(c: StageConfig, assumptions: WorkloadAssumptions): CostEstimate {
  const a: Required<WorkloadAssumptions> = { ...DEFAULT_ASSUMPTIONS, ...assumptions };
  const bad = assumptionProblems(a);
  if (bad.length) throw new Error(`cost estimate: ${bad.join('; ')}`);
  const f = fixedResources(c);
  const docsMonth = a.docsPerDay * DAYS_PER_MONTH;
  const chunksMonth = docsMonth * a.chunksPerDoc;
  const P = PRICES;
  const lines: CostLine[] = [];
  const add = (service: string, item: string, idleUsd: number, usageUsd: number, confidence: PriceConfidence = 'good') => lines.push({ service, item, idleUsd, usageUsd, confidence });

  // Database: instance and storage (Multi-AZ doubles storage), plus growth from the month's chunks (~5 KB each with index).
  // Interim (aurora branch): the minimum capacity of every instance around the clock and storage at the
  // gp3 rate; the cost branch prices ACU-hours from the load, Aurora storage, I/O and the pauses.
  const instances = 1 + c.database.readers;
  add('RDS', `Aurora Serverless v2 minimum ${c.database.minCapacityAcu} ACU x ${instances}`, c.database.minCapacityAcu * instances * 0.12 * HOURS_PER_MONTH, 0, 'weak');
  add('RDS', 'Aurora storage (growth)', 0, ((chunksMonth * 5) / 1e6) * P.rdsGp3GbMonth, 'weak');
  add('VPC', `${f.interfaceEndpoints} interface endpoints x ${f.endpointAzs} AZ`, f.interfaceEndpoints * f.endpointAzs * P.interfaceEndpointAzHour * HOURS_PER_MONTH, 0);
  lines.push(endpointCost('embedding', c.embedding, a));
  if (c.generation.enabled) lines.push(endpointCost('generation', c.generation, a));

  // Per document: ~9 Lambda invocations (ingestion, validate, extract, chunk, 1 embed per 32 chunks, store), GB-seconds as sized
  // (ingestion 0.25 GB, validate 0.25, extract 2, chunk 2, embed 0.5, store 2: lib/document-pipeline).
  const embedCalls = Math.ceil(a.chunksPerDoc / c.pipeline.embedBatchSize);
  const gbSecondsPerDoc = 0.25 * 0.2 + 0.25 * 0.3 + 2 * 2 * a.docMb + 2 * 0.5 + 0.5 * 1 * embedCalls + 2 * 1;
  add('Lambda', 'pipeline and ingestion functions (arm64)', 0, docsMonth * (gbSecondsPerDoc * P.lambdaArmGbSecond + (6 + embedCalls) * (P.lambdaPerMillionRequests / 1e6)));
  add('Step Functions', 'Standard state transitions', 0, docsMonth * (10 + 2 * embedCalls + (c.embedding.batchWindowMinutes > 0 ? 1 : 0)) * (P.stepFunctionsPer1kTransitions / 1000));
  add('SQS', 'event, receive and delete requests', 0, docsMonth * 4 * (P.sqsPerMillionRequests / 1e6));
  // Intake storage accumulates: the month's uploads; work bucket objects expire in days.
  add('S3', 'documents stored (one month of uploads) and requests', 0, (docsMonth * a.docMb / 1000) * P.s3GbMonth + docsMonth * ((3 + 2 * embedCalls) * P.s3PutPer1k + (4 + 2 * embedCalls) * P.s3GetPer1k) / 1000);
  add('KMS', `${f.kmsKeys} customer-managed keys and requests`, f.kmsKeys * P.kmsKeyMonth, docsMonth * 20 * (P.kmsPer10kRequests / 10000));
  add('Secrets Manager', 'database master secret', f.secrets * P.secretMonth, 0);
  add('CloudWatch', `${f.dashboards} dashboard, ${f.alarms} alarms + ${f.targetTrackingAlarms} target-tracking alarms`, f.dashboards * P.cloudwatchDashboardMonth + (f.alarms + f.targetTrackingAlarms) * P.cloudwatchAlarmMonth, 0);
  add('CloudWatch Logs', 'JSON logs and EMF metrics (~20 KB per document), stored a year', 0, (docsMonth * 20e3 / 1e9) * (P.logsIngestGb + P.logsStoreGbMonth * 6));
  add('X-Ray', 'traces (one per invocation)', 0, docsMonth * (6 + embedCalls) * (P.xrayPerMillionTraces / 1e6));

  const readSide = queryCost(c, a);
  lines.push(...readSide);

  const idleTotalUsd = lines.reduce((s, l) => s + l.idleUsd, 0);
  const usage = lines.reduce((s, l) => s + l.usageUsd, 0);
  const queryThousands = (a.queriesPerDay * DAYS_PER_MONTH) / 1000;
  const thousands = docsMonth / 1000;
  return {
    stage: c.stage,
    assumptions: a,
    docsPerDay: a.docsPerDay,
    lines,
    idleTotalUsd,
    totalUsd: idleTotalUsd + usage,
    // The write side only: questions are priced per 1,000 questions below.
    usagePer1000DocsUsd: thousands > 0 ? (usage - readSide.reduce((t, l) => t + l.usageUsd, 0)) / thousands : 0,
    allInPer1000DocsUsd: thousands > 0 ? (idleTotalUsd + usage) / thousands : 0,
    per1000QueriesUsd: queryThousands > 0 ? readSide.reduce((s, l) => s + l.usageUsd, 0) / queryThousands : 0,
  };
}

/** The read side: API Gateway, WAF, Cognito, the query and retrieve functions, model tokens, guardrails, DynamoDB, the audit trail. */
function queryCost(c: StageConfig, a: Required<WorkloadAssumptions>): CostLine[] {
  const P = PRICES;
  const q = a.queriesPerDay * DAYS_PER_MONTH;
  const answered = q * (1 - a.cacheHitPercent / 100);
  const lines: CostLine[] = [];
  const add = (service: string, item: string, idleUsd: number, usageUsd: number, confidence: PriceConfidence = 'weak') => lines.push({ service, item, idleUsd, usageUsd, confidence });
  add('API Gateway', 'REST API requests', 0, q * (P.apiGatewayRestPerMillion / 1e6));
  const qe = c.questionEmbedding;
  if (qe.path === 'serverless') {
    // Every question is embedded (the answer cache is consulted after retrieval).
    const gb = qe.memorySizeMb / 1024;
    const colds = Math.min(a.queriesPerDay, QUESTION_EMBEDDING.coldStartsPerDay) * DAYS_PER_MONTH;
    const compute = (q * QUESTION_EMBEDDING.warmSeconds + colds * QUESTION_EMBEDDING.coldStartSeconds) * gb * P.serverlessInferenceGbSecond;
    const data = (q * QUESTION_EMBEDDING.kbPerCall / 1e6) * P.serverlessInferencePerGbData;
    const provisioned = qe.provisionedConcurrency * gb * HOURS_PER_MONTH * 3600 * P.serverlessProvisionedGbSecond;
    add('SageMaker Serverless', `question embedding (${qe.memorySizeMb} MB, ${QUESTION_EMBEDDING.warmSeconds} s per question, ${QUESTION_EMBEDDING.coldStartsPerDay} cold starts of ${QUESTION_EMBEDDING.coldStartSeconds} s a day${qe.provisionedConcurrency ? `, ${qe.provisionedConcurrency} provisioned` : ''})`, provisioned, compute + data);
  }
  add('WAF', 'web ACL, 3 rules (2 AWS managed groups, rate limit), requests', P.wafWebAclMonth + 3 * P.wafRuleMonth, q * (P.wafPerMillionRequests / 1e6));
  add('Cognito', 'user pool: up to 10,000 monthly active users free (Essentials)', 0, 0);
  // query: ~1.5 s at 1 GB (waits on the model); retrieve: ~0.2 s at 0.5 GB
  add('Lambda', 'query and retrieve functions (arm64)', 0, q * ((1.5 * 1 + 0.2 * 0.5) * P.lambdaArmGbSecond + 2 * (P.lambdaPerMillionRequests / 1e6)), 'good');
  const primary = c.gateway.models[c.gateway.workflows.answer.models[0]];
  const tokenUsd = (a.promptTokensPerQuery * primary.usdPerMillionInputTokens + a.answerTokensPerQuery * primary.usdPerMillionOutputTokens) / 1e6;
  add(primary.provider === 'bedrock' ? 'Bedrock' : 'SageMaker', `${primary.modelId}: ${a.promptTokensPerQuery} + ${a.answerTokensPerQuery} tokens per answer, ${a.cacheHitPercent}% from cache`, 0, answered * tokenUsd);
  // One text unit (1,000 characters) each for question and answer, both policies.
  add('Bedrock Guardrails', 'question and answer screened (content filters + personal data)', 0, q * 2 * (P.guardrailContentPer1kTextUnits + P.guardrailPiiPer1kTextUnits) / 1000);
  // Per answered question: a 3-item transaction (2 write units each), 3 settles, 1 cache write; 1 cache read per question.
  add('DynamoDB', 'gateway table on demand (budgets, cache)', 0, answered * 10 * (P.dynamodbPerMillionWriteUnits / 1e6) + q * (P.dynamodbPerMillionReadUnits / 1e6));
  // One ~4 KB record per request, kept for the stage's retention: the month's records and their PUTs.
  add('S3', `audit trail (~4 KB per request, kept ${c.query.auditRetentionDays} days)`, 0, (q * 4e3 / 1e9) * P.s3GbMonth * Math.min(12, c.query.auditRetentionDays / 30) / 2 + q * (P.s3PutPer1k / 1000), 'good');
  add('CloudWatch Logs', 'API access logs, function logs and EMF (~6 KB per request)', 0, (q * 6e3 / 1e9) * (P.logsIngestGb + P.logsStoreGbMonth * 6), 'good');
  return lines;
}

export function formatEstimate(c: StageConfig, base: CostEstimate, tenX: CostEstimate, idle: CostEstimate): string {
  const usd = (n: number) => n.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  const rows = base.lines.map((l, i) => [`${l.service}: ${l.item}${l.confidence === 'weak' ? ' *' : ''}`, usd(idle.lines[i].idleUsd + idle.lines[i].usageUsd), usd(l.idleUsd + l.usageUsd), usd(tenX.lines[i].idleUsd + tenX.lines[i].usageUsd)]);
  const w = Math.max(...rows.map((r) => r[0].length), 20);
  const out = [
    `ESTIMATE of monthly cost for stage "${c.stage}" at ${PRICES.region} on-demand list prices collected ${PRICES.collected} (docs/prices.md). Prices change: verify before quoting.`,
    `Load: ${base.docsPerDay.toLocaleString('en-US')} documents/day; 10x: ${tenX.docsPerDay.toLocaleString('en-US')}/day.`,
    `Assumptions used: ${assumptionText(base.assumptions)}.`,
    ...gpuLines(c, base),
    '',
    `${'line'.padEnd(w)}  ${'idle'.padStart(10)}  ${'at load'.padStart(10)}  ${'at 10x'.padStart(10)}   (USD / month)`,
    ...rows.map((r) => `${r[0].padEnd(w)}  ${r[1].padStart(10)}  ${r[2].padStart(10)}  ${r[3].padStart(10)}`),
    `${'TOTAL'.padEnd(w)}  ${usd(idle.totalUsd).padStart(10)}  ${usd(base.totalUsd).padStart(10)}  ${usd(tenX.totalUsd).padStart(10)}`,
    '',
    `Cost per 1,000 questions (read side: API, WAF, functions, ${c.gateway.workflows.answer.models[0]} tokens, guardrails, DynamoDB, audit): ${usd(base.per1000QueriesUsd)} USD at ${base.assumptions.queriesPerDay.toLocaleString('en-US')} questions/day.`,
    `Cost per 1,000 documents: usage ${usd(base.usagePer1000DocsUsd)} USD at load, ${usd(tenX.usagePer1000DocsUsd)} at 10x; all-in (with the idle floor) ${usd(base.allInPer1000DocsUsd)} at load, ${usd(tenX.allInPer1000DocsUsd)} at 10x.`,
    `* weak price source (one or two secondary sources). Not included: data transfer, support plans, free tiers (counted at full price).`,
    '',
    ...budgetComparison(c, { idle: idle.totalUsd, 'at load': base.totalUsd, 'at 10x': tenX.totalUsd }),
  ];
  return out.join('\n');
}

export function assumptionText(a: Required<WorkloadAssumptions>): string {
  return `${a.docMb} MB and ${a.chunksPerDoc} chunks per document, documents arriving ${a.activeHoursPerDay} hours a day, ${a.chunksPerSecondPerInstance} chunks/s per GPU instance, ` +
    `${a.coldStartMinutes} min cold start and ${a.scaleInDetectMinutes} min until scale-in is detected; ${a.queriesPerDay} questions a day, ${a.promptTokensPerQuery} prompt + ${a.answerTokensPerQuery} answer tokens, ${a.cacheHitPercent}% cache hits`;
}

/** The stage's monthly budget against each estimate; says OVER where an estimate exceeds it. */
export function budgetComparison(c: StageConfig, totals: Record<string, number>): string[] {
  const limit = c.budget.monthlyLimitUsd;
  const usd = (n: number) => n.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  const parts = Object.entries(totals).map(([label, t]) => `${label} ${usd(t)} USD = ${Math.round((100 * t) / limit)}%${t > limit ? ' OVER BUDGET' : ''}`);
  const over = Object.entries(totals).filter(([, t]) => t > limit).map(([l]) => l);
  return [
    `Budget of stage "${c.stage}": ${usd(limit)} USD/month (budget.monthlyLimitUsd; -c monthlyBudgetUsd=...). ${parts.join('; ')}.`,
    ...(over.length ? [`The estimate ${over.join(' and ')} exceeds the stage's budget: its budget alerts would fire. Raise the budget or change the stage before this load.`] : []),
  ];
}

/** The GPU schedule of a scale-to-zero embedding endpoint at the load, and what it costs in latency. */
function gpuLines(c: StageConfig, e: CostEstimate): string[] {
  if (c.embedding.scaling !== 'scale-to-zero' || e.docsPerDay <= 0) return [];
  const s = gpuSchedule(c.embedding, e.assumptions);
  const w = c.embedding.batchWindowMinutes;
  return [w > 0
    ? `GPU: embedding window every ${w} min (embedding.batchWindowMinutes): the endpoint starts ${s.startsPerDay} time(s) a day on ${s.instances} instance(s), ${s.gpuHoursPerDay.toFixed(2)} GPU-hours a day, then scales back to zero after ${e.assumptions.scaleInDetectMinutes} + ${c.embedding.scaleInCooldownMinutes} min. ` +
      `Latency this costs: a document waits up to ${formatMinutes(s.maxWaitMinutes)} (one window and the cold start) before it is searchable.`
    : `GPU: no embedding window: the endpoint runs while documents arrive, ${s.gpuHoursPerDay.toFixed(2)} GPU-hours a day; a document after idle waits about ${formatMinutes(s.maxWaitMinutes)} (cold start).`];
}

function formatMinutes(m: number): string {
  const h = Math.floor(m / 60);
  return h ? `${h} h ${Math.round(m % 60)} min` : `${Math.round(m)} min`;
}
