import { SAGEMAKER_INSTANCE_TYPES, PriceConfidence } from '../config/instance-catalog';
import { StageConfig } from '../config/stage-config';
import { interfaceEndpointsOf } from '../config/interface-endpoints';
import { API_DETAILED_METRICS, API_METHODS, customMetricSeries, MetricActivity } from './custom-metrics';

/**
 * List prices used by the estimate: us-east-1, on-demand, collected 2026-11 (docs/prices.md). Prices
 * change; everything computed from them is an estimate. Instance prices live in the instance catalog.
 */
export const PRICES = {
  collected: '2026-11',
  region: 'us-east-1',
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
  /** S3 Standard-IA storage: intake objects move there after intake.infrequentAccessAfterDays. */
  s3IaGbMonth: 0.0125,
  /**
   * Aurora Standard (not I/O-Optimized), us-east-1: Serverless v2 capacity per ACU-hour (billed per
   * second; 0 while paused: https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-serverless-v2-auto-pause.html),
   * storage per GB-month of the cluster volume actually used, I/O per million requests
   * (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/User_DBInstanceBilling.html;
   * prices: https://aws.amazon.com/rds/aurora/pricing/, docs/prices.md).
   */
  auroraAcuHour: 0.12,
  auroraStorageGbMonth: 0.1,
  auroraIoPerMillion: 0.2,
  /** Each yearly rotation of a key adds 1 USD per key-month, for the first and second rotation only (https://aws.amazon.com/kms/pricing/). */
  kmsRotationKeyMonth: 1.0,
  kmsBilledRotations: 2,
  /** Composite alarms are billed apart from metric alarms (https://aws.amazon.com/cloudwatch/pricing/). */
  cloudwatchCompositeAlarmMonth: 0.5,
  /** Per custom metric (name + dimensions) and month, prorated by the hour it receives data (https://aws.amazon.com/cloudwatch/pricing/). */
  cloudwatchCustomMetricMonth: 0.3,
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

/**
 * How the estimate models Aurora Serverless v2 (assumptions, printed with the estimate; AWS facts cited):
 * - a paused instance bills 0 ACU; the first connection resumes it in ~15 s, ~30 s after more than a
 *   day paused (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-serverless-v2-auto-pause.html);
 *   it pauses after database.autoPauseSeconds without connections, and an idle connection a warm
 *   function keeps open counts as one: `idleConnectionSeconds` is how long such a connection stays open
 *   after the last call (the server's idle_session_timeout, which docai_shared.db sets on every session);
 * - an awake pausable instance runs at its smallest capacity, 0.5 ACU, while it serves questions,
 *   and ~1 ACU while Store writes chunks into the HNSW index;
 * - bytes per chunk (table row with text, metadata and vector, TOAST, other indexes, document rows; HNSW
 *   index entry) at 768 dimensions, as `npm run bench:vector-size` measures them on PostgreSQL + pgvector;
 * - to search from memory the HNSW index must fit the buffer cache (~75% of 2 GiB per ACU): stages
 *   that never pause size their capacity for it; a pausable stage stays at its smallest size and
 *   reads the index from storage (I/O per search) — slower searches, not more capacity;
 * - Aurora bills write I/O per 4 KB of log written (~4 per chunk with its index entry) and read I/O
 *   per page not in the cache (an HNSW search with ef_search 40 visits ~1,000 vectors).
 */
export const DATABASE = {
  resumeSeconds: 15,
  resumeSecondsAfterADay: 30,
  // every session sets idle_session_timeout = 60 s (docai_shared.db): the server closes a warm function's idle connection
  idleConnectionSeconds: 60,
  awakeAcu: 0.5,
  storeAcu: 1,
  // measured 2026-12-02: npm run bench:vector-size -- --stage pilot --n 2000 (PGlite, PostgreSQL 18 + pgvector,
  // 768 dimensions, 400-token chunks, HNSW m 16): heap 2,048 + TOAST 4,166 + other indexes 119 + document rows 41; HNSW 4,092
  tableBytesPerChunk: 6373,
  indexBytesPerChunk: 4092,
  bytesPerChunkSource: 'measured by npm run bench:vector-size',
  gibPerAcu: 2,
  bufferCacheFraction: 0.75,
  writeIosPerChunk: 4,
  readIosPerSearchFromStorage: 1000,
  readIosPerSearchInMemory: 10,
  /** What the vector store collector does per run when it wakes the database (seconds connected). */
  collectorSeconds: 5,
} as const;

/**
 * The Embed task's retry on an endpoint that is not ready yet (scaling from zero), as the state
 * machine defines it (lib/document-pipeline; test/cost compares them). Full jitter: each wait is
 * uniform between 0 and the computed delay, so on average half of it.
 * Step Functions counts every retry as a state transition (https://aws.amazon.com/step-functions/pricing/).
 */
export const EMBED_NOT_READY_RETRY = { intervalSeconds: 30, backoffRate: 1.5, maxAttempts: 12, maxDelaySeconds: 120, fullJitter: true } as const;
/** A scale-to-zero endpoint: every batch waits one cold start (+1 minute for the scale-out alarm's period) per retry, no jitter. */
export const EMBED_NOT_READY_RETRY_SCALE_TO_ZERO = { intervalSeconds: (6 + 1) * 60, backoffRate: 1, maxAttempts: 4, fullJitter: false } as const;
export const embedNotReadyRetry = (c: StageConfig) => (c.embedding.scaling === 'scale-to-zero' ? EMBED_NOT_READY_RETRY_SCALE_TO_ZERO : EMBED_NOT_READY_RETRY);

/** Characters per token (English prose) and of an average question: Guardrails bill text units of 1,000 characters. */
const CHARS_PER_TOKEN = 4;
const QUESTION_CHARS = 200;

/** Hours a month a rare-event metric series (a failure, a backfill, /search) is assumed to receive data at a load. */
export const EVENT_METRIC_HOURS_PER_MONTH = 30;

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
  /** Hours a day the questions come in (uniformly at random within them). @default 8 */
  readonly queryHoursPerDay?: number;
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

/** What the database does at a load (Aurora Serverless v2 stages). */
export interface DatabaseActivity {
  readonly pausable: boolean;
  /** Writer + readers. */
  readonly instances: number;
  /** Hours a day the writer is awake (24 when it never pauses). */
  readonly awakeHoursPerDay: number;
  /** Billed ACU-hours a day, all instances. */
  readonly acuHoursPerDay: number;
  /** Of which the stage spends with no load (minimum capacity; the collector's wake-ups). */
  readonly idleAcuHoursPerDay: number;
  /** Times a day a paused database resumes. */
  readonly resumesPerDay: number;
  /** Times a day the vector store collector wakes it (no load needed). */
  readonly collectorWakesPerDay: number;
  readonly chunksStored: number;
  readonly storageGb: number;
  readonly indexGib: number;
  /** ACU per instance for the HNSW index to fit the buffer cache. */
  readonly inMemoryAcu: number;
  /** ACU per instance priced while awake. */
  readonly servingAcu: number;
  readonly indexInMemory: boolean;
  readonly ioPerMonth: number;
}

/** What the stage's answer budget lets through at a load. */
export interface AnswerBudget {
  /** Questions not answered from the cache, a month. */
  readonly missesPerMonth: number;
  /** Of those, answered by a model within the budget. */
  readonly answeredPerMonth: number;
  /** Refused with 429 budget_exceeded. */
  readonly refusedPerMonth: number;
  /** The limit that refuses first (`daily tokens`, ...), or undefined. */
  readonly limitedBy?: string;
  readonly answersPerDayLimit: number;
  readonly answersPerMonthLimit: number;
}

export interface CostEstimate {
  readonly stage: string;
  /** Month of operation the estimate is for (storage accumulates; keys rotate yearly). */
  readonly month: number;
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
  readonly database?: DatabaseActivity;
  readonly answers: AnswerBudget;
  /** Embed retries a document makes while the endpoint scales from zero. */
  readonly embedRetriesPerDoc: number;
  /** Custom metric series the handlers can emit, and those priced at this load. */
  readonly metricSeries: { readonly total: number; readonly billedSeriesHours: number };
}

/** Aurora Serverless v2 capacity settings of a stage (database.*). */
export interface AuroraShape {
  readonly minCapacityAcu: number;
  readonly maxCapacityAcu: number;
  readonly autoPauseSeconds: number;
  readonly readers: number;
}

export function auroraShape(c: StageConfig): AuroraShape {
  const { minCapacityAcu, maxCapacityAcu, autoPauseSeconds, readers } = c.database;
  return { minCapacityAcu, maxCapacityAcu, autoPauseSeconds, readers };
}

/** Hours between scheduled vector store collections (observability.vectorStoreMetricsHours). */
function collectorHours(c: StageConfig): number {
  return c.observability.vectorStoreMetricsHours;
}

/** Per endpoint: 5 alarms to the topic; scaling to zero adds the no-capacity alarm and the scale-out-from-zero step alarm. */
const endpointAlarms = (scaling: string) => (scaling === 'scale-to-zero' ? 7 : 5);

const targetTrackingPolicies = (scaling: string) => (scaling === 'always-on' ? 2 : 1);

/** Counts the stage's fixed resources from its config (the same numbers the stacks create). */
export function fixedResources(c: StageConfig) {
  const kmsKeys = 9 + (c.budget.activateCostAllocationTags ? 1 : 0);
  return {
    interfaceEndpoints: interfaceEndpointsOf(c).length,
    endpointAzs: c.network.interfaceEndpointsInEveryAz ? c.network.maxAzs : 1,
    // data: alarm topic, ingestion queues, intake, database, operations (also the flow logs': one audience,
    // CloudWatch Logs of the account); app stack; cost: alert topic, and the tag activation's logs when the
    // stage activates cost-allocation tags; + the model gateway's and the audit trail's keys
    kmsKeys,
    // every key the stacks create rotates yearly (lib/common/keys.ts)
    rotatingKmsKeys: kmsKeys,
    // RDS instance: the stack's own master secret. Aurora: the master password is RDS-managed
    // (ManageMasterUserPassword): RDS creates the secret, billed like any other
    // (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/rds-secrets-manager.html), none in the templates.
    secrets: 1,
    templateSecrets: 0,
    dashboards: 1,
    // Metric alarms, billed per metric they evaluate: ingestion (2) + review DLQ and async failures (2)
    // + per endpoint (endpointAlarms) + observability (5) + query API (5xx rate, p95 latency) + one
    // budget alarm per gateway workflow + the break-glass notifications' dead-letter queue (lib/break-glass)
    // + the question endpoint's 3; + 3 for metric math: the error-rate alarm evaluates 3 metrics, the
    // 5xx-rate alarm 2 (CloudWatch bills an alarm per metric it evaluates); test/cost/estimate.test.ts
    // counts them in the synthesized app.
    // + the GPU-outside-its-window alarm of a scale-to-zero embedding endpoint with a window (lib/stacks/inference-stack.ts)
    // + the vector store's index-growth and dead-tuple-ratio alarms, 2 metrics each (lib/vector-database/vector-store-metrics.ts)
    alarms: 5 + endpointAlarms(c.embedding.scaling) + (c.generation.enabled ? endpointAlarms(c.generation.scaling) : 0) + (c.questionEmbedding.path === 'serverless' ? 3 : 0) + 5 + 2 + Object.keys(c.gateway.workflows).length + 3
      + (c.embedding.scaling === 'scale-to-zero' && c.embedding.batchWindowMinutes > 0 ? 1 : 0) + 2 * 2,
    // observability's "pipeline unhealthy"
    compositeAlarms: 1,
    // Application Auto Scaling creates two alarms (high, low) per target-tracking policy at deploy
    // time; they are billed like any alarm but are not in the templates. Per endpoint: invocations
    // per copy, plus GPU utilization when always on.
    // https://docs.aws.amazon.com/autoscaling/application/userguide/application-auto-scaling-target-tracking.html
    targetTrackingAlarms: 2 * (targetTrackingPolicies(c.embedding.scaling) + (c.generation.enabled ? targetTrackingPolicies(c.generation.scaling) : 0)),
    // the query API's stage turns on method-level metrics (lib/query-api: deployOptions.metricsEnabled)
    apiDetailedMetrics: true,
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
  /** Seconds of embedding work per start (after the cold start). */
  readonly workSecondsPerStart: number;
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
  if (a.docsPerDay <= 0) return { startsPerDay: 0, instances: 0, gpuHoursPerDay: 0, maxWaitMinutes: 0, workSecondsPerStart: 0 };
  const window = e.batchWindowMinutes ?? 0;
  if (window > 0) {
    const startsPerDay = Math.min(1440 / window, Math.ceil(a.docsPerDay));
    const workSeconds = chunksPerDay / startsPerDay / a.chunksPerSecondPerInstance;
    const instances = Math.min(e.maxInstances, Math.max(1, Math.ceil(workSeconds / (window * 60))));
    const hoursPerStart = (a.coldStartMinutes + tailMinutes) / 60 + workSeconds / instances / 3600;
    return { startsPerDay, instances, gpuHoursPerDay: startsPerDay * instances * hoursPerStart, maxWaitMinutes: window + a.coldStartMinutes, workSecondsPerStart: workSeconds / instances };
  }
  const perSecond = chunksPerDay / (a.activeHoursPerDay * 3600);
  const instances = Math.min(e.maxInstances, Math.max(1, Math.ceil(perSecond / a.chunksPerSecondPerInstance)));
  return { startsPerDay: 1, instances, gpuHoursPerDay: instances * (a.activeHoursPerDay + (a.coldStartMinutes + tailMinutes) / 60), maxWaitMinutes: a.coldStartMinutes, workSecondsPerStart: a.activeHoursPerDay * 3600 };
}

/** Retries of one call while an endpoint takes `waitSeconds` to serve: until the expected waits add up to it, at most maxAttempts. */
export function retriesWhileWaiting(p: { intervalSeconds: number; backoffRate: number; maxAttempts: number; maxDelaySeconds?: number; fullJitter?: boolean }, waitSeconds: number): number {
  let waited = 0;
  let retries = 0;
  while (waited < waitSeconds && retries < p.maxAttempts) {
    const delay = Math.min(p.maxDelaySeconds ?? Infinity, p.intervalSeconds * p.backoffRate ** retries);
    waited += p.fullJitter ? delay / 2 : delay;
    retries++;
  }
  return retries;
}

/** Embed retries per document: every Embed call of a document that meets the endpoint scaling from zero retries until it serves. */
function embedRetriesPerDoc(c: StageConfig, a: Required<WorkloadAssumptions>): number {
  if (c.embedding.scaling !== 'scale-to-zero' || a.docsPerDay <= 0) return 0;
  const embedCalls = Math.ceil(a.chunksPerDoc / c.pipeline.embedBatchSize);
  const retries = retriesWhileWaiting(embedNotReadyRetry(c), a.coldStartMinutes * 60);
  // With a window every document of the window meets the cold start; without one, the first documents of the day do.
  const docsMeetingIt = c.embedding.batchWindowMinutes > 0 ? a.docsPerDay : Math.min(a.docsPerDay, c.pipeline.embedConcurrency);
  return (embedCalls * retries * docsMeetingIt) / a.docsPerDay;
}

/** Length of the union of [t, t + tail] over n arrivals uniformly at random in a window (seconds), and how many separate bursts that makes. */
function bursts(n: number, windowSeconds: number, tailSeconds: number): { awakeSeconds: number; count: number } {
  if (n <= 0) return { awakeSeconds: 0, count: 0 };
  const rate = n / windowSeconds;
  const stay = Math.exp(-rate * tailSeconds); // chance that the next arrival comes after the database paused
  return { awakeSeconds: Math.min(86400, (n - 1) * ((1 - stay) / rate) + tailSeconds), count: 1 + (n - 1) * stay };
}

const halfUp = (acu: number) => Math.ceil(acu * 2) / 2;

/** The database's capacity, pauses, storage and I/O at a load (Aurora Serverless v2 stages), for month `month`. */
export function databaseActivity(c: StageConfig, a: Required<WorkloadAssumptions>, month = 1): DatabaseActivity {
  const s = auroraShape(c);
  const D = DATABASE;
  const pausable = s.minCapacityAcu === 0;
  const instances = 1 + s.readers;
  const chunksStored = a.docsPerDay * DAYS_PER_MONTH * month * a.chunksPerDoc;
  const storageGb = (chunksStored * (D.tableBytesPerChunk + D.indexBytesPerChunk)) / 1e9;
  const indexGib = (chunksStored * D.indexBytesPerChunk) / 2 ** 30;
  const inMemoryAcu = halfUp(indexGib / (D.gibPerAcu * D.bufferCacheFraction));
  const searchesPerMonth = a.queriesPerDay * DAYS_PER_MONTH;
  let awakeHoursPerDay: number, acuHoursPerDay: number, idleAcuHoursPerDay: number, resumesPerDay: number, servingAcu: number, collectorWakesPerDay = 0;
  if (pausable) {
    const tail = s.autoPauseSeconds + D.idleConnectionSeconds;
    servingAcu = Math.min(s.maxCapacityAcu, D.awakeAcu);
    const q = bursts(a.queriesPerDay, a.queryHoursPerDay * 3600, tail);
    let store = { awakeSeconds: 0, count: 0 };
    if (a.docsPerDay > 0) {
      if (c.embedding.scaling === 'scale-to-zero' && c.embedding.batchWindowMinutes > 0) {
        const g = gpuSchedule(c.embedding, a);
        store = { awakeSeconds: g.startsPerDay * (g.workSecondsPerStart + tail), count: g.startsPerDay };
      } else {
        store = bursts(a.docsPerDay, a.activeHoursPerDay * 3600, tail);
      }
    }
    const h = collectorHours(c);
    collectorWakesPerDay = h ? 24 / h : 0;
    // the collector closes its connection when done (an open one would keep the instance awake): only the pause delay follows
    const collectorSeconds = collectorWakesPerDay * (D.resumeSeconds + D.collectorSeconds + s.autoPauseSeconds);
    // Bursts are added, not overlapped: an upper bound when the windows fall inside question hours.
    const awake = Math.min(86400, q.awakeSeconds + store.awakeSeconds + collectorSeconds);
    awakeHoursPerDay = awake / 3600;
    idleAcuHoursPerDay = (collectorSeconds / 3600) * D.awakeAcu;
    acuHoursPerDay = Math.min(24 * s.maxCapacityAcu, (q.awakeSeconds / 3600) * servingAcu + (store.awakeSeconds / 3600) * Math.min(s.maxCapacityAcu, D.storeAcu) + idleAcuHoursPerDay);
    resumesPerDay = q.count + store.count + collectorWakesPerDay;
  } else {
    // Never pauses: every instance runs all day, sized for the index to stay in memory, within the range.
    servingAcu = Math.min(s.maxCapacityAcu, Math.max(s.minCapacityAcu, inMemoryAcu));
    awakeHoursPerDay = 24;
    acuHoursPerDay = 24 * instances * servingAcu;
    idleAcuHoursPerDay = 24 * instances * s.minCapacityAcu;
    resumesPerDay = 0;
  }
  const indexInMemory = inMemoryAcu <= servingAcu;
  const ioPerMonth = a.docsPerDay * DAYS_PER_MONTH * a.chunksPerDoc * D.writeIosPerChunk + searchesPerMonth * (indexInMemory ? D.readIosPerSearchInMemory : D.readIosPerSearchFromStorage);
  return { pausable, instances, awakeHoursPerDay, acuHoursPerDay, idleAcuHoursPerDay, resumesPerDay, collectorWakesPerDay, chunksStored, storageGb, indexGib, inMemoryAcu, servingAcu, indexInMemory, ioPerMonth };
}

/**
 * The answers the answer workflow's budget lets through (gateway.workflows.answer.budget), as the
 * gateway enforces it (lambda/shared/docai_shared/gateway): each cache miss reserves the worst case
 * (prompt bytes + maxOutputTokens tokens; the most expensive model of the chain) against the daily
 * and monthly token and USD limits, then settles to the real use; a reservation that does not fit
 * is refused (429 budget_exceeded) before any model is called. Per-caller limits are assumed not
 * to bind (questions from many callers).
 */
export function answerBudget(c: StageConfig, a: Required<WorkloadAssumptions>): AnswerBudget {
  const wf = c.gateway.workflows.answer;
  const b = wf.budget;
  const models = wf.models.map((m) => c.gateway.models[m]);
  const primary = models[0];
  const missesPerDay = a.queriesPerDay * (1 - a.cacheHitPercent / 100);
  const reserveIn = a.promptTokensPerQuery * CHARS_PER_TOKEN + 32;
  const reserveTokens = reserveIn + wf.maxOutputTokens;
  const realTokens = a.promptTokensPerQuery + a.answerTokensPerQuery;
  const usd = (m: typeof primary, tin: number, tout: number) => (tin * m.usdPerMillionInputTokens + tout * m.usdPerMillionOutputTokens) / 1e6;
  const worstUsd = Math.max(...models.map((m) => usd(m, reserveIn, wf.maxOutputTokens)));
  const realUsd = usd(primary, a.promptTokensPerQuery, a.answerTokensPerQuery);
  // n answers fit a limit L when (n - 1) settled answers + one reservation <= L
  const fit = (limit: number, reserve: number, real: number) => (!limit ? Infinity : limit < reserve ? 0 : real > 0 ? Math.floor((limit - reserve) / real) + 1 : Infinity);
  const limits: Array<[string, number, 'day' | 'month']> = [
    ['daily tokens', fit(b.dailyTokens, reserveTokens, realTokens), 'day'],
    ['daily USD', fit(b.dailyUsd, worstUsd, realUsd), 'day'],
    ['monthly tokens', fit(b.monthlyTokens, reserveTokens, realTokens), 'month'],
    ['monthly USD', fit(b.monthlyUsd, worstUsd, realUsd), 'month'],
  ];
  const perDay = Math.min(...limits.filter((l) => l[2] === 'day').map((l) => l[1]));
  const perMonth = Math.min(...limits.filter((l) => l[2] === 'month').map((l) => l[1]));
  const missesPerMonth = missesPerDay * DAYS_PER_MONTH;
  const answeredPerMonth = Math.min(missesPerMonth, DAYS_PER_MONTH * Math.min(missesPerDay, perDay), perMonth);
  let limitedBy: string | undefined;
  if (answeredPerMonth < missesPerMonth) {
    const byMonth = perMonth < DAYS_PER_MONTH * Math.min(missesPerDay, perDay);
    limitedBy = limits.filter((l) => l[2] === (byMonth ? 'month' : 'day')).sort((x, y) => x[1] - y[1])[0][0];
  }
  return { missesPerMonth, answeredPerMonth, refusedPerMonth: missesPerMonth - answeredPerMonth, limitedBy, answersPerDayLimit: perDay, answersPerMonthLimit: perMonth };
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
  queriesPerDay: 500, queryHoursPerDay: 8, promptTokensPerQuery: 2800, answerTokensPerQuery: 300, cacheHitPercent: 10,
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
  queryHoursPerDay: { min: 0, max: 24, minExclusive: true, what: 'hours a day questions come in' },
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

/** Hours a month a series of `activity` receives data at the load (CloudWatch prorates custom metrics by the hour). */
function metricHoursPerMonth(activity: MetricActivity, c: StageConfig, a: Required<WorkloadAssumptions>, refused: boolean): number {
  const busy = (perDay: number, hours: number) => (perDay > 0 ? DAYS_PER_MONTH * Math.min(Math.ceil(hours), Math.ceil(perDay)) : 0);
  switch (activity) {
    case 'documents':
      return busy(a.docsPerDay, a.activeHoursPerDay);
    case 'embedding': {
      if (a.docsPerDay <= 0) return 0;
      if (c.embedding.scaling === 'scale-to-zero' && c.embedding.batchWindowMinutes > 0) {
        const g = gpuSchedule(c.embedding, a);
        return DAYS_PER_MONTH * g.startsPerDay * Math.ceil((a.coldStartMinutes * 60 + g.workSecondsPerStart) / 3600);
      }
      return busy(a.docsPerDay, a.activeHoursPerDay);
    }
    case 'questions':
      return busy(a.queriesPerDay, a.queryHoursPerDay);
    case 'refusals':
      return refused ? busy(a.queriesPerDay, a.queryHoursPerDay) : a.queriesPerDay > 0 ? EVENT_METRIC_HOURS_PER_MONTH : 0;
    case 'events':
      return a.docsPerDay > 0 || a.queriesPerDay > 0 ? EVENT_METRIC_HOURS_PER_MONTH : 0;
    case 'collector': {
      // each scheduled run in an hour of its own (idle too), and after Stores (at most once per 5 minutes) in the embedding hours
      const h = collectorHours(c);
      return Math.min(HOURS_PER_MONTH, (h ? DAYS_PER_MONTH * Math.ceil(24 / h) : 0) + metricHoursPerMonth('embedding', c, a, refused));
    }
  }
}

/** Yearly rotations billed in month `month` of operation (the first after 12 months, at most 2). */
export const billedRotations = (month: number) => Math.min(PRICES.kmsBilledRotations, Math.floor((month - 1) / 12));

/**
 * The monthly estimate of a stage: idle, and at the given load, for month `month` of operation
 * (storage accumulates, keys rotate yearly; default the first). Throws on an instance type without
 * a price or an assumption out of range.
 */
export function estimateMonthlyCost(c: StageConfig, assumptions: WorkloadAssumptions, opts: { month?: number } = {}): CostEstimate {
  const a: Required<WorkloadAssumptions> = { ...DEFAULT_ASSUMPTIONS, ...assumptions };
  const bad = assumptionProblems(a);
  if (bad.length) throw new Error(`cost estimate: ${bad.join('; ')}`);
  const month = opts.month ?? 1;
  const f = fixedResources(c);
  const docsMonth = a.docsPerDay * DAYS_PER_MONTH;
  const P = PRICES;
  const lines: CostLine[] = [];
  const add = (service: string, item: string, idleUsd: number, usageUsd: number, confidence: PriceConfidence = 'good') => lines.push({ service, item, idleUsd, usageUsd, confidence });
  const answers = answerBudget(c, a);

  const aurora = auroraShape(c);
  const db = databaseActivity(c, a, month);
  const shape = `writer${aurora.readers ? ` + ${aurora.readers} reader${aurora.readers > 1 ? 's' : ''}` : ''}, ${aurora.minCapacityAcu}-${aurora.maxCapacityAcu} ACU`;
  add('Aurora Serverless v2', db.pausable ? `${shape}, pauses after ${aurora.autoPauseSeconds} s idle, awake ${db.awakeHoursPerDay.toFixed(1)} h/day` : `${shape}, ${db.servingAcu} ACU x ${db.instances} all day`,
    db.idleAcuHoursPerDay * (HOURS_PER_MONTH / 24) * P.auroraAcuHour, (db.acuHoursPerDay - db.idleAcuHoursPerDay) * (HOURS_PER_MONTH / 24) * P.auroraAcuHour);
  add('Aurora', `storage ${db.storageGb.toFixed(1)} GB used after month ${month} (${DATABASE.tableBytesPerChunk + DATABASE.indexBytesPerChunk} bytes per chunk with its HNSW entry)`, 0, db.storageGb * P.auroraStorageGbMonth);
  add('Aurora', `I/O: ${DATABASE.writeIosPerChunk} per chunk stored, ${db.indexInMemory ? DATABASE.readIosPerSearchInMemory : DATABASE.readIosPerSearchFromStorage} per search (index ${db.indexInMemory ? 'in memory' : 'read from storage'})`, 0, (db.ioPerMonth / 1e6) * P.auroraIoPerMillion);
  add('VPC', `${f.interfaceEndpoints} interface endpoints x ${f.endpointAzs} AZ`, f.interfaceEndpoints * f.endpointAzs * P.interfaceEndpointAzHour * HOURS_PER_MONTH, 0);
  lines.push(endpointCost('embedding', c.embedding, a));
  if (c.generation.enabled) lines.push(endpointCost('generation', c.generation, a));

  // Per document: ~9 Lambda invocations (ingestion, validate, extract, chunk, 1 embed per 32 chunks, store), GB-seconds as sized
  // (ingestion 0.25 GB, validate 0.25, extract 2, chunk 2, embed 0.5, store 2: lib/document-pipeline); each Embed retry
  // while the endpoint scales from zero is one more invocation (~1 s at 0.5 GB) and one state transition.
  const embedCalls = Math.ceil(a.chunksPerDoc / c.pipeline.embedBatchSize);
  const embedRetries = embedRetriesPerDoc(c, a);
  // A pausable database resumes at the first Store of a window: the Stores that start meanwhile fail with
  // DatabaseResuming and retry once (an upper bound: every document of the window).
  const storeRetries = db?.pausable && a.docsPerDay > 0 ? (c.embedding.batchWindowMinutes > 0 ? 1 : Math.min(1, db.resumesPerDay / a.docsPerDay)) : 0;
  const retries = embedRetries + storeRetries;
  const gbSecondsPerDoc = 0.25 * 0.2 + 0.25 * 0.3 + 2 * 2 * a.docMb + 2 * 0.5 + 0.5 * 1 * (embedCalls + retries) + 2 * 1;
  add('Lambda', 'pipeline and ingestion functions (arm64)', 0, docsMonth * (gbSecondsPerDoc * P.lambdaArmGbSecond + (6 + embedCalls + retries) * (P.lambdaPerMillionRequests / 1e6)));
  add('Step Functions', `Standard state transitions (retries per document: ${embedRetries.toFixed(1)} Embed while the GPU starts, ${storeRetries.toFixed(1)} Store while the database resumes)`, 0,
    docsMonth * (10 + 2 * embedCalls + (c.embedding.batchWindowMinutes > 0 ? 1 : 0) + retries) * (P.stepFunctionsPer1kTransitions / 1000));
  add('SQS', 'event, receive and delete requests', 0, docsMonth * 4 * (P.sqsPerMillionRequests / 1e6));
  // Intake storage accumulates: the month's uploads in Standard, earlier months in Standard-IA (intake.infrequentAccessAfterDays); work bucket objects expire in days.
  const docsGbMonth = docsMonth * a.docMb / 1000;
  add('S3', `documents stored (${month} month${month > 1 ? 's' : ''} of uploads) and requests`, 0, docsGbMonth * P.s3GbMonth + docsGbMonth * (month - 1) * P.s3IaGbMonth + docsMonth * ((3 + 2 * embedCalls) * P.s3PutPer1k + (4 + 2 * embedCalls) * P.s3GetPer1k) / 1000);
  const rotations = billedRotations(month);
  add('KMS', `${f.kmsKeys} customer-managed keys${rotations ? ` + ${rotations} billed rotation${rotations > 1 ? 's' : ''} of ${f.rotatingKmsKeys}` : ` (${f.rotatingKmsKeys} rotate yearly: +1 USD a key-month after each of the first 2)`} and requests`,
    f.kmsKeys * P.kmsKeyMonth + f.rotatingKmsKeys * rotations * P.kmsRotationKeyMonth, docsMonth * 20 * (P.kmsPer10kRequests / 10000));
  add('Secrets Manager', `database master secret${aurora ? ' (RDS-managed)' : ''}`, f.secrets * P.secretMonth, 0);
  add('CloudWatch', `${f.dashboards} dashboard, ${f.alarms} alarms + ${f.compositeAlarms} composite + ${f.targetTrackingAlarms} target-tracking alarms`,
    f.dashboards * P.cloudwatchDashboardMonth + (f.alarms + f.targetTrackingAlarms) * P.cloudwatchAlarmMonth + f.compositeAlarms * P.cloudwatchCompositeAlarmMonth, 0);
  const series = customMetricSeries(c);
  let seriesHours = 0;
  for (const act of ['documents', 'embedding', 'questions', 'refusals', 'events', 'collector'] as const) seriesHours += series[act] * metricHoursPerMonth(act, c, a, answers.refusedPerMonth > 0);
  // the collector's scheduled runs send their series with no load at all
  const h = collectorHours(c);
  const idleSeriesHours = series.collector * (h ? DAYS_PER_MONTH * Math.ceil(24 / h) : 0);
  add('CloudWatch', `${series.total} custom metric series the handlers can emit (EMF), prorated by the hours they receive data`,
    (idleSeriesHours / HOURS_PER_MONTH) * P.cloudwatchCustomMetricMonth, ((seriesHours - idleSeriesHours) / HOURS_PER_MONTH) * P.cloudwatchCustomMetricMonth);
  // Logs are kept logRetentionDays: the stored volume grows month by month until then.
  const keptMonths = Math.min(month, c.logRetentionDays / 30);
  add('CloudWatch Logs', `JSON logs and EMF metrics (~20 KB per document), stored ${c.logRetentionDays} days`, 0, (docsMonth * 20e3 / 1e9) * (P.logsIngestGb + P.logsStoreGbMonth * keptMonths));
  add('X-Ray', 'traces (one per invocation)', 0, docsMonth * (6 + embedCalls) * (P.xrayPerMillionTraces / 1e6));

  const readSide = queryCost(c, a, answers, month, f.apiDetailedMetrics);
  lines.push(...readSide);

  const idleTotalUsd = lines.reduce((s, l) => s + l.idleUsd, 0);
  const usage = lines.reduce((s, l) => s + l.usageUsd, 0);
  const queryThousands = (a.queriesPerDay * DAYS_PER_MONTH) / 1000;
  const thousands = docsMonth / 1000;
  return {
    stage: c.stage,
    month,
    assumptions: a,
    docsPerDay: a.docsPerDay,
    lines,
    idleTotalUsd,
    totalUsd: idleTotalUsd + usage,
    // The write side only: questions are priced per 1,000 questions below.
    usagePer1000DocsUsd: thousands > 0 ? (usage - readSide.reduce((t, l) => t + l.usageUsd, 0)) / thousands : 0,
    allInPer1000DocsUsd: thousands > 0 ? (idleTotalUsd + usage) / thousands : 0,
    per1000QueriesUsd: queryThousands > 0 ? readSide.reduce((s, l) => s + l.usageUsd, 0) / queryThousands : 0,
    database: db,
    answers,
    embedRetriesPerDoc: embedRetries,
    metricSeries: { total: series.total, billedSeriesHours: seriesHours },
  };
}

/** The read side: API Gateway, WAF, Cognito, the query and retrieve functions, model tokens, guardrails, DynamoDB, the audit trail. */
function queryCost(c: StageConfig, a: Required<WorkloadAssumptions>, answers: AnswerBudget, month: number, apiDetailedMetrics: boolean): CostLine[] {
  const P = PRICES;
  const q = a.queriesPerDay * DAYS_PER_MONTH;
  const answered = answers.answeredPerMonth;
  const lines: CostLine[] = [];
  const add = (service: string, item: string, idleUsd: number, usageUsd: number, confidence: PriceConfidence = 'weak') => lines.push({ service, item, idleUsd, usageUsd, confidence });
  add('API Gateway', 'REST API requests', 0, q * (P.apiGatewayRestPerMillion / 1e6));
  if (apiDetailedMetrics) {
    // Method-level metrics are custom metrics, billed for the hours a method has traffic.
    const busyHours = a.queriesPerDay > 0 ? DAYS_PER_MONTH * Math.min(Math.ceil(a.queryHoursPerDay), Math.ceil(a.queriesPerDay)) : 0;
    const seriesHours = API_DETAILED_METRICS.length * (API_METHODS.questions.length * busyHours + API_METHODS.events.length * (a.queriesPerDay > 0 ? EVENT_METRIC_HOURS_PER_MONTH : 0));
    const methods = API_METHODS.questions.length + API_METHODS.events.length;
    add('API Gateway', `method-level metrics: ${methods} methods x ${API_DETAILED_METRICS.length} metrics, prorated by the hours with traffic`, 0, (seriesHours / HOURS_PER_MONTH) * P.cloudwatchCustomMetricMonth);
  }
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
  // query: ~1.5 s at 1 GB when a model answers, ~0.5 s otherwise (cache hit, budget refusal); retrieve: ~0.2 s at 0.5 GB
  add('Lambda', 'query and retrieve functions (arm64)', 0, (answered * 1.5 + (q - answered) * 0.5) * 1 * P.lambdaArmGbSecond + q * (0.2 * 0.5 * P.lambdaArmGbSecond + 2 * (P.lambdaPerMillionRequests / 1e6)), 'good');
  const primaryName = c.gateway.workflows.answer.models[0];
  const primary = c.gateway.models[primaryName];
  const tokenUsd = (a.promptTokensPerQuery * primary.usdPerMillionInputTokens + a.answerTokensPerQuery * primary.usdPerMillionOutputTokens) / 1e6;
  add(primary.provider === 'bedrock' ? 'Bedrock' : 'SageMaker', `${primary.modelId}: ${a.promptTokensPerQuery} + ${a.answerTokensPerQuery} tokens per answer, ${a.cacheHitPercent}% from cache, ${Math.round(answered).toLocaleString('en-US')} answers/month within the budget`, 0, answered * tokenUsd);
  // Every question is screened on the way in (1 text unit of 1,000 characters); only a model's answer on the
  // way out (cache hits were screened when cached; refusals have none): both policies (content filters, personal data).
  const answerUnits = Math.ceil((a.answerTokensPerQuery * CHARS_PER_TOKEN) / 1000);
  const questionUnits = Math.ceil(QUESTION_CHARS / 1000);
  add('Bedrock Guardrails', `${questionUnits} text unit per question, ${answerUnits} per model answer (content filters + personal data)`, 0, (q * questionUnits + answered * answerUnits) * (P.guardrailContentPer1kTextUnits + P.guardrailPiiPer1kTextUnits) / 1000);
  // Per answered question: a 3-item reservation transaction (2 write units each), 3 settles, 1 cache write; per miss the
  // reservation attempt; 1 cache read per question.
  add('DynamoDB', 'gateway table on demand (budgets, cache)', 0, (answered * 10 + (answers.missesPerMonth - answered) * 6) * (P.dynamodbPerMillionWriteUnits / 1e6) + q * (P.dynamodbPerMillionReadUnits / 1e6));
  // One ~4 KB record per request, kept for the stage's retention: the stored records grow month by month until then.
  const auditMonths = Math.min(month, c.query.auditRetentionDays / 30);
  add('S3', `audit trail (~4 KB per request, kept ${c.query.auditRetentionDays} days)`, 0, (q * 4e3 / 1e9) * P.s3GbMonth * auditMonths + q * (P.s3PutPer1k / 1000), 'good');
  add('CloudWatch Logs', 'API access logs, function logs and EMF (~6 KB per request)', 0, (q * 6e3 / 1e9) * (P.logsIngestGb + P.logsStoreGbMonth * Math.min(month, c.logRetentionDays / 30)), 'good');
  return lines;
}

const usd = (n: number) => n.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
const count = (n: number) => Math.round(n).toLocaleString('en-US');

/**
 * The estimate as `npm run cost` prints it: the table (idle, at load, at 10x), what the database,
 * the answer budget and the custom metrics do at those loads, and, given `later`, the totals of later
 * months at the load (storage accumulated, keys rotated).
 */
export function formatEstimate(c: StageConfig, base: CostEstimate, tenX: CostEstimate, idle: CostEstimate, later: CostEstimate[] = []): string {
  const rows = base.lines.map((l, i) => [`${l.service}: ${l.item}${l.confidence === 'weak' ? ' *' : ''}`, usd(idle.lines[i].idleUsd + idle.lines[i].usageUsd), usd(l.idleUsd + l.usageUsd), usd(tenX.lines[i].idleUsd + tenX.lines[i].usageUsd)]);
  const w = Math.max(...rows.map((r) => r[0].length), 20);
  const out = [
    `ESTIMATE of monthly cost for stage "${c.stage}" at ${PRICES.region} on-demand list prices collected ${PRICES.collected} (docs/prices.md). Prices change: verify before quoting.`,
    `Load: ${base.docsPerDay.toLocaleString('en-US')} documents/day; 10x: ${tenX.docsPerDay.toLocaleString('en-US')}/day. Month ${base.month} of operation (storage accumulates: later months below).`,
    `Assumptions used: ${assumptionText(base.assumptions)}.`,
    ...gpuLines(c, base),
    ...databaseLines(c, idle, base, tenX),
    ...answerLines(c, base, tenX),
    '',
    `${'line'.padEnd(w)}  ${'idle'.padStart(10)}  ${'at load'.padStart(10)}  ${'at 10x'.padStart(10)}   (USD / month)`,
    ...rows.map((r) => `${r[0].padEnd(w)}  ${r[1].padStart(10)}  ${r[2].padStart(10)}  ${r[3].padStart(10)}`),
    `${'TOTAL'.padEnd(w)}  ${usd(idle.totalUsd).padStart(10)}  ${usd(base.totalUsd).padStart(10)}  ${usd(tenX.totalUsd).padStart(10)}`,
    '',
    `Cost per 1,000 questions (read side: API, WAF, functions, ${c.gateway.workflows.answer.models[0]} tokens, guardrails, DynamoDB, audit): ${usd(base.per1000QueriesUsd)} USD at ${base.assumptions.queriesPerDay.toLocaleString('en-US')} questions/day.`,
    `Cost per 1,000 documents: usage ${usd(base.usagePer1000DocsUsd)} USD at load, ${usd(tenX.usagePer1000DocsUsd)} at 10x; all-in (with the idle floor) ${usd(base.allInPer1000DocsUsd)} at load, ${usd(tenX.allInPer1000DocsUsd)} at 10x.`,
    `Custom metrics: ${base.metricSeries.total} series the handlers can emit (every name x dimension value, lib/cost/custom-metrics.ts); all of them sent every hour would cost ${usd(base.metricSeries.total * PRICES.cloudwatchCustomMetricMonth)} USD/month; priced for the hours the load sends them (rare events: ${EVENT_METRIC_HOURS_PER_MONTH} h a month).`,
    `* weak price source (one or two secondary sources). Not included: data transfer, support plans, free tiers (counted at full price).`,
    ...(later.length ? ['', `Later months at the load (${base.docsPerDay.toLocaleString('en-US')} documents and ${base.assumptions.queriesPerDay.toLocaleString('en-US')} questions a day; idle floor in brackets): ${later.map((e) => `month ${e.month}${billedRotations(e.month) ? ` (${billedRotations(e.month)} key rotation${billedRotations(e.month) > 1 ? 's' : ''} billed)` : ''} ${usd(e.totalUsd)} USD [${usd(e.idleTotalUsd)}]${e.database ? `, database ${e.database.storageGb.toFixed(0)} GB` : ''}`).join('; ')}.`] : []),
    '',
    ...budgetComparison(c, { idle: idle.totalUsd, 'at load': base.totalUsd, 'at 10x': tenX.totalUsd }),
  ];
  return out.join('\n');
}

export function assumptionText(a: Required<WorkloadAssumptions>): string {
  return `${a.docMb} MB and ${a.chunksPerDoc} chunks per document, documents arriving ${a.activeHoursPerDay} hours a day, ${a.chunksPerSecondPerInstance} chunks/s per GPU instance, ` +
    `${a.coldStartMinutes} min cold start and ${a.scaleInDetectMinutes} min until scale-in is detected; ${a.queriesPerDay} questions a day over ${a.queryHoursPerDay} hours, ${a.promptTokensPerQuery} prompt + ${a.answerTokensPerQuery} answer tokens, ${a.cacheHitPercent}% cache hits`;
}

/** What the database does idle, at load and at 10x: awake hours, resumes and their latency, the sizing of the HNSW index. */
function databaseLines(c: StageConfig, idle: CostEstimate, base: CostEstimate, tenX: CostEstimate): string[] {
  const s = auroraShape(c);
  const [i, b, t] = [idle.database, base.database, tenX.database];
  if (!s || !i || !b || !t) return [];
  const D = DATABASE;
  const out: string[] = [];
  if (b.pausable) {
    out.push(`Database: Aurora Serverless v2 at 0 ACU while paused (no capacity billed), ${D.awakeAcu} ACU awake, ~${D.storeAcu} ACU while Store writes; it pauses ${s.autoPauseSeconds} s (database.autoPauseSeconds) after the last connection closes (idle connections assumed closed ${D.idleConnectionSeconds} s after the last call). ` +
      `Idle: ${i.collectorWakesPerDay ? `the vector store collector wakes it ${i.collectorWakesPerDay} times a day (observability.vectorStoreMetricsHours), awake ${i.awakeHoursPerDay.toFixed(1)} h/day` : 'asleep all day'}. ` +
      `At load: awake ${b.awakeHoursPerDay.toFixed(1)} h/day, ${b.resumesPerDay.toFixed(1)} resumes a day; at 10x: ${t.awakeHoursPerDay.toFixed(1)} h/day, ${t.resumesPerDay.toFixed(1)} resumes.`);
    out.push(`Resume latency this costs: the first connection after a pause waits ~${D.resumeSeconds} s (~${D.resumeSecondsAfterADay} s after more than a day paused; AWS): a question then waits within its deadline or gets 503 database_resuming with Retry-After, Store retries DatabaseResuming; at load ~${b.resumesPerDay.toFixed(1)} callers a day meet it.`);
  } else {
    out.push(`Database: Aurora Serverless v2, ${b.instances} instance${b.instances > 1 ? 's' : ''} that never pause (minimum ${s.minCapacityAcu} ACU), each sized for the HNSW index to stay in memory within ${s.minCapacityAcu}-${s.maxCapacityAcu} ACU: ${b.servingAcu} ACU at load, ${t.servingAcu} ACU at 10x; no resume latency.`);
  }
  const fits = (e: DatabaseActivity) => (e.indexInMemory ? 'in memory' : `read from storage (${e.inMemoryAcu} ACU would hold it)`);
  out.push(`Database sizing after month ${base.month} (${D.tableBytesPerChunk} + ${D.indexBytesPerChunk} bytes per chunk, table + HNSW index: ${D.bytesPerChunkSource}): at load ${count(b.chunksStored)} chunks, ${b.storageGb.toFixed(1)} GB, index ${b.indexGib.toFixed(1)} GiB ${fits(b)}; at 10x ${count(t.chunksStored)} chunks, ${t.storageGb.toFixed(1)} GB, index ${t.indexGib.toFixed(1)} GiB ${fits(t)}${t.inMemoryAcu > s.maxCapacityAcu ? ` (above database.maxCapacityAcu ${s.maxCapacityAcu})` : ''}.`);
  return out;
}

/** What the answer budget lets through, and what it refuses. */
function answerLines(c: StageConfig, base: CostEstimate, tenX: CostEstimate): string[] {
  const describe = (e: CostEstimate) => {
    const x = e.answers;
    return x.refusedPerMonth > 0
      ? `${count(x.answeredPerMonth)} of ${count(x.missesPerMonth)} cache misses answered, ${count(x.refusedPerMonth)} refused 429 budget_exceeded (${x.limitedBy} first)`
      : `all ${count(x.missesPerMonth)} cache misses answered`;
  };
  const b = c.gateway.workflows.answer.budget;
  return [`Answer budget (gateway.workflows.answer.budget: ${count(b.dailyTokens)} tokens a day, ${count(b.monthlyTokens)} a month, ${b.dailyUsd} / ${b.monthlyUsd} USD): ` +
    `at most ${count(base.answers.answersPerDayLimit)} answers a day and ${count(base.answers.answersPerMonthLimit)} a month at these token counts; at load ${describe(base)}; at 10x ${describe(tenX)}. Refused questions are priced for what they use (API, WAF, screening, embedding, search), without tokens.`];
}

/** The stage's monthly budget against each estimate; says OVER where an estimate exceeds it. */
export function budgetComparison(c: StageConfig, totals: Record<string, number>): string[] {
  const limit = c.budget.monthlyLimitUsd;
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
