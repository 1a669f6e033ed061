import { StageConfig } from '../config/stage-config';
import { ACCESS_TIERS, SEARCH_WORKFLOWS } from '../contract';

/**
 * Every custom metric series (metric name x dimension values) the handlers can emit through EMF, as
 * the cost estimate prices them. CloudWatch bills each distinct namespace + name + dimension set as
 * one custom metric, 0.30 USD a month, prorated by the hour and metered only while data is sent
 * (https://aws.amazon.com/cloudwatch/pricing/, docs/prices.md). The deployment's own dimensions
 * (Project, Stage: DOCAI_METRIC_DIMENSIONS) are one value each, so they multiply nothing.
 *
 * test/cost/metrics-drift.test.ts reads the Python source (test/observability/emitted_metrics.py and
 * test/cost/metric_values.py) and fails when a handler emits a name, a dimension or a dimension value
 * (step, workflow, latency step, provider) this table does not list, or when the table lists one
 * the code no longer emits.
 */

/** When a series receives data, which decides the hours a month it is billed. */
export type MetricActivity =
  /** while documents arrive (ingestion, Validate, Extract, Chunk) */
  | 'documents'
  /** while the embedding endpoint embeds (Embed, Store: the embedding windows) */
  | 'embedding'
  /** while questions are asked (POST /query, the answer workflow) */
  | 'questions'
  /** only when the answer budget refuses questions at the load */
  | 'refusals'
  /** on a rare event: failures, deletions, re-tiering, review, backfill, replay, fallbacks, /search */
  | 'events'
  /** on the vector store collector's schedule (observability.vectorStoreMetricsHours), idle too, and after Stores */
  | 'collector';

export interface MetricEmitter {
  /** The emitting module under lambda/ (`emf_line` for emit_provider_metrics' lines, as the scanner names them). */
  readonly file: string;
  readonly names: readonly string[];
  /** Dimension name -> the values the code can give it. */
  readonly dimensions: Readonly<Record<string, readonly string[]>>;
  readonly activity: MetricActivity;
}

/** The pipeline's Workflow values (pipeline_handlers.WORKFLOWS) and the steps that flush metrics. */
export const PIPELINE_WORKFLOWS = ['ingest', 'backfill', 'replay'] as const;
export const DOCUMENT_STEPS = ['Validate', 'Extract', 'Chunk'] as const;
export const EMBEDDING_STEPS = ['Embed', 'Store'] as const;
export const EVENT_STEPS = ['Delete', 'Retier', 'MarkForReview', 'RecordFailure'] as const;
/** query_service's per-step latency (`Latency.<step>`); search has no generate step. */
export const ANSWER_LATENCY_STEPS = ['guardrail', 'embed', 'retrieve', 'generate', 'total', 'audit'] as const;
export const SEARCH_LATENCY_STEPS = ['guardrail', 'embed', 'retrieve', 'total', 'audit'] as const;

const latency = (steps: readonly string[]) => steps.map((s) => `Latency.${s}`);
const PROVIDER_METRICS = ['ProviderLatencyMs', 'ProviderErrors'];
const METERED_EMBEDDING = [...PROVIDER_METRICS, 'TokensIn', 'EstimatedSpendUsd'];

