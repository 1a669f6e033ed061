import { MODEL_CATALOG } from './model-catalog';
import { StageConfig } from './stage-config';

function bedrock(modelId: keyof typeof MODEL_CATALOG) {
  const m = MODEL_CATALOG[modelId];
  return { provider: 'bedrock', modelId, usdPerMillionInputTokens: m.usdPerMillionInputTokens, usdPerMillionOutputTokens: m.usdPerMillionOutputTokens } as const;
}

/** The workloads (values of the `Workload` tag) that budgets filter on. */
export const WORKLOADS = ['platform', 'intake', 'ingestion', 'vector-db', 'pipeline', 'inference', 'query', 'observability', 'network'] as const;
export type Workload = (typeof WORKLOADS)[number];

const common = {
  projectName: 'docai',
  tags: { costCenter: 'unassigned', businessUnit: 'unassigned', owner: 'platform-team' },
  intake: {
    infrequentAccessAfterDays: 30,
    noncurrentTransitionAfterDays: 30,
    noncurrentExpirationDays: 90,
    accessLogExpirationDays: 365,
  },
  pipeline: {
    maxDocumentMiB: 50,
    chunkTokens: 400,
    chunkOverlapTokens: 50,
    embedBatchSize: 32,
    embedConcurrency: 4,
    humanReviewTimeoutHours: 72,
    backfillToleratedFailurePercent: 5,
    defaultAccessTier: 'internal',
  },
  embeddingModel: { modelId: 'BAAI/bge-base-en-v1.5', dimension: 768 },
  // Bedrock prices from the model catalogue (lib/config/model-catalog.ts: on demand, us-east-1;
  // estimates). The SageMaker model is paid by the hour. Nova Lite answers, Nova Micro is the fallback
  // when Lite is throttled or failing: both are active Amazon models (no Marketplace agreement), served
  // in-region in us-east-1 and through the US and EU inference profiles elsewhere, and the cheapest
  // active text models the catalogue lists (Lite 0.06/0.24 USD per million tokens in/out, Micro
  // 0.035/0.14; Claude 3 Haiku, the former answer model, cost 0.25/1.25 and reached end of life).
  // The pilot runs production's chain so it evaluates the answers production gives; at the pilot's
  // volume Micro alone would save cents a month (npm run cost).
  models: {
    'lmi-primary': { provider: 'sagemaker-lmi', modelId: 'generation', usdPerMillionInputTokens: 0, usdPerMillionOutputTokens: 0 },
    'bedrock-nova-lite': bedrock('amazon.nova-lite-v1:0'),
    'bedrock-nova-micro': bedrock('amazon.nova-micro-v1:0'),
  },
  tierGroups: { 'docai-public': 'public', 'docai-internal': 'internal', 'docai-confidential': 'confidential', 'docai-restricted': 'restricted' },
  gatewayResilience: {
    timeoutSeconds: 20,
    retry: { maxAttempts: 3, baseDelayMs: 200, maxDelayMs: 2000, notReadyWaitSeconds: 0 },
    breaker: { failureThreshold: 5, openSeconds: 30 },
    guardrail: { promptAttackStrength: 'HIGH', personalData: 'ANONYMIZE' },
    budgetAlarmPercent: 80,
  },
} as const;

/**
 * Pilot: the production topology at the smallest size that still behaves like production.
 * Costs nothing for inference when idle (scale to zero); everything is removable.
 */
