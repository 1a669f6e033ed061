import { AccessTier } from '../contract';

/**
 * The stage config: everything that differs between a pilot and production, as data.
 *
 * Constructs never read the stage name. `bin/app.ts` resolves a `StageConfig` (preset + overrides),
 * validates it, and maps it to construct props. Pilot and production are two sizes of the same
 * target state: same stacks, same constructs, different numbers.
 */

/** How the GPU embedding endpoint scales. */
export type EndpointScalingMode =
  /** Inference components on managed instance scaling with a minimum of 0 instances: no cost idle, ~5 min cold start. */
  | 'scale-to-zero'
  /** At least `minInstances` instances, target tracking on invocations. */
  | 'always-on';

export interface CostTagsConfig {
  /** Value of the `CostCenter` tag. */
  readonly costCenter: string;
  /** Value of the `BusinessUnit` tag. */
  readonly businessUnit: string;
  /** Value of the `Owner` tag: a team or an e-mail. */
  readonly owner: string;
}

export interface NetworkConfig {
  /** Availability zones used by the VPC (the database subnet group needs 2). */
  readonly maxAzs: number;
  /** Interface endpoints in every AZ (production) or only in the first (pilot, cheaper). */
  readonly interfaceEndpointsInEveryAz: boolean;
  /**
   * true: every function runs in the VPC, and Step Functions and the SageMaker runtime are reached
   * through interface endpoints (PrivateLink). false: the two functions that call only those APIs
   * (ingestion, Embed) run outside the VPC and those two endpoints are not created (14.60 USD a
   * month per AZ at list price); functions that reach the database stay in the VPC either way.
   */
  readonly privateLinkForAwsApis: boolean;
}

export interface IntakeConfig {
  /** Days after which current objects move to S3 Standard-IA. */
  readonly infrequentAccessAfterDays: number;
  /** Days after which noncurrent versions move to Glacier Instant Retrieval. */
  readonly noncurrentTransitionAfterDays: number;
  /** Days after which noncurrent versions are deleted. */
  readonly noncurrentExpirationDays: number;
  /** Days server access logs are kept. */
  readonly accessLogExpirationDays: number;
}

export interface IngestionConfig {
  /** Deliveries of one message before it moves to the dead-letter queue. */
  readonly maxReceiveCount: number;
  /** Maximum concurrent ingestion Lambda invocations driven by the queue. */
  readonly maxConcurrency: number;
  /** Records per Lambda invocation. */
  readonly batchSize: number;
  /** Ingestion Lambda timeout, seconds. */
  readonly functionTimeoutSeconds: number;
  /** Alarm when the oldest message in the ingestion queue is older than this, seconds. */
  readonly oldestMessageAlarmSeconds: number;
}

/**
 * The vector database: Aurora PostgreSQL Serverless v2 in both stages, sized in Aurora capacity units
 * (1 ACU ~ 2 GiB of memory with its CPU), billed per second of capacity; storage grows by itself.
 * https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-serverless-v2.how-it-works.html
 */
export interface DatabaseConfig {
  /**
   * Least capacity of each instance, ACUs (0 to 256 in steps of 0.5). 0: the instances pause after
   * `autoPauseSeconds` without a connection (no capacity charge while paused) and resume on the next
   * connection, in about 15 s: https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-serverless-v2-auto-pause.html
   */
  readonly minCapacityAcu: number;
  /** Most capacity of each instance, ACUs (1 to 256 in steps of 0.5). */
  readonly maxCapacityAcu: number;
  /** Idle seconds before a 0-ACU instance pauses, 300 to 86400 (applies only with minCapacityAcu 0). */
  readonly autoPauseSeconds: number;
  /**
   * Serverless v2 readers beside the writer, each in another AZ at promotion tier 1 (a failover
   * target that scales with the writer). 0: an AZ outage stops the database until Aurora recreates
   * the writer in another AZ.
   */
  readonly readers: number;
  readonly backupRetentionDays: number;
  readonly deletionProtection: boolean;
}

export interface EmbeddingEndpointConfig {
  /** SageMaker instance type, e.g. `ml.g5.xlarge`. Must be a GPU type for the TEI GPU container. */
  readonly instanceType: string;
  /** Hugging Face model id served by Text Embeddings Inference. */
  readonly modelId: string;
  /** Vector dimension the model produces; the database column is `vector(dimension)`. */
  readonly dimension: number;
  readonly scaling: EndpointScalingMode;
  /** Minimum instances (0 only with `scale-to-zero`). */
  readonly minInstances: number;
  readonly maxInstances: number;
  /** Percentage of requests captured to S3 for monitoring; 0 turns data capture off. */
  readonly dataCapturePercent: number;
  /**
   * Data capture copies requests and responses, which carry the text of every access tier (documents
   * of all tiers to the embedding endpoint, passages of each caller's tier to generation), into the
   * capture bucket for 90 days: above 0 % it must be asked for here.
   * @default false
   */
  readonly dataCaptureOptIn?: boolean;
  /**
   * Embedding only: chunked documents wait for the next window (every this many minutes from
   * midnight UTC) and are embedded together, so a scale-to-zero endpoint runs once per window.
   * 0: embed at once. Documents wait up to one window.
   */
  readonly batchWindowMinutes: number;
  /** Scale-in cooldown of the endpoint's copies, minutes. */
  readonly scaleInCooldownMinutes: number;
}