/** The custom metric emitters of a stage (the answer workflow's model chain names the providers). */
export function metricEmitters(c: StageConfig): MetricEmitter[] {
  const [primary, ...fallbacks] = c.gateway.workflows.answer.models;
  const other = PIPELINE_WORKFLOWS.filter((w) => w !== 'ingest');
  const allSteps = [...DOCUMENT_STEPS, ...EMBEDDING_STEPS, ...EVENT_STEPS];
  const P = 'pipeline/pipeline_handlers.py';
  const G = 'shared/docai_shared/gateway/gateway.py';
  const Q = 'query/query_service.py';
  const V = 'shared/docai_shared/vector_metrics.py';
  return [
    { file: 'ingestion/ingestion_handler.py', names: ['ExecutionsStarted'], dimensions: { Workflow: ['ingestion'] }, activity: 'documents' },
    { file: 'ingestion/ingestion_handler.py', names: ['IgnoredRecords', 'Replays', 'ReplayLimitReached', 'DuplicateEvents', 'ForeignBucketRecords', 'MalformedRecords', 'StartFailures'], dimensions: { Workflow: ['ingestion'] }, activity: 'events' },
    // first ingestion of a document
    { file: P, names: ['StepLatency'], dimensions: { Workflow: ['ingest'], Step: DOCUMENT_STEPS }, activity: 'documents' },
    { file: P, names: ['Pages'], dimensions: { Workflow: ['ingest'], Step: ['Extract'] }, activity: 'documents' },
    { file: P, names: ['Chunks'], dimensions: { Workflow: ['ingest'], Step: ['Chunk'] }, activity: 'documents' },
    { file: P, names: ['StepLatency'], dimensions: { Workflow: ['ingest'], Step: EMBEDDING_STEPS }, activity: 'embedding' },
    { file: P, names: ['TokensEmbedded', 'ChunksEmbedded'], dimensions: { Workflow: ['ingest'], Step: ['Embed'] }, activity: 'embedding' },
    { file: P, names: ['DocumentsProcessed'], dimensions: { Workflow: ['ingest'], Step: ['Store'] }, activity: 'embedding' },
    { file: 'emf_line', names: METERED_EMBEDDING, dimensions: { Workflow: ['ingest'], Provider: ['embedding'] }, activity: 'embedding' },
    // the event steps of every workflow, and backfill / replay runs of every step
    { file: P, names: ['StepLatency'], dimensions: { Workflow: ['ingest'], Step: EVENT_STEPS }, activity: 'events' },
    { file: P, names: ['StepLatency'], dimensions: { Workflow: other, Step: allSteps }, activity: 'events' },
    { file: P, names: ['Pages'], dimensions: { Workflow: other, Step: ['Extract'] }, activity: 'events' },
    { file: P, names: ['Chunks'], dimensions: { Workflow: other, Step: ['Chunk'] }, activity: 'events' },
    { file: P, names: ['TokensEmbedded', 'ChunksEmbedded'], dimensions: { Workflow: other, Step: ['Embed'] }, activity: 'events' },
    { file: P, names: ['DocumentsProcessed'], dimensions: { Workflow: other, Step: ['Store'] }, activity: 'events' },
    { file: P, names: ['DocumentsDeleted', 'DocumentsReindexed'], dimensions: { Workflow: PIPELINE_WORKFLOWS, Step: ['Delete'] }, activity: 'events' },
    { file: P, names: ['DocumentsRetiered'], dimensions: { Workflow: PIPELINE_WORKFLOWS, Step: ['Retier'] }, activity: 'events' },
    { file: P, names: ['DocumentsInReview'], dimensions: { Workflow: PIPELINE_WORKFLOWS, Step: ['MarkForReview'] }, activity: 'events' },
    { file: P, names: ['DocumentsFailed'], dimensions: { Workflow: PIPELINE_WORKFLOWS, Step: ['RecordFailure'] }, activity: 'events' },
    { file: P, names: ['DocumentsSkipped'], dimensions: { Workflow: ['backfill'], Step: ['PrepareItem'] }, activity: 'events' },
    { file: 'emf_line', names: METERED_EMBEDDING, dimensions: { Workflow: other, Provider: ['embedding'] }, activity: 'events' },
    // the read side: POST /query is the answer workflow, POST /search the search workflow
    { file: Q, names: ['Requests', 'Errors5xx', 'Errors4xx', ...latency(ANSWER_LATENCY_STEPS)], dimensions: { Workflow: ['answer'] }, activity: 'questions' },
    { file: Q, names: ['Requests', 'Errors5xx', 'Errors4xx', ...latency(SEARCH_LATENCY_STEPS)], dimensions: { Workflow: ['search'] }, activity: 'events' },
    { file: Q, names: ['AuditFailures'], dimensions: { Workflow: ['answer', 'search'] }, activity: 'events' },
    { file: Q, names: ['DegradedAnswers'], dimensions: { Workflow: ['answer'] }, activity: 'events' },
    { file: 'query/retrieve_handler.py', names: ['RetrievedChunks'], dimensions: { Workflow: ['query'] }, activity: 'questions' },
    { file: G, names: ['ModelRequests', 'CacheHits', 'CacheMisses', 'TokensIn', 'TokensOut', 'EstimatedSpendUsd', 'BudgetUsedPercent'], dimensions: { Workflow: ['answer'] }, activity: 'questions' },
    { file: G, names: ['BudgetRejections'], dimensions: { Workflow: ['answer'] }, activity: 'refusals' },
    { file: G, names: ['Fallbacks', 'UsageUnreported', 'BudgetOvershootTokens', 'BudgetOvershootUsd', 'Degraded'], dimensions: { Workflow: ['answer'] }, activity: 'events' },
    { file: G, names: ['GuardrailBlocks'], dimensions: { Workflow: ['answer', 'search'] }, activity: 'events' },
    { file: 'emf_line', names: PROVIDER_METRICS, dimensions: { Workflow: ['answer'], Provider: [primary] }, activity: 'questions' },
    ...(fallbacks.length ? [{ file: 'emf_line', names: PROVIDER_METRICS, dimensions: { Workflow: ['answer'], Provider: fallbacks }, activity: 'events' as const }] : []),
    { file: 'emf_line', names: METERED_EMBEDDING, dimensions: { Workflow: ['answer'], Provider: ['embedding'] }, activity: 'questions' },
    { file: 'emf_line', names: METERED_EMBEDDING, dimensions: { Workflow: ['search'], Provider: ['embedding'] }, activity: 'events' },
    // the vector store: searches per tier and query workflow (a workflow outside the contract's is 'unknown'), and its size
    { file: V, names: ['VectorSearches'], dimensions: { Tier: ACCESS_TIERS, Workflow: ['answer'] }, activity: 'questions' },
    { file: V, names: ['VectorSearches'], dimensions: { Tier: ACCESS_TIERS, Workflow: [...SEARCH_WORKFLOWS.filter((w) => w !== 'answer'), 'unknown'] }, activity: 'events' },
    { file: V, names: ['VectorTableBytes', 'VectorIndexBytes', 'VectorRows', 'VectorDeadTuples'], dimensions: {}, activity: 'collector' },
  ];
}

