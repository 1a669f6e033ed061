import { EXTRACT_LIMIT_ENV } from './limits';
import { METRIC_DIMENSIONS_ENV } from './metrics';

/** Every function built on lib/common/python-function.ts (each gets WORKFLOW and the metric dimensions). */
const ALL = ['bootstrap_handler.handler', 'ingestion_handler.handler', 'jwks_handler.handler', 'migrations_handler.handler', 'pipeline_handlers.*', 'query_handler.handler', 'retrieve_handler.handler', 'vector_metrics_handler.handler'];
/** The pipeline's step functions share one environment (lib/document-pipeline, `common`). */
const STEPS = ['pipeline_handlers.chunk_handler', 'pipeline_handlers.delete_handler', 'pipeline_handlers.embed_handler', 'pipeline_handlers.extract_handler', 'pipeline_handlers.mark_for_review_handler', 'pipeline_handlers.record_failure_handler', 'pipeline_handlers.retier_handler', 'pipeline_handlers.store_handler', 'pipeline_handlers.validate_handler'];
/** The functions with a database connection (IVectorDatabase.connectionEnvironment). */
const DB_CLIENTS = ['pipeline_handlers.backfill_item_handler', 'pipeline_handlers.delete_handler', 'pipeline_handlers.mark_for_review_handler', 'pipeline_handlers.record_failure_handler', 'pipeline_handlers.retier_handler', 'pipeline_handlers.store_handler', 'retrieve_handler.handler', 'vector_metrics_handler.handler'];
const QUERY = ['query_handler.handler'];
const MIGRATIONS = 'migrations_handler.handler';
/** The custom resource that creates docai_migrator through the RDS Data API (lambda/migrations/bootstrap_handler.py). */
const BOOTSTRAP = 'bootstrap_handler.handler';
const RETRIEVE = ['retrieve_handler.handler'];

/**
 * The environment variables the constructs set on our functions, each with the handlers (Lambda
 * `Handler`, `module.*` for all of a module's) that are given it in some stage. test/contract fails
 * when a synthesized function sets a name not listed here (or on a handler not listed), when the Python
 * code reads a name listed neither here nor in LOCAL_ENVIRONMENT, and when a name here is stale.
 */
const NAMED = {
  WORKFLOW: ALL,
  [METRIC_DIMENSIONS_ENV]: ALL,
  // The migrations log in with IAM authentication as DB_USER (docai_migrator), like every client.
  DB_HOST: [...DB_CLIENTS, MIGRATIONS], DB_PORT: [...DB_CLIENTS, MIGRATIONS], DB_NAME: [...DB_CLIENTS, MIGRATIONS, BOOTSTRAP],
  // For the bootstrap: the login it creates (docai_migrator).
  DB_USER: [...DB_CLIENTS.filter((h) => h !== 'retrieve_handler.handler'), MIGRATIONS, BOOTSTRAP],
  // The bootstrap's RDS Data API call: the cluster and the RDS-managed master secret (ExecuteStatement resourceArn, secretArn).
  DB_CLUSTER_ARN: [BOOTSTRAP],
  DB_SECRET_ARN: [BOOTSTRAP],
  WORK_BUCKET: STEPS, MAX_DOCUMENT_BYTES: STEPS, CHUNK_TOKENS: STEPS, CHUNK_OVERLAP_TOKENS: STEPS, EMBED_BATCH_SIZE: STEPS,
  EMBED_WINDOW_MINUTES: STEPS, DEFAULT_ACCESS_TIER: STEPS,
  MAX_EMBED_BATCHES: ['pipeline_handlers.chunk_handler'],
  ENDPOINT_NAME: ['pipeline_handlers.embed_handler'], INFERENCE_COMPONENT: ['pipeline_handlers.embed_handler'],
  EMBEDDING_DIMENSION: ['pipeline_handlers.embed_handler', ...QUERY],
  EMBEDDING_USD_PER_MILLION_TOKENS: ['pipeline_handlers.embed_handler', ...QUERY],
  EMBEDDING_MODEL: ['pipeline_handlers.store_handler', ...RETRIEVE],
  EMBEDDING_ENDPOINT: QUERY, EMBEDDING_INFERENCE_COMPONENT: QUERY,
  INTAKE_BUCKET: ['ingestion_handler.handler', 'pipeline_handlers.backfill_item_handler'],
  STATE_MACHINE_ARN: ['ingestion_handler.handler'],
  RETRIEVE_FUNCTION: QUERY, AUDIT_BUCKET: QUERY, DEFAULT_TOP_K: QUERY, MAX_TOP_K: QUERY,
  GATEWAY_CONFIG: QUERY, GATEWAY_TABLE: QUERY, GATEWAY_PROMPT_PREFIX: QUERY, GATEWAY_GUARDRAIL_ID: QUERY, GATEWAY_GUARDRAIL_VERSION: QUERY,
  TIER_GROUPS: [...QUERY, ...RETRIEVE],
  IAM_CALLER_TIER: [...QUERY, ...RETRIEVE],
  TIER_SOURCE: RETRIEVE, JWKS: RETRIEVE, TOKEN_ISSUER: RETRIEVE, TOKEN_AUDIENCES: RETRIEVE,
} as const;

export const FUNCTION_ENVIRONMENT: Readonly<Record<string, readonly string[]>> = {
  ...NAMED,
  ...Object.fromEntries(Object.values(EXTRACT_LIMIT_ENV).map((n) => [n, ['pipeline_handlers.extract_handler']])),
};

/** The names as constants, for the construct code: `{ [ENV.DB_HOST]: hostname }` (a typo does not compile). */
export const ENV = Object.fromEntries(Object.keys(NAMED).map((k) => [k, k])) as { readonly [K in keyof typeof NAMED]: K };

/** Names the Python code reads that no construct sets, and why that is right. */
export const LOCAL_ENVIRONMENT = {
  AWS_REGION: 'set by the Lambda runtime (https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime)',
  DB_PASSWORD: 'local tests only: PGlite has no IAM authentication',
  DB_TLS: 'local tests only (disable); deployed functions use the default verify-full',
  DEFAULT_BUSINESS_UNIT: 'optional: documents without a business-unit tag get none',
  MODEL_TIMEOUT_SECONDS: 'optional: the query service defaults to 10 seconds',
} as const;
