import { Duration, RemovalPolicy, Size, Stack, StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { tagWorkload } from '../common/tags';
import { setMetricDimensions, allowCloudWatchLogs, createDataKey, FunctionPlacement } from '../common';
import { StageConfig } from '../config';
import { DocumentPipeline, EmbeddingEndpointRef, IWorkBucket } from '../document-pipeline';
import { COLD_START_MINUTES } from '../gpu-inference';
import { IIngestionQueue, IngestionFunction } from '../ingestion';
import { IIntakeBucket } from '../intake-bucket';
import { IModelGateway } from '../model-gateway';
import { QueryApi } from '../query-api';
import { IAuditStore } from '../query-api/audit-store';
import { IVectorDatabase, VectorStoreMetrics } from '../vector-database';
import { deploymentMetricDimensions, namePrefix } from './stack-names';
import { queryAuthorization } from './read-side-props';

/** A SageMaker endpoint the app calls, by name. */
export interface InferenceEndpointRef {
  readonly endpointName: string;
  /** @default - the endpoint hosts a model variant (calls name the endpoint only) */
  readonly inferenceComponentName?: string;
}

/**
 * What the app stack is given: the stage config (sizes and switches) and handles of what it uses,
 * each as small as it can be, never a whole stack (DataStack provides them in a deployed stage).
 */
export interface AppStackProps extends StackProps {
  readonly config: StageConfig;
  /** The VPC the functions run in. */
  readonly vpc: ec2.IVpc;
  /** Their subnets (and the database's). */
  readonly vpcSubnets: ec2.SubnetSelection;
  readonly intake: IIntakeBucket;
  readonly ingestionQueue: IIngestionQueue;
  readonly database: IVectorDatabase;
  /** The pipeline's scratch space. */
  readonly workBucket: IWorkBucket;
  /** Task tokens of documents waiting for a person. */
  readonly reviewQueue: sqs.IQueue;
  /** Reviewers are notified here. */
  readonly reviewTopic: sns.ITopic;
  /** Receives asynchronous invocations that failed every retry (state: it outlives this stack). */
  readonly asyncFailures: sqs.IQueue;
  /** Where alarms go. */
  readonly alarmTopic: sns.ITopic;
  /** The model gateway's state (table, prompts, guardrail). */
  readonly gateway: IModelGateway;
  /** The query API's audit trail. */
  readonly audit: IAuditStore;
  /** What happens to the query API's user pool when this stack is deleted. */
  readonly userPoolRemovalPolicy: RemovalPolicy;
  /** The embedding endpoint the pipeline calls. */
  readonly embedding: EmbeddingEndpointRef;
  /**
   * The endpoint the query API embeds questions with, when it is not `embedding` (same model, e.g. a
   * serverless CPU endpoint beside a scale-to-zero GPU one). @default - `embedding`
   */
  readonly questionEmbedding?: InferenceEndpointRef;
  /** The generation endpoint, when the stage deploys one (a model of the gateway's chains). */
  readonly generation?: InferenceEndpointRef;
}

/** The stateless side: functions, the pipeline, migrations. Safe to destroy and recreate. */
export class AppStack extends Stack {
  public readonly placement: FunctionPlacement;
  public readonly functionSecurityGroup: ec2.SecurityGroup;
  public readonly ingestion: IngestionFunction;
  public readonly pipeline: DocumentPipeline;
  public readonly query: QueryApi;
  public readonly vectorStoreMetrics: VectorStoreMetrics;

  constructor(scope: Construct, id: string, props: AppStackProps) {
    // Production keeps its evidence (function, API access and WAF logs, the key that encrypts them): termination protection as the data stack.
    super(scope, id, { ...props, terminationProtection: props.config.terminationProtection });
    setMetricDimensions(this, deploymentMetricDimensions(props.config));
    const c = props.config;
    tagWorkload(this, 'pipeline');

    // Encrypts only what this stack holds (function logs and environments, pipeline state and logs).
    // Stages that keep data keep the logs (audit evidence: API access, WAF, function logs) and this key
    // with them. Failed async invocations are state: their queue lives in the data stack.
    const evidence = c.retainData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
    const key = createDataKey(this, 'AppKey', { description: 'Encrypts function logs and environments, pipeline state and logs', removalPolicy: evidence });
    allowCloudWatchLogs(key);
    const asyncDlq = props.asyncFailures;

    this.functionSecurityGroup = new ec2.SecurityGroup(this, 'FunctionSg', {
      vpc: props.vpc,
      description: 'docai Lambdas: HTTPS to VPC endpoints and S3 only',
      allowAllOutbound: false,
    });
    // The subnets have no internet route: HTTPS out reaches only the S3 gateway endpoint and the
    // interface endpoints. (S3's prefix list id differs per region, and synth is region-agnostic.)
    this.functionSecurityGroup.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'HTTPS to VPC endpoints (no internet route exists)');

    this.placement = {
      vpc: props.vpc,
      vpcSubnets: props.vpcSubnets,
      securityGroups: [this.functionSecurityGroup],
      encryptionKey: key,
      logRetention: c.logRetentionDays,
      deadLetterQueue: asyncDlq,
      apiOnlyFunctionsInVpc: c.network.privateLinkForAwsApis,
      logRemovalPolicy: evidence,
    };

    const pl = c.pipeline;
    this.pipeline = new DocumentPipeline(this, 'Pipeline', {
      intake: props.intake,
      database: props.database,
      embedding: props.embedding,
      placement: this.placement,
      workBucket: props.workBucket,
      reviewQueue: props.reviewQueue,
      reviewTopic: props.reviewTopic,
      maxDocumentSize: Size.mebibytes(pl.maxDocumentMiB),
      chunkTokens: pl.chunkTokens,
      chunkOverlapTokens: pl.chunkOverlapTokens,
      embedBatchSize: pl.embedBatchSize,
      embedConcurrency: pl.embedConcurrency,
      embedBatchWindow: c.embedding.batchWindowMinutes > 0 ? Duration.minutes(c.embedding.batchWindowMinutes) : undefined,
      embedColdStart: c.embedding.scaling === 'scale-to-zero' ? Duration.minutes(COLD_START_MINUTES) : undefined,
      humanReviewTimeout: Duration.hours(pl.humanReviewTimeoutHours),
      logLevel: pl.logLevel === 'ALL' ? sfn.LogLevel.ALL : sfn.LogLevel.ERROR,
      includeExecutionData: pl.includeExecutionData,
      defaultAccessTier: pl.defaultAccessTier,
      backfillConcurrency: pl.backfillConcurrency,
      backfillToleratedFailurePercent: pl.backfillToleratedFailurePercent,
      logRetention: c.logRetentionDays,
    });
    tagWorkload(this.pipeline, 'pipeline');

    this.ingestion = new IngestionFunction(this, 'Ingestion', {
      queue: props.ingestionQueue,
      pipeline: this.pipeline,
      intakeBucketName: props.intake.bucketName,
      placement: this.placement,
      timeout: Duration.seconds(c.ingestion.functionTimeoutSeconds),
      maxConcurrency: c.ingestion.maxConcurrency,
      batchSize: c.ingestion.batchSize,
    });
    tagWorkload(this.ingestion, 'ingestion');

    const q = c.query;
    this.query = new QueryApi(this, 'Query', {
      apiName: `${namePrefix(c)}-query`,
      userPoolRemovalPolicy: props.userPoolRemovalPolicy,
      placement: this.placement,
      database: props.database,
      gateway: props.gateway,
      audit: props.audit,
      embedding: props.questionEmbedding ? { ...props.embedding, endpointName: props.questionEmbedding.endpointName, inferenceComponentName: props.questionEmbedding.inferenceComponentName } : props.embedding,
      generation: props.generation,
      authorization: queryAuthorization(q.authorization),
      iamCallerTier: q.iamCallerTier,
      tierGroups: q.tierGroups,
      defaultTopK: q.defaultTopK,
      maxTopK: q.maxTopK,
      throttle: q.throttle,
      clients: [...q.clients],
      clientDailyQuota: q.clientDailyQuota || undefined,
      wafRateLimitPer5Minutes: q.wafRateLimitPer5Minutes,
      ownAccountLoggingRole: q.apiGatewayAccountRole === true,
      logRetention: c.logRetentionDays,
      encryptionKey: key,
      alarmTopic: props.alarmTopic,
      alarms: { error5xxPercent: q.alarm5xxPercent, p95LatencyMs: q.alarmP95LatencyMs },
    });
    tagWorkload(this.query, 'query');

    this.vectorStoreMetrics = new VectorStoreMetrics(this, 'VectorStoreMetrics', {
      database: props.database,
      placement: this.placement,
      collectEvery: Duration.hours(c.observability.vectorStoreMetricsHours),
      alarmTopic: props.alarmTopic,
    });
    tagWorkload(this.vectorStoreMetrics, 'vector-db');
  }
}