/** Number of series one emitter can produce: names x the product of its dimension values. */
export function seriesOf(e: MetricEmitter): number {
  return e.names.length * Object.values(e.dimensions).reduce((n, v) => n * v.length, 1);
}

/** Series per activity, and the total, for a stage. */
export function customMetricSeries(c: StageConfig): Record<MetricActivity, number> & { total: number } {
  const out = { documents: 0, embedding: 0, questions: 0, refusals: 0, events: 0, collector: 0, total: 0 };
  for (const e of metricEmitters(c)) {
    out[e.activity] += seriesOf(e);
    out.total += seriesOf(e);
  }
  return out;
}

/**
 * API Gateway detailed (method-level) metrics: with MetricsEnabled on the stage's method settings,
 * each method gets Count, 4XXError, 5XXError, Latency and IntegrationLatency per (ApiName, Method,
 * Resource, Stage), billed as custom metrics (CacheHitCount / CacheMissCount only with a stage cache,
 * which the API has not): https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-metrics-and-dimensions.html
 * The query API's methods: POST /query (the load) and POST /search.
 */
export const API_DETAILED_METRICS = ['Count', '4XXError', '5XXError', 'Latency', 'IntegrationLatency'] as const;
export const API_METHODS = { questions: ['POST /query'], events: ['POST /search'] } as const;