/**
 * Where questions are embedded (the query API's embed step). The vectors must be comparable with the
 * stored ones: both paths serve `embedding.modelId` with the same TEI release.
 */
export interface QuestionEmbeddingConfig {
  /**
   * `serverless`: SageMaker Serverless Inference with the TEI CPU build: nothing paid idle, a cold start
   * of seconds, so a stage whose GPU endpoint scales to zero still answers at any hour.
   * `document-endpoint`: the GPU endpoint that embeds the documents (for a stage whose endpoint is always on).
   */
  readonly path: 'serverless' | 'document-endpoint';
  /** Serverless: memory (1024 to 6144 in steps of 1024); CPU is given in proportion. */
  readonly memorySizeMb: number;
  /** Serverless: concurrent invocations before throttling (1 to 200). */
  readonly maxConcurrency: number;
  /** Serverless: copies kept warm, billed while provisioned; 0 = none (first question after idle waits for a cold start). */
  readonly provisionedConcurrency: number;
}

export interface GenerationEndpointConfig {
  readonly enabled: boolean;
  readonly instanceType: string;
  readonly modelId: string;
  readonly scaling: EndpointScalingMode;
  readonly minInstances: number;
  readonly maxInstances: number;
  readonly dataCapturePercent: number;
  /** Like embedding.dataCaptureOptIn: prompts carry the passages of each caller's tier. @default false */
  readonly dataCaptureOptIn?: boolean;
}

export interface PipelineConfig {
  /** Largest document accepted, MiB. Larger ones are a recorded failure. */
  readonly maxDocumentMiB: number;
  readonly chunkTokens: number;
  readonly chunkOverlapTokens: number;
  /** Chunks per InvokeEndpoint call. */
  readonly embedBatchSize: number;
  /** Concurrent embedding batches per document. */
  readonly embedConcurrency: number;
  /** How long a document may wait for a person before it is failed, hours. */
  readonly humanReviewTimeoutHours: number;
  /** Step Functions log level (AwsSolutions-SF1 expects ALL). */
  readonly logLevel: 'ALL' | 'ERROR';
  /** Put state data (document text, metadata) into the execution logs. */
  readonly includeExecutionData: boolean;
  /** Tier for documents whose metadata names none. */
  readonly defaultAccessTier: AccessTier;
  /** Backfill: concurrent child executions of the Distributed Map. */
  readonly backfillConcurrency: number;
  /** Backfill: percentage of documents that may fail before the backfill fails. */
  readonly backfillToleratedFailurePercent: number;
}

export interface ObservabilityConfig {
  /** Price used for "estimated token spend" on the dashboard, USD per 1M tokens embedded. */
  readonly embeddingUsdPerMillionTokens: number;
  /** Pipeline error-rate alarm threshold, percent of executions. */
  readonly errorRatePercent: number;
  /** Endpoint model latency p95 alarm threshold, milliseconds. */
  readonly modelLatencyP95Ms: number;
  /** Database CPU alarm threshold, percent. */
  readonly databaseCpuPercent: number;
  /** Database capacity alarm threshold: percent of maxCapacityAcu in use (AWS/RDS ACUUtilization). */
  readonly databaseAcuUtilizationPercent: number;
  /** Database connections alarm threshold. */
  readonly databaseConnections: number;
  /**
   * Hours between scheduled measurements of the vector store (table and HNSW index bytes, rows, dead
   * tuples; the Store step measures too). Each one connects, so it resumes a paused database and keeps
   * it up for its auto-pause delay: a few a day where the database pauses, hourly where it never does.
   */
  readonly vectorStoreMetricsHours: number;
}

/** One model the gateway can call (a key of `gateway.models`). */
export interface GatewayModelConfig {
  /** `bedrock`: Amazon Bedrock through the Converse API; `sagemaker-lmi`: this stage's generation endpoint. */
  readonly provider: 'bedrock' | 'sagemaker-lmi';
  /** Bedrock model id from lib/config/model-catalog.ts, e.g. `amazon.nova-lite-v1:0` (the gateway calls the inference profile where the region needs one); for `sagemaker-lmi`: `generation`. */
  readonly modelId: string;
  /** Price used for budgets and estimated spend (an estimate: see docs/prices.md). 0 for this project's own endpoint (paid by the hour). */
  readonly usdPerMillionInputTokens: number;
  readonly usdPerMillionOutputTokens: number;
}