export const PILOT: StageConfig = {
  stage: 'pilot',
  projectName: common.projectName,
  tags: common.tags,
  retainData: false,
  terminationProtection: false,
  // Control Tower (CT.CLOUDWATCH.PR.2) requires a year; log storage is 0.03 USD/GB-month.
  logRetentionDays: 365,
  network: { maxAzs: 2, interfaceEndpointsInEveryAz: false, privateLinkForAwsApis: false },
  intake: common.intake,
  ingestion: {
    maxReceiveCount: 5,
    maxConcurrency: 5,
    batchSize: 10,
    functionTimeoutSeconds: 30,
    oldestMessageAlarmSeconds: 900,
  },
  // Aurora Serverless v2 at 0 ACU: no capacity charge while nobody connects; the first connection
  // after 10 idle minutes waits ~15 s for the resume, which the callers retry (DatabaseResuming).
  database: {
    minCapacityAcu: 0,
    maxCapacityAcu: 4,
    autoPauseSeconds: 600,
    readers: 0,
    backupRetentionDays: 7,
    deletionProtection: false,
  },
  embedding: {
    instanceType: 'ml.g5.xlarge',
    ...common.embeddingModel,
    scaling: 'scale-to-zero',
    minInstances: 0,
    maxInstances: 1,
    dataCapturePercent: 0,
    dataCaptureOptIn: false,
    // Documents are embedded twice a day (00:00 and 12:00 UTC): the GPU starts twice a day, not per
    // document. At 1,000 documents a day that is ~0.9 GPU-hours a day instead of ~8 (npm run cost).
    batchWindowMinutes: 720,
    scaleInCooldownMinutes: 5,
  },
  // The GPU endpoint is at zero outside the embedding windows: questions are embedded on Serverless
  // Inference (CPU, same model and TEI release), paid per request, so the pilot answers at any hour.
  questionEmbedding: { path: 'serverless', memorySizeMb: 2048, maxConcurrency: 10, provisionedConcurrency: 0 },
  generation: {
    enabled: false,
    instanceType: 'ml.g5.2xlarge',
    modelId: 'mistralai/Mistral-7B-Instruct-v0.3',
    scaling: 'scale-to-zero',
    minInstances: 0,
    maxInstances: 1,
    dataCapturePercent: 0,
    dataCaptureOptIn: false,
  },
  pipeline: { ...common.pipeline, logLevel: 'ALL', includeExecutionData: true, backfillConcurrency: 10 },
  observability: {
    embeddingUsdPerMillionTokens: 0.1,
    errorRatePercent: 10,
    modelLatencyP95Ms: 2000,
    databaseCpuPercent: 90,
    databaseAcuUtilizationPercent: 90,
    databaseConnections: 60,
    // The database pauses when idle: two connections a day from the schedule (Stores measure too).
    vectorStoreMetricsHours: 12,
  },
  gateway: {
    models: common.models,
    // The generation endpoint is off in the pilot: answers come from Bedrock, paid per token, through
    // production's chain.
    workflows: {
      answer: {
        models: ['bedrock-nova-lite', 'bedrock-nova-micro'], promptVersion: 1, cacheTtlSeconds: 3600, maxOutputTokens: 512,
        budget: { dailyTokens: 500_000, monthlyTokens: 5_000_000, callerDailyTokens: 100_000, dailyUsd: 2, monthlyUsd: 30 },
      },
    },
    ...common.gatewayResilience,
  },
  query: {
    authorization: 'cognito', iamCallerTier: 'public',
    tierGroups: common.tierGroups, defaultTopK: 6, maxTopK: 20, throttle: { rateLimit: 10, burstLimit: 20 },
    clients: [], clientDailyQuota: 0, wafRateLimitPer5Minutes: 1000,
    auditRetentionDays: 365, auditLockMode: 'GOVERNANCE', alarm5xxPercent: 5, alarmP95LatencyMs: 10000,
  },
  budget: {
    monthlyLimitUsd: 300,
    workloadLimitsUsd: {},
    // Production's value: a budget's notifications change only by replacement, so a different percent
    // would make the promotion replace it; and the pilot alerts as production will.
    dailyGrowthPercent: 150,
    dailyGrowthBaselineDays: 14,
    anomalyThresholdUsd: 25,
    anomalyMonitor: 'none',
    activateCostAllocationTags: false,
  },
  acceptedReadinessDifferences: {
    ProductionEndpointMinimum: 'Pilot: the GPU endpoint scales to zero when idle (0 USD idle); the first requests after idle wait ~5 minutes, which the pipeline retries through.',
    DatabaseMultiAz: 'Pilot: the Aurora cluster has a writer and no reader (half the capacity cost, and it pauses when idle); an AZ outage stops the pilot until Aurora recreates the writer in another AZ. Production adds a reader in a second AZ.',
    DatabaseBackupsProduction: 'Pilot: 7 days of point-in-time recovery instead of 35 in production; everything the database holds can be rebuilt by re-ingesting the versioned intake bucket.',
    AuditTrailLocked: 'Pilot: audit records are locked for a year in GOVERNANCE mode, so test questions can be purged by an administrator with s3:BypassGovernanceRetention; production locks them in COMPLIANCE mode for seven years.',
  },
};

