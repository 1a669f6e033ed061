/** The CloudWatch namespace of the handlers' custom metrics (Embedded Metric Format lines) and of the alarms on them. */
export const METRICS_NAMESPACE = 'DocAI';

/**
 * The environment variable through which a function receives its deployment's metric dimensions
 * (project, stage) as JSON; docai_shared.observability adds them to every metric it emits.
 */
export const METRIC_DIMENSIONS_ENV = 'DOCAI_METRIC_DIMENSIONS';

/**
 * The custom metric names the handlers emit (docai_shared.observability refuses any other name, and
 * DocaiMetricFactory.metric builds no other); `Latency.*` is the query service's per-step latency
 * (`Latency.<step>`). test/contract compares this list with what the Python source emits.
 */
export const CUSTOM_METRICS = [
  'AuditFailures', 'BudgetOvershootTokens', 'BudgetOvershootUsd', 'BudgetRejections', 'BudgetUsedPercent', 'CacheHits', 'CacheMisses',
  'Chunks', 'ChunksEmbedded', 'Degraded', 'DegradedAnswers', 'DocumentsDeleted', 'DocumentsFailed', 'DocumentsInReview', 'DocumentsProcessed',
  'DocumentsReindexed', 'DocumentsRetiered', 'DocumentsSkipped', 'DuplicateEvents', 'Errors4xx', 'Errors5xx', 'EstimatedSpendUsd',
  'ExecutionsStarted', 'Fallbacks', 'ForeignBucketRecords', 'GuardrailBlocks', 'IgnoredRecords', 'Latency.*', 'MalformedRecords',
  'ModelRequests', 'Pages', 'ProviderErrors', 'ProviderLatencyMs', 'ReplayLimitReached', 'Replays', 'Requests', 'RetrievedChunks',
  'StartFailures', 'StepLatency', 'TokensEmbedded', 'TokensIn', 'TokensOut', 'UsageUnreported',
  // the vector store (docai_shared.vector_metrics; VectorSearches from the retrieve function)
  'VectorDeadTuples', 'VectorIndexBytes', 'VectorRows', 'VectorSearches', 'VectorTableBytes',
] as const;

/**
 * The query API's workflows (POST /query answers, POST /search lists chunks): the values of
 * VectorSearches' `Workflow` dimension (with `Tier`, 4 x 2 = 8 metrics per deployment); the retrieve
 * function counts any other value as `unknown`, so a caller cannot add metrics.
 */
export const SEARCH_WORKFLOWS = ['answer', 'search'] as const;

/** Whether `name` is a custom metric of the contract (`Latency.retrieve` matches `Latency.*`). */
export function isCustomMetric(name: string): boolean {
  return CUSTOM_METRICS.some((m) => m === name || (m.endsWith('.*') && name.startsWith(m.slice(0, -1)) && name.length > m.length - 1));
}