/** Token and spend budgets of one workflow; 0 = no limit of that kind. Exhaustion answers 429. */
export interface GatewayBudgetConfig {
  readonly dailyTokens: number;
  readonly monthlyTokens: number;
  /** Per caller (the verified principal), per day. */
  readonly callerDailyTokens: number;
  readonly dailyUsd: number;
  readonly monthlyUsd: number;
}

export interface GatewayWorkflowConfig {
  /** The chain, by name from `gateway.models`: the first answers, the others are fallbacks (marked degraded). */
  readonly models: readonly string[];
  /** Active version of the workflow's prompt (an SSM parameter version). Rollback: an older number. */
  readonly promptVersion: number;
  /** How long an answer is served from the cache, seconds; 0 turns the cache off for the workflow. */
  readonly cacheTtlSeconds: number;
  readonly maxOutputTokens: number;
  readonly budget: GatewayBudgetConfig;
}

/** The model gateway (lambda/shared/docai_shared/gateway): every model call of the read side. */
export interface GatewayConfig {
  readonly models: Readonly<Record<string, GatewayModelConfig>>;
  readonly workflows: { readonly answer: GatewayWorkflowConfig };
  /** Time one request may spend in the gateway, seconds (under API Gateway's 29 s integration timeout). */
  readonly timeoutSeconds: number;
  readonly retry: { readonly maxAttempts: number; readonly baseDelayMs: number; readonly maxDelayMs: number; readonly notReadyWaitSeconds: number };
  readonly breaker: { readonly failureThreshold: number; readonly openSeconds: number };
  /** Bedrock Guardrails filter strength against prompt attacks on the question, and what happens to personal data. */
  readonly guardrail: { readonly promptAttackStrength: 'LOW' | 'MEDIUM' | 'HIGH'; readonly personalData: 'ANONYMIZE' | 'BLOCK' };
  /** Alarm when a workflow has used this percent of a daily or monthly budget. */
  readonly budgetAlarmPercent: number;
}

/** The query API (lib/query-api): who may ask, how much, and how long their questions are kept. */
export interface QueryConfig {
  /** `cognito`: people sign in to the stage's user pool; `iam`: service callers sign requests (SigV4) and all get `iamCallerTier`. */
  readonly authorization: 'cognito' | 'iam';
  /** The tier of IAM-authorized callers (authorization `iam`). */
  readonly iamCallerTier: AccessTier;
  /** Cognito group -> access tier; a caller's highest tier applies, no mapped group means 403. */
  readonly tierGroups: Readonly<Record<string, AccessTier>>;
  readonly defaultTopK: number;
  readonly maxTopK: number;
  /** Stage-wide API Gateway throttling: requests per second and burst. */
  readonly throttle: { readonly rateLimit: number; readonly burstLimit: number };
  /** Named clients, each with an API key in the usage plan; methods require a key when any is named. */
  readonly clients: readonly string[];
  /** Requests per client per day; 0 = no quota. */
  readonly clientDailyQuota: number;
  /** WAF: requests from one IP per 5 minutes before it is blocked. */
  readonly wafRateLimitPer5Minutes: number;
  /**
   * Let this stage own API Gateway's account-level CloudWatch Logs role (AWS::ApiGateway::Account and a
   * role with the AWS managed policy AmazonAPIGatewayPushToCloudWatchLogs), which the stage's access
   * logs need. There is ONE such setting per account and region: turn this on only when nothing else
   * in the account and region sets it (another stack owning it would be overwritten, and it would
   * overwrite this). The role is retained when the stage is deleted, so other APIs keep logging.
   * Off: the preflight checks that the account already has one. @default false
   */
  readonly apiGatewayAccountRole?: boolean;
  /** How long each audit record is locked (S3 Object Lock) and kept, days. */
  readonly auditRetentionDays: number;
  /** COMPLIANCE: nobody can delete a record early; GOVERNANCE: a principal with s3:BypassGovernanceRetention can. */
  readonly auditLockMode: 'GOVERNANCE' | 'COMPLIANCE';
  readonly alarm5xxPercent: number;
  readonly alarmP95LatencyMs: number;
}