/** Production: Multi-AZ, retained, always-on autoscaled inference, per-workload budgets. */
export const PRODUCTION: StageConfig = {
  stage: 'production',
  projectName: common.projectName,
  tags: common.tags,
  retainData: true,
  terminationProtection: true,
  logRetentionDays: 365,
  network: { maxAzs: 2, interfaceEndpointsInEveryAz: true, privateLinkForAwsApis: false },
  intake: common.intake,
  ingestion: {
    maxReceiveCount: 5,
    maxConcurrency: 50,
    batchSize: 10,
    functionTimeoutSeconds: 30,
    oldestMessageAlarmSeconds: 600,
  },
  // Never pauses (minimum above 0); a reader in a second AZ at promotion tier 1 takes over on failover.
  // 2 ACUs ~ 4 GiB of memory, room for the HNSW index of the pilot-to-10x corpus (npm run cost).
  database: {
    minCapacityAcu: 2,
    maxCapacityAcu: 16,
    autoPauseSeconds: 600,
    readers: 1,
    backupRetentionDays: 35,
    deletionProtection: true,
  },
  embedding: {
    instanceType: 'ml.g5.xlarge',
    ...common.embeddingModel,
    scaling: 'always-on',
    minInstances: 2,
    maxInstances: 6,
    dataCapturePercent: 0,
    dataCaptureOptIn: false, // capture copies every tier's text: a stage asks for it
    batchWindowMinutes: 0,
    scaleInCooldownMinutes: 10,
  },
  // Always on: questions use the GPU endpoint, as the documents do.
  questionEmbedding: { path: 'document-endpoint', memorySizeMb: 2048, maxConcurrency: 10, provisionedConcurrency: 0 },
  generation: {
    enabled: false,
    instanceType: 'ml.g5.2xlarge',
    modelId: 'mistralai/Mistral-7B-Instruct-v0.3',
    scaling: 'always-on',
    minInstances: 1,
    maxInstances: 4,
    dataCapturePercent: 0,
    dataCaptureOptIn: false, // capture copies every tier's text: a stage asks for it
  },
  // ALL events without document text: full audit trail, no data exposure in logs
  pipeline: { ...common.pipeline, logLevel: 'ALL', includeExecutionData: false, backfillConcurrency: 50 },
  observability: {
    embeddingUsdPerMillionTokens: 0.1,
    errorRatePercent: 2,
    modelLatencyP95Ms: 1000,
    databaseCpuPercent: 80,
    databaseAcuUtilizationPercent: 80,
    databaseConnections: 400,
    vectorStoreMetricsHours: 1,
  },
  gateway: {
    models: common.models,
    workflows: {
      answer: {
        models: ['bedrock-nova-lite', 'bedrock-nova-micro'], promptVersion: 1, cacheTtlSeconds: 3600, maxOutputTokens: 512,
        budget: { dailyTokens: 30_000_000, monthlyTokens: 600_000_000, callerDailyTokens: 500_000, dailyUsd: 100, monthlyUsd: 2000 },
      },
    },
    ...common.gatewayResilience,
  },
  query: {
    authorization: 'cognito', iamCallerTier: 'public',
    tierGroups: common.tierGroups, defaultTopK: 6, maxTopK: 20, throttle: { rateLimit: 100, burstLimit: 200 },
    clients: [], clientDailyQuota: 0, wafRateLimitPer5Minutes: 2000,
    // Seven years, locked against everyone (COMPLIANCE): who asked what, and what they were told.
    auditRetentionDays: 2557, auditLockMode: 'COMPLIANCE', alarm5xxPercent: 1, alarmP95LatencyMs: 6000,
  },
  budget: {
    monthlyLimitUsd: 5000,
    workloadLimitsUsd: { inference: 3000, 'vector-db': 1200, pipeline: 400 },
    dailyGrowthPercent: 150,
    dailyGrowthBaselineDays: 14,
    anomalyThresholdUsd: 100,
    anomalyMonitor: 'none',
    activateCostAllocationTags: false,
  },
  acceptedReadinessDifferences: {},
};

export const PRESETS: Readonly<Record<string, StageConfig>> = { pilot: PILOT, production: PRODUCTION };