export interface BudgetConfig {
  /** Monthly cost budget for the whole stage, USD. */
  readonly monthlyLimitUsd: number;
  /** Monthly cost budget per workload (value of the `Workload` tag), USD. */
  readonly workloadLimitsUsd: Readonly<Record<string, number>>;
  /**
   * Day-over-day growth alert, on in every stage: a daily cost budget of the stage (tags `Project` and
   * `Environment`) whose amount AWS sets each day to the average daily spend of the last
   * `dailyGrowthBaselineDays` days (an auto-adjusting budget); it alerts when one day's actual spend
   * exceeds this percent of that average (150: a day costs 1.5 times the recent average). Unlike the
   * AWS-services anomaly monitor it is per stage, so every stage of every project in an account has one.
   */
  readonly dailyGrowthPercent: number;
  /** Days averaged for the growth alert's amount (1-60; 60 is AWS's maximum for a daily budget). */
  readonly dailyGrowthBaselineDays: number;
  /** Cost anomaly alert threshold: absolute impact in USD. */
  readonly anomalyThresholdUsd: number;
  /**
   * Cost Anomaly Detection monitor. `services` creates an AWS-services monitor, of which an account may
   * have only one: turn it on in one stage of one project per account (or leave the account's own).
   * `none`: no monitor; budgets still alert.
   */
  readonly anomalyMonitor: 'none' | 'services';
  /**
   * Activate the cost-allocation tag keys on every deploy (Cost Explorer UpdateCostAllocationTagsStatus).
   * Works only from an organization's management account or a standalone account; in a member account
   * the management account activates them, so leave this off there.
   */
  readonly activateCostAllocationTags: boolean;
}

export interface StageConfig {
  /** Preset name: `pilot` or `production`. Used only for names and the `Environment` tag. */
  readonly stage: string;
  /** Prefix of every stack name: `<projectName>-<environmentName or stage>-<part>`. */
  readonly projectName: string;
  /** Target account; leave empty for an environment-agnostic synth. */
  /**
   * The name this deployment carries in stack and resource names (`<project>-<environmentName>-...`).
   * Defaults to the stage. Promotion in place keeps it: the pilot deployed with the production
   * preset is `-c stage=production -c environmentName=pilot` (see `npm run plan`).
   */
  readonly environmentName?: string;
  readonly account?: string;
  /** Target region; leave empty for an environment-agnostic synth. */
  readonly region?: string;
  /** Alarm and budget notifications go here (confirmed through SNS). */
  readonly alarmEmail?: string;
  readonly tags: CostTagsConfig;
  /** Keep buckets, keys and the database when the stack is deleted. */
  readonly retainData: boolean;
  /** CloudFormation termination protection on the stateful stack. */
  readonly terminationProtection: boolean;
  /** Retention of every log group the project creates, days (a CloudWatch Logs retention value). */
  readonly logRetentionDays: number;
  readonly network: NetworkConfig;
  readonly intake: IntakeConfig;
  readonly ingestion: IngestionConfig;
  readonly database: DatabaseConfig;
  readonly embedding: EmbeddingEndpointConfig;
  readonly questionEmbedding: QuestionEmbeddingConfig;
  readonly generation: GenerationEndpointConfig;
  readonly pipeline: PipelineConfig;
  readonly observability: ObservabilityConfig;
  readonly gateway: GatewayConfig;
  readonly query: QueryConfig;
  readonly budget: BudgetConfig;
  /**
   * Production-readiness rules this stage deliberately does not meet, with the reason. Reported as
   * accepted differences ("partially ready"), not hidden. Rule names: lib/readiness/rules.
   */
  readonly acceptedReadinessDifferences: Readonly<Record<string, string>>;
  /** Rebuilding the data stack after it was lost: see README "Rebuild and restore". @default - a fresh stage */
  readonly rebuild?: RebuildConfig;
}

/** The data keys a rebuilt data stack can adopt instead of creating new ones. */
export const ADOPTABLE_KEYS = ['intake', 'database', 'ingestionQueue', 'alarms', 'operations', 'audit', 'gateway'] as const;
export type AdoptableKey = (typeof ADOPTABLE_KEYS)[number];

/**
 * Rebuilding a stage's data stack after the stack was deleted or lost. Retained resources with
 * fixed names (intake and capture buckets, the database's log groups) are imported by
 * `npm run deploy -- --rebuild` (CloudFormation's import of existing resources); the keys their data
 * is encrypted with have no name to import by, so they are adopted here by ARN.
 */
export interface RebuildConfig {
  /**
   * Restore the database from this snapshot instead of creating an empty one: an Aurora DB cluster
   * snapshot (identifier or ARN), or the ARN of an RDS for PostgreSQL DB snapshot (the way from the
   * former RDS instance to Aurora: README "Upgrading"). The restored cluster keeps the snapshot's key:
   * name it in `keys.database`.
   */
  readonly restoreFromSnapshot?: string;
  /** Retained KMS keys (ARNs) to use instead of new ones, per data key of the stage. */
  readonly keys?: Partial<Record<AdoptableKey, string>>;
}
