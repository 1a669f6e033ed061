import { CfnOutput, Duration, RemovalPolicy, Size, Stack, Token } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct, IConstruct } from 'constructs';
import { flattenCfnReference } from 'cdk-nag/lib/utils/flatten-cfn-reference';
import { acknowledge, acknowledgeStateMachineWildcards, DocaiFunction, FunctionPlacement, executionsArn, grantKey, grantObjects, grantStateMachineDataKey, invokeEndpointStatement, S3_OBJECT_ACTIONS, stateMachineDataKeyStatement } from '../common';
import { IIntakeBucket } from '../intake-bucket';
import { DATABASE_ROLES, IVectorDatabase } from '../vector-database';
import { DocaiMetricFactory } from '../common/metric-factory';
import { DEFAULT_ACCESS_TIER, ENV, EXTRACT_LIMIT_ENV, EXTRACT_LIMITS } from '../contract';
import { createReviewQueue, createReviewTopic } from './review-channel';
import { IWorkBucket } from './work-bucket';

/** The embedding endpoint the Embed step calls. */
export interface EmbeddingEndpointRef {
  readonly endpointName: string;
  /**
   * Set when the endpoint hosts inference components (scale-to-zero mode): calls must name it.
   * @default - the endpoint hosts a model variant
   */
  readonly inferenceComponentName?: string;
  readonly dimension: number;
  /**
   * The model the endpoint serves: recorded with every chunk, so searches compare vectors of one model.
   * @default - chunks are stored without a model id
   */
  readonly modelId?: string;
  /** Price used to meter estimated spend per embedding call (EMF EstimatedSpendUsd). @default 0 */
  readonly usdPerMillionTokens?: number;
}

/** s3:ListBucket on the intake bucket (no objects, no data): lets HeadObject tell a missing key (404) from a denial (403). */
function listIntake(scope: Construct, intake: IIntakeBucket): iam.PolicyStatement {
  // By name, as the object grants are: no reference from this stack to the bucket resource.
  return new iam.PolicyStatement({ actions: ['s3:ListBucket'], resources: [`arn:${Stack.of(scope).partition}:s3:::${intake.bucketName}`] });
}

/** Embedding batches one document may have: their work-bucket keys travel in the state (256 KiB). */
export const MAX_EMBED_BATCHES = 2000;

/** Error names (Python exception classes) the state machine routes on. */
export const PIPELINE_ERRORS = {
  // Step Functions matches the class name, not its base classes: every retried subclass is listed.
  transient: ['TransientError', 'Throttled', 'DatabaseUnavailable'],
  endpointNotReady: ['EndpointNotReady'],
  // docai_shared.db.DatabaseResuming: the database did not accept a connection in time (auto-paused, resuming).
  databaseResuming: ['DatabaseResuming'],
  lambdaService: ['Lambda.ServiceException', 'Lambda.AWSLambdaException', 'Lambda.SdkClientException', 'Lambda.TooManyRequestsException', 'Lambda.ClientExecutionTimeoutException'],
  needsReview: ['NeedsHumanReview'],
  stale: ['StaleVersion'],
} as const;

/**
 * A document pipeline as its callers see it: the state machine and the key its executions are
 * encrypted with, together, so a grant to start it cannot forget the key.
 */
export interface IDocumentPipeline extends IConstruct {
  readonly stateMachine: sfn.IStateMachine;
  /** Encrypts the executions' data: a caller of StartExecution needs a data key from it. */
  readonly encryptionKey: kms.IKey;
  /**
   * `states:StartExecution` on the state machine and `kms:GenerateDataKey` on its key, in the state
   * machine's encryption context only: what starting an execution of a CMK-encrypted state machine takes.
   */
  grantStartExecution(grantee: iam.IGrantable): iam.Grant;
  /** Executions started (AWS/States ExecutionsStarted). @default Sum over 5 minutes */
  metricExecutionsStarted(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  /** Executions that succeeded (AWS/States ExecutionsSucceeded). @default Sum over 5 minutes */
  metricExecutionsSucceeded(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  /** Executions that failed (AWS/States ExecutionsFailed). @default Sum over 5 minutes */
  metricExecutionsFailed(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  /** Executions that timed out (AWS/States ExecutionsTimedOut). @default Sum over 5 minutes */
  metricExecutionsTimedOut(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  /**
   * Documents stored (the Store step's DocumentsProcessed) in one workflow: `ingest`, `backfill` or `replay`.
   * @default Sum over 5 minutes
   */
  metricDocumentsProcessed(workflow: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  /** Documents that ended in RecordFailure (DocumentsFailed) in one workflow. @default Sum over 5 minutes */
  metricDocumentsFailed(workflow: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  /** Tokens the Embed step sent to the embedding endpoint (TokensEmbedded) in one workflow. @default Sum over 5 minutes */
  metricTokensEmbedded(workflow: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric;
}

/** The metrics of a document pipeline, deployed or imported, through the metric factory. */
abstract class DocumentPipelineBase extends Construct {
  public abstract readonly stateMachine: sfn.IStateMachine;
  public abstract readonly encryptionKey: kms.IKey;

  public grantStartExecution(grantee: iam.IGrantable): iam.Grant {
    return this.stateMachine.grantStartExecution(grantee).combine(grantStateMachineDataKey(grantee, this.encryptionKey, this.stateMachine.stateMachineArn));
  }

  public metricExecutionsStarted(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.statesMetric('ExecutionsStarted', props);
  }

  public metricExecutionsSucceeded(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.statesMetric('ExecutionsSucceeded', props);
  }

  public metricExecutionsFailed(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.statesMetric('ExecutionsFailed', props);
  }

  public metricExecutionsTimedOut(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.statesMetric('ExecutionsTimedOut', props);
  }

  public metricDocumentsProcessed(workflow: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.stepMetric('DocumentsProcessed', workflow, 'Store', props);
  }

  public metricDocumentsFailed(workflow: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.stepMetric('DocumentsFailed', workflow, 'RecordFailure', props);
  }

  public metricTokensEmbedded(workflow: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.stepMetric('TokensEmbedded', workflow, 'Embed', props);
  }

  private statesMetric(metricName: string, props: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return DocaiMetricFactory.of(this).awsMetric('AWS/States', metricName, { StateMachineArn: this.stateMachine.stateMachineArn }, { statistic: 'Sum', ...props });
  }

  /** As lambda/pipeline emits them: Workflow and Step (docai_shared.observability), then the deployment's dimensions. */
  private stepMetric(metricName: string, workflow: string, step: string, props: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return DocaiMetricFactory.of(this).metric(metricName, { Workflow: workflow, Step: step }, { statistic: 'Sum', ...props });
  }
}

/** Resource bounds of the Extract step (lambda/pipeline/extraction.py, Limits). */
export interface ExtractLimits {
  /** Inflated size of one DOCX XML part, bytes (checked from the archive directory before inflating). @default 32 MiB */
  readonly maxXmlPartBytes?: number;
  /** Inflated to compressed size of a DOCX archive. @default 200 */
  readonly maxCompressionRatio?: number;
  /** @default 2000 */
  readonly maxPdfPages?: number;
  /** @default 10,000,000 */
  readonly maxExtractedChars?: number;
}

/** A document pipeline deployed elsewhere, for `DocumentPipeline.fromDocumentPipelineAttributes`. */
export interface DocumentPipelineAttributes {
  readonly stateMachineArn: string;
  /** The customer managed key the state machine is encrypted with. */
  readonly encryptionKey: kms.IKey;
}

export interface DocumentPipelineProps {
  readonly intake: IIntakeBucket;
  readonly database: IVectorDatabase;
  readonly embedding: EmbeddingEndpointRef;
  readonly placement: FunctionPlacement;
  /** Short-lived bucket for extracted text, chunks and vectors (S3 references travel in state, not data). */
  readonly workBucket: IWorkBucket;
  /** Encrypts the state machine's data and its log group. @default - placement.encryptionKey */
  readonly encryptionKey?: kms.IKey;
  /** @default Size.mebibytes(50) */
  readonly maxDocumentSize?: Size;
  /**
   * Resource bounds of the Extract step (lambda/pipeline/extraction.py, Limits); a document over one
   * ends in RecordFailure with a DocumentLimitExceeded naming the limit and the value.
   * @default - lib/contract EXTRACT_LIMITS: 32 MiB per DOCX XML part (checked from the archive directory before inflating), a
   * compression ratio of 200:1, 2,000 PDF pages, 10,000,000 extracted characters
   */
  readonly extractLimits?: ExtractLimits;
  /** @default 400 */
  readonly chunkTokens?: number;
  /** @default 50 */
  readonly chunkOverlapTokens?: number;
  /** Chunks per InvokeEndpoint call. @default 32 */
  readonly embedBatchSize?: number;
  /**
   * Embedding window: chunked documents wait for the start of the next window (every this long from
   * midnight UTC) and are embedded together, so a scale-to-zero endpoint starts once per window
   * instead of once per document. Documents wait up to one window. @default - embed at once
   */
  readonly embedBatchWindow?: Duration;
  /** Concurrent embedding batches per document. @default 4 */
  readonly embedConcurrency?: number;
  /**
   * How long the embedding endpoint takes to serve after a request found it at zero (scale to zero).
   * Embed then retries EndpointNotReady once per cold start instead of every ~30-120 s, so a window's
   * batches wait for the scale-out in one or two retries each. @default - an always-on endpoint: quick retries
   */
  readonly embedColdStart?: Duration;
  /** How long a document waits for a person. @default Duration.hours(72) */
  readonly humanReviewTimeout?: Duration;
  /** Tier for documents whose metadata names none. @default 'internal' */
  readonly defaultAccessTier?: string;
  /** @default sfn.LogLevel.ALL */
  readonly logLevel?: sfn.LogLevel;
  /** Document text in logs: useful in a pilot, a data-exposure risk in production. @default false */
  readonly includeExecutionData?: boolean;
  /** Backfill: concurrent child executions. @default 10 */
  readonly backfillConcurrency?: number;
  /** Backfill: percentage of documents that may fail before the backfill fails. @default 5 */
  readonly backfillToleratedFailurePercent?: number;
  /** Reviewers are notified here. @default - a new encrypted topic */
  readonly reviewTopic?: sns.ITopic;
  /** Holds a task token per document waiting for review. @default - a new encrypted queue with a DLQ */
  readonly reviewQueue?: sqs.IQueue;
  /** @default logs.RetentionDays.ONE_YEAR */
  readonly logRetention?: logs.RetentionDays;
}

/**
 * The document pipeline: a Standard state machine Validate ▶ Extract ▶ Chunk ▶ Map(Embed) ▶ Store,
 * a delete path, a human-review path and RecordFailure, plus a backfill state machine that re-embeds
 * every current document.
 *
 * Standard, not Express: an execution may wait minutes for a GPU endpoint to scale from zero and days
 * for a person (Express stops at 5 minutes and has no task tokens); Standard gives exactly-once
 * execution per name, which is what makes duplicate S3 events harmless, and a 90-day execution
 * history for audit.
 */
export class DocumentPipeline extends DocumentPipelineBase implements IDocumentPipeline {
  /** A pipeline deployed elsewhere (another stack or app): its state machine and key, enough to start executions. */
  public static fromDocumentPipelineAttributes(scope: Construct, id: string, attrs: DocumentPipelineAttributes): IDocumentPipeline {
    return new ImportedDocumentPipeline(scope, id, attrs);
  }

  public readonly stateMachine: sfn.IStateMachine;
  public readonly backfill: sfn.StateMachine;
  public readonly functions: Record<string, DocaiFunction> = {};
  public readonly reviewQueue: sqs.IQueue;
  public readonly reviewTopic: sns.ITopic;
  public readonly logGroup: logs.LogGroup;
  /** Encrypts both state machines' data: callers of StartExecution/SendTask* need a data key from it. */
  public readonly encryptionKey: kms.IKey;
  /**
   * What a person who reviews documents needs, and nothing more: read and delete review tasks, read
   * the document, put `runs/<runId>/reviewed.json` in the work bucket, approve or reject the task.
   * Attach it to the reviewers' role (its ARN is a stack output).
   */
  public readonly reviewerPolicy: iam.ManagedPolicy;

  constructor(scope: Construct, id: string, props: DocumentPipelineProps) {
    super(scope, id);
    const maxBytes = (props.maxDocumentSize ?? Size.mebibytes(50)).toBytes();
    const chunkTokens = props.chunkTokens ?? 400;
    const overlap = props.chunkOverlapTokens ?? 50;
    const batchSize = props.embedBatchSize ?? 32;
    const concurrency = props.embedConcurrency ?? 4;
    if (!Token.isUnresolved(overlap) && overlap >= chunkTokens) throw new Error(`DocumentPipeline: chunkOverlapTokens (${overlap}) must be smaller than chunkTokens (${chunkTokens})`);
    if (!Token.isUnresolved(concurrency) && (concurrency < 1 || concurrency > 40)) throw new Error(`DocumentPipeline: embedConcurrency must be from 1 to 40, received ${concurrency}`);
    // A run reads the work bucket until it ends: a document may wait for a reviewer, then for the
    // embedding window. Objects that expire sooner would fail the run long after it was accepted.
    const longestRun = (props.humanReviewTimeout ?? Duration.hours(72)).toHours() + (props.embedBatchWindow?.toHours({ integral: false }) ?? 0) + 24;
    if (props.workBucket.expiration.toHours() < longestRun) {
      throw new Error(`DocumentPipeline: the work bucket expires objects after ${props.workBucket.expiration.toHours()} h, but a run can last ${longestRun} h ` +
        '(human review timeout + embedding window + one day of processing and retries). Create the WorkBucket with a longer expiration.');
    }
    // The Chunk result carries one work-bucket key per embedding batch (~100 bytes each) through the
    // state, which Step Functions caps at 256 KiB. Worst case: a document at the extraction bound of
    // one-letter words (a token per 2 characters; npm run bench:limits measures it).
    const maxChars = props.extractLimits?.maxExtractedChars ?? EXTRACT_LIMITS.maxExtractedChars;
    const worstBatches = Math.ceil(maxChars / 2 / (chunkTokens - overlap) / batchSize);
    if (!Token.isUnresolved(batchSize) && worstBatches > MAX_EMBED_BATCHES) {
      throw new Error(`DocumentPipeline: with chunkTokens ${chunkTokens}, chunkOverlapTokens ${overlap} and embedBatchSize ${batchSize}, a document at the extraction bound ` +
        `(${maxChars} characters) makes up to ${worstBatches} embedding batches, whose keys would exceed Step Functions' 256 KiB state (at most ${MAX_EMBED_BATCHES}). ` +
        'Raise embedBatchSize or chunkTokens, or lower extractLimits.maxExtractedChars.');
    }
    const key = props.encryptionKey ?? props.placement.encryptionKey;
    this.encryptionKey = key;

    const writerEnv = props.database.connectionEnvironment(DATABASE_ROLES.writer);
    const common = {
      WORK_BUCKET: props.workBucket.bucket.bucketName,
      MAX_DOCUMENT_BYTES: String(maxBytes),
      CHUNK_TOKENS: String(chunkTokens),
      ...(props.embedBatchWindow ? { EMBED_WINDOW_MINUTES: String(props.embedBatchWindow.toMinutes()) } : {}),
      CHUNK_OVERLAP_TOKENS: String(overlap),
      EMBED_BATCH_SIZE: String(batchSize),
      DEFAULT_ACCESS_TIER: props.defaultAccessTier ?? DEFAULT_ACCESS_TIER,
    };
    const placementWithDb = { ...props.placement, securityGroups: [...props.placement.securityGroups, props.database.clientSecurityGroup] };
    // No reserved concurrency: a fresh account's quota (often 10) cannot grant it. Executions are bounded
    // by the ingestion queue's maximum concurrency, the Embed map's maxConcurrency and the backfill's.
    const fn = (name: string, handler: string, opts: { timeout: Duration; memory: number; env?: Record<string, string>; db?: boolean; outsideVpc?: { reason: string } }) => {
      const f = new DocaiFunction(this, name, {
        folder: 'pipeline',
        index: 'pipeline_handlers.py',
        handler,
        description: `Document pipeline: ${name}`,
        timeout: opts.timeout,
        memorySize: opts.memory,
        environment: { ...common, ...(opts.db ? writerEnv : {}), ...opts.env },
        workflow: 'ingest',
        ...(opts.db ? placementWithDb : props.placement),
        ...(opts.outsideVpc && props.placement.apiOnlyFunctionsInVpc === false ? { outsideVpc: opts.outsideVpc } : {}),
      });
      if (opts.db) props.database.grantConnect(f, DATABASE_ROLES.writer);
      this.functions[name] = f;
      return f;
    };

    const validateFn = fn('Validate', 'validate_handler', { timeout: Duration.seconds(30), memory: 256 });
    const lim = props.extractLimits ?? {};
    const extractFn = fn('Extract', 'extract_handler', {
      timeout: Duration.minutes(5), memory: 2048,
      env: {
        [EXTRACT_LIMIT_ENV.maxXmlPartBytes]: String(lim.maxXmlPartBytes ?? EXTRACT_LIMITS.maxXmlPartBytes),
        [EXTRACT_LIMIT_ENV.maxCompressionRatio]: String(lim.maxCompressionRatio ?? EXTRACT_LIMITS.maxCompressionRatio),
        [EXTRACT_LIMIT_ENV.maxPdfPages]: String(lim.maxPdfPages ?? EXTRACT_LIMITS.maxPdfPages),
        [EXTRACT_LIMIT_ENV.maxExtractedChars]: String(lim.maxExtractedChars ?? EXTRACT_LIMITS.maxExtractedChars),
      },
    });
    // Chunk and Store at the document bounds peak at 698 and 892 MB (npm run bench:limits: 10M characters
    // of one-letter words, 768 dimensions): 2048 MB keeps both under half.
    const chunkFn = fn('Chunk', 'chunk_handler', { timeout: Duration.minutes(2), memory: 2048, env: { MAX_EMBED_BATCHES: String(MAX_EMBED_BATCHES) } });
    const embedFn = fn('Embed', 'embed_handler', {
      timeout: Duration.minutes(2), memory: 512,
      env: {
        [ENV.ENDPOINT_NAME]: props.embedding.endpointName, [ENV.INFERENCE_COMPONENT]: props.embedding.inferenceComponentName ?? '', [ENV.EMBEDDING_DIMENSION]: String(props.embedding.dimension),
        [ENV.EMBEDDING_USD_PER_MILLION_TOKENS]: String(props.embedding.usdPerMillionTokens ?? 0),
      },
      // Its calls: S3 (work bucket) and SageMaker runtime. From the isolated subnets the latter needs an
      // interface endpoint (7.30 USD a month per AZ at list price); outside the VPC it needs none.
      outsideVpc: { reason: 'Embed only reads chunks from the work bucket and calls the SageMaker runtime (InvokeEndpoint).' },
    });
    const storeFn = fn('Store', 'store_handler', { timeout: Duration.minutes(5), memory: 2048, db: true, env: props.embedding.modelId ? { [ENV.EMBEDDING_MODEL]: props.embedding.modelId } : {} });
    const deleteFn = fn('Delete', 'delete_handler', { timeout: Duration.seconds(30), memory: 256, db: true });
    // After a version is removed for good: which version S3 serves now (HeadObject without a version: s3:GetObject; no data is read).
    grantObjects(deleteFn, { bucketName: props.intake.bucketName, keyPattern: '*', actions: ['s3:GetObject'],
      why: 'after a permanent version delete, HeadObject finds the version S3 serves now (any uploaded key; metadata only, no object data, no KMS).' });
    // "Serves nothing" is a 404 only with s3:ListBucket; without it S3 answers a missing key with 403
    // (https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html, Permissions).
    deleteFn.addToRolePolicy(listIntake(this, props.intake));
    const reviewFn = fn('MarkForReview', 'mark_for_review_handler', { timeout: Duration.seconds(30), memory: 256, db: true });
    const failFn = fn('RecordFailure', 'record_failure_handler', { timeout: Duration.seconds(30), memory: 256, db: true });
    // A tag change: the access tier of the stored version and its chunks, without re-embedding.
    const retierFn = fn('Retier', 'retier_handler', { timeout: Duration.seconds(30), memory: 256, db: true });

    // Least privilege per step: exact actions, work-bucket access limited to runs/*.
    props.intake.grantReadDocuments(validateFn);
    props.intake.grantReadDocuments(extractFn, { tags: true });
    props.intake.grantReadDocuments(retierFn, { tags: true });
    const work = props.workBucket;
    const why = 'each execution writes under runs/<execution name>/, a name known only at run time.';
    const workObjects = (f: DocaiFunction, actions: readonly string[], keyPattern = 'runs/*') => {
      grantObjects(f, { bucketName: work.bucketName, keyPattern, actions, why });
      grantKey(f, work.encryptionKey, actions.includes('s3:PutObject') ? ['kms:Decrypt', 'kms:GenerateDataKey'] : ['kms:Decrypt']);
    };
    workObjects(extractFn, [...S3_OBJECT_ACTIONS.read, ...S3_OBJECT_ACTIONS.write]);
    workObjects(chunkFn, [...S3_OBJECT_ACTIONS.read, ...S3_OBJECT_ACTIONS.write]);
    workObjects(embedFn, [...S3_OBJECT_ACTIONS.read, ...S3_OBJECT_ACTIONS.write]);
    workObjects(storeFn, S3_OBJECT_ACTIONS.read);
    embedFn.addToRolePolicy(invokeEndpointStatement(this, props.embedding));

    // Review: reviewers read the queue (message holds the task token) and answer with SendTaskSuccess/Failure.
    this.reviewQueue = props.reviewQueue ?? createReviewQueue(this, key);
    this.reviewTopic = props.reviewTopic ?? createReviewTopic(this, key);

    this.logGroup = new logs.LogGroup(this, 'Logs', { encryptionKey: key, retention: props.logRetention ?? logs.RetentionDays.ONE_YEAR, removalPolicy: props.placement.logRemovalPolicy ?? RemovalPolicy.DESTROY });

    // --- the definition -------------------------------------------------------------------------
    const failed = new sfn.Fail(this, 'DocumentFailed', { error: 'DocumentFailed', cause: 'Recorded by RecordFailure: see the documents table and the execution history' });
    const recordFailure = this.task('RecordFailure', failFn, '$.failure');
    recordFailure.addCatch(new sfn.Fail(this, 'FailureNotRecorded', { error: 'FailureNotRecorded', cause: 'RecordFailure itself failed: the execution history holds the original error' }), { resultPath: '$.recordError' });
    recordFailure.next(failed);
    const toFailure = (t: sfn.TaskStateBase | sfn.Map) => t.addCatch(recordFailure, { errors: ['States.ALL'], resultPath: '$.error' });

    const done = new sfn.Succeed(this, 'Done');
    const superseded = new sfn.Succeed(this, 'Superseded', { comment: 'A newer version (or delete) of this object is already recorded' });

    const start = new sfn.Pass(this, 'Start', { parameters: { 'runId.$': '$$.Execution.Name' }, resultPath: '$.meta' });
    const validate = this.task('Validate', validateFn, '$.validation');
    const extract = this.task('Extract', extractFn, '$.extracted');
    const chunk = this.task('Chunk', chunkFn, '$.chunked');
    const embed = this.task('Embed', embedFn, '$.embeddedBatch', props.embedColdStart);
    const store = this.task('Store', storeFn, '$.stored');
    const del = this.task('DeleteDocument', deleteFn, '$.deleted');
    const retier = this.task('Retier', retierFn, '$.retiered');

    const embedAll = new sfn.Map(this, 'EmbedBatches', {
      itemsPath: '$.chunked.batches',
      maxConcurrency: concurrency,
      // workflow: an item sees only what is selected here, and its tokens are metered per workflow (backfill, replay, ingest).
      itemSelector: { 'batchKey.$': '$$.Map.Item.Value', 'bucket.$': '$.bucket', 'key.$': '$.key', 'versionId.$': '$.versionId', 'meta.$': '$.meta', 'workflow.$': '$.chunked.workflow' },
      resultPath: sfn.JsonPath.DISCARD,
    });
    embedAll.itemProcessor(embed);

    // Human review: a document that needs a person waits (task token) for approve/reject.
    const markReview = this.task('MarkForReview', reviewFn, '$.review');
    const notify = new tasks.SnsPublish(this, 'NotifyReviewer', {
      topic: this.reviewTopic,
      subject: 'docai: a document needs review',
      message: sfn.TaskInput.fromObject({ 'bucket.$': '$.bucket', 'key.$': '$.key', 'versionId.$': '$.versionId', 'cause.$': '$.review.cause', queue: this.reviewQueue.queueUrl }),
      resultPath: sfn.JsonPath.DISCARD,
    });
    const waitForReview = new tasks.SqsSendMessage(this, 'WaitForReview', {
      queue: this.reviewQueue,
      integrationPattern: sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
      messageBody: sfn.TaskInput.fromObject({
        taskToken: sfn.JsonPath.taskToken,
        'bucket.$': '$.bucket', 'key.$': '$.key', 'versionId.$': '$.versionId', 'runId.$': '$.meta.runId', 'cause.$': '$.review.cause',
        // The only key an approval of this run may name (Extract refuses any other run's text).
        'reviewedTextKey.$': '$.review.reviewedTextKey',
        howTo: 'Approve: states send-task-success --task-output \'{"approved": true, "reviewedTextKey": "<reviewedTextKey>"}\' after uploading the text to the work bucket under reviewedTextKey; reject: send-task-failure.',
      }),
      taskTimeout: sfn.Timeout.duration(props.humanReviewTimeout ?? Duration.hours(72)),
      resultPath: '$.decision',
    });
    for (const t of [markReview, notify, waitForReview]) {
      this.retry(t);
      toFailure(t);
    }
    const decision = new sfn.Choice(this, 'ReviewDecision')
      .when(sfn.Condition.and(sfn.Condition.isPresent('$.decision.approved'), sfn.Condition.booleanEquals('$.decision.approved', true)), extract)
      .otherwise(recordFailure);
    markReview.next(notify).next(waitForReview).next(decision);

    for (const t of [validate, extract, chunk, store, del, retier]) {
      t.addCatch(superseded, { errors: [...PIPELINE_ERRORS.stale], resultPath: '$.error' });
    }
    extract.addCatch(markReview, { errors: [...PIPELINE_ERRORS.needsReview], resultPath: '$.error' });
    // A retag that fails ends in RecordFailure too: the document is marked failed and its chunks are
    // removed, rather than served under a tier that may no longer be right (fail closed).
    for (const t of [validate, extract, chunk, store, del, retier]) toFailure(t);
    toFailure(embedAll);

    // A version removed for good can leave S3 serving another one: index that version in this run
    // (the delete's sequencer orders it after the tombstone the delete left).
    const reindex = new sfn.Pass(this, 'ReindexCurrentVersion', {
      comment: 'S3 serves another version after this delete: run the upsert path for it',
      parameters: { action: 'upsert', 'bucket.$': '$.bucket', 'key.$': '$.key', 'versionId.$': '$.deleted.reindex.versionId', 'sequencer.$': '$.sequencer', eventName: 'Reindex', 'meta.$': '$.meta', 'deleted.$': '$.deleted' },
    });
    const afterDelete = new sfn.Choice(this, 'ServesAnotherVersion')
      .when(sfn.Condition.isPresent('$.deleted.reindex.versionId'), reindex.next(validate))
      .otherwise(done);
    // A document failed by its metadata whose tags are valid now: index it again, without a re-upload.
    const rerun = new sfn.Pass(this, 'RerunAfterTagChange', {
      comment: 'The tag change made the failed version valid: run the upsert path for it',
      parameters: { action: 'upsert', 'bucket.$': '$.bucket', 'key.$': '$.key', 'versionId.$': '$.retiered.rerun.versionId', 'sequencer.$': '$.retiered.rerun.sequencer', eventName: 'TagChange', 'meta.$': '$.meta', 'retiered.$': '$.retiered' },
    });
    const afterRetier = new sfn.Choice(this, 'RerunAfterRetag?')
      .when(sfn.Condition.isPresent('$.retiered.rerun.versionId'), rerun.next(validate))
      .otherwise(done);
    const route = new sfn.Choice(this, 'Route')
      .when(sfn.Condition.stringEquals('$.action', 'delete'), del.next(afterDelete))
      .when(sfn.Condition.stringEquals('$.action', 'retag'), retier.next(afterRetier))
      .otherwise(validate.next(extract).next(chunk).next(
        props.embedBatchWindow
          ? new sfn.Wait(this, 'WaitForEmbedWindow', { comment: 'Until the next embedding window (Chunk computed it): the endpoint scales out once per window', time: sfn.WaitTime.timestampPath('$.chunked.embedNotBefore') }).next(embedAll)
          : embedAll,
      ).next(store).next(done));

    const stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineType: sfn.StateMachineType.STANDARD,
      definitionBody: sfn.DefinitionBody.fromChainable(start.next(route)),
      tracingEnabled: true,
      timeout: Duration.days(7),
      logs: { destination: this.logGroup, level: props.logLevel ?? sfn.LogLevel.ALL, includeExecutionData: props.includeExecutionData ?? false },
      encryptionConfiguration: new sfn.CustomerManagedEncryptionConfiguration(key),
    });
    this.stateMachine = stateMachine;
    acknowledgeStateMachineWildcards(stateMachine);

    this.backfill = this.createBackfill(props, key);
    // The backfill starts pipeline executions (.sync: it also describes them), encrypted with the same key.
    grantStateMachineDataKey(this.backfill, key, this.stateMachine.stateMachineArn, { readExecutions: true });
    this.reviewerPolicy = this.createReviewerPolicy(props, key);
  }

  private createReviewerPolicy(props: DocumentPipelineProps, key: kms.IKey): iam.ManagedPolicy {
    const stack = Stack.of(this);
    const viaS3 = { StringEquals: { 'kms:ViaService': `s3.${stack.region}.${stack.urlSuffix}` } };
    const documents = `arn:${stack.partition}:s3:::${props.intake.bucketName}/*`;
    const reviewedText = `arn:${stack.partition}:s3:::${props.workBucket.bucketName}/runs/*/reviewed.json`;
    const statements = [
      new iam.PolicyStatement({ sid: 'ReadReviewTasks', actions: ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility', 'sqs:GetQueueAttributes'], resources: [this.reviewQueue.queueArn] }),
      new iam.PolicyStatement({ sid: 'ReadDocuments', actions: [...S3_OBJECT_ACTIONS.read], resources: [documents] }),
      new iam.PolicyStatement({ sid: 'DecryptDocuments', actions: ['kms:Decrypt'], resources: [props.intake.encryptionKey.keyArn], conditions: viaS3 }),
      new iam.PolicyStatement({ sid: 'SupplyReviewedText', actions: ['s3:PutObject'], resources: [reviewedText] }),
      new iam.PolicyStatement({ sid: 'EncryptReviewedText', actions: ['kms:GenerateDataKey'], resources: [props.workBucket.encryptionKey.keyArn], conditions: viaS3 }),
      // Task tokens have no resource-level permissions (Service Authorization Reference, Step Functions):
      // the data key below, limited to this state machine's encryption context, is what narrows them.
      new iam.PolicyStatement({ sid: 'AnswerReviewTasks', actions: ['states:SendTaskSuccess', 'states:SendTaskFailure'], resources: ['*'] }),
      new iam.PolicyStatement({
        sid: 'AnswerReviewTasksDataKey', actions: ['kms:GenerateDataKey'], resources: [key.keyArn],
        conditions: { StringEquals: { 'kms:EncryptionContext:aws:states:stateMachineArn': this.stateMachine.stateMachineArn } },
      }),
    ];
    const queueKey = this.reviewQueue.encryptionMasterKey;
    if (queueKey) statements.push(new iam.PolicyStatement({ sid: 'DecryptReviewTasks', actions: ['kms:Decrypt'], resources: [queueKey.keyArn], conditions: { StringEquals: { 'kms:ViaService': `sqs.${stack.region}.${stack.urlSuffix}` } } }));
    const policy = new iam.ManagedPolicy(this, 'ReviewerPolicy', {
      description: 'docai: review documents that need a person (read review tasks and the document, supply text, approve or reject)',
      statements,
    });
    const flat = (arn: string) => flattenCfnReference(stack.resolve(arn));
    acknowledge(policy, ['AwsSolutions::AwsSolutions-IAM5[Resource::*]'],
      'states:SendTaskSuccess and states:SendTaskFailure have no resource-level permissions (a task token is the credential); the reviewer can only answer tasks ' +
        'of this state machine because the data key it needs is limited to its encryption context (kms:EncryptionContext:aws:states:stateMachineArn).');
    acknowledge(policy, [`AwsSolutions::AwsSolutions-IAM5[Resource::${flat(documents)}]`],
      'A reviewer must read the document under review, which can be any uploaded object (keys are chosen by uploaders); read-only object access, no listing.');
    acknowledge(policy, [`AwsSolutions::AwsSolutions-IAM5[Resource::${flat(reviewedText)}]`],
      'A reviewer writes only runs/<runId>/reviewed.json, the file the pipeline reads after approval; the run id is known only at run time.');
    new CfnOutput(this, 'ReviewerPolicyArn', { value: policy.managedPolicyArn, description: 'Attach to the role of the people who review documents (README: human review)' });
    return policy;
  }

  /** A Lambda task with the project's retry policy. */
  private task(id: string, f: DocaiFunction, resultPath: string, coldStart?: Duration): tasks.LambdaInvoke {
    const t = new tasks.LambdaInvoke(this, `${id}Task`, {
      lambdaFunction: f,
      payloadResponseOnly: true,
      resultPath,
      retryOnServiceExceptions: false,
      stateName: id,
    });
    this.retry(t, coldStart);
    return t;
  }

  private retry(t: sfn.TaskStateBase, coldStart?: Duration): void {
    // Lambda service hiccups and transient errors: quick, jittered exponential backoff.
    t.addRetry({ errors: [...PIPELINE_ERRORS.lambdaService, ...PIPELINE_ERRORS.transient], interval: Duration.seconds(2), backoffRate: 2, maxAttempts: 6, maxDelay: Duration.seconds(60), jitterStrategy: sfn.JitterType.FULL });
    if (coldStart) {
      // Scale to zero: the first call of a window fails and starts the scale-out; every batch of the
      // window then waits one cold start (+1 minute for the scale-out alarm's period) instead of
      // polling: each retry is a billed state transition (https://aws.amazon.com/step-functions/pricing/).
      // No jitter: the window already sends the batches together. Four waits cover ~30 minutes.
      // npm run bench:embed-cold-start prints the transitions per document.
      t.addRetry({ errors: [...PIPELINE_ERRORS.endpointNotReady], interval: coldStart.plus(Duration.minutes(1)), backoffRate: 1, maxAttempts: 4 });
    } else {
      // A GPU endpoint scaling out from zero needs ~5 minutes: keep trying for ~20.
      t.addRetry({ errors: [...PIPELINE_ERRORS.endpointNotReady], interval: Duration.seconds(30), backoffRate: 1.5, maxAttempts: 12, maxDelay: Duration.seconds(120), jitterStrategy: sfn.JitterType.FULL });
    }
    // An auto-paused database resumes in ~15 s, 30 s or more after a day paused; each attempt already waits
    // 20 s for its connection (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-serverless-v2-auto-pause.html).
    t.addRetry({ errors: [...PIPELINE_ERRORS.databaseResuming], interval: Duration.seconds(5), backoffRate: 2, maxAttempts: 5, maxDelay: Duration.seconds(40), jitterStrategy: sfn.JitterType.FULL });
  }

  private createBackfill(props: DocumentPipelineProps, key: kms.IKey): sfn.StateMachine {
    const itemFn = new DocaiFunction(this, 'BackfillItem', {
      folder: 'pipeline',
      index: 'pipeline_handlers.py',
      handler: 'backfill_item_handler',
      description: 'Backfill: turns one intake object into a re-embedding input',
      timeout: Duration.seconds(30),
      memorySize: 256,
      environment: { [ENV.INTAKE_BUCKET]: props.intake.bucket.bucketName, ...props.database.connectionEnvironment(DATABASE_ROLES.writer) },
      workflow: 'backfill',
      ...props.placement,
      securityGroups: [...props.placement.securityGroups, props.database.clientSecurityGroup],
    });
    props.intake.grantReadDocuments(itemFn);
    // An object deleted since the listing is skipped: HeadObject says 404 only with s3:ListBucket, 403 without
    // (https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html, Permissions), which is indistinguishable from a denial.
    itemFn.addToRolePolicy(listIntake(this, props.intake));
    props.database.grantConnect(itemFn, DATABASE_ROLES.writer);
    this.functions.BackfillItem = itemFn;

    const prepare = this.task('PrepareItem', itemFn, '$.prepared');
    const itemFailed = new sfn.Fail(this, 'ItemFailed', { error: 'ItemFailed', cause: 'This document could not be re-embedded (counted against the tolerance)' });
    prepare.addCatch(itemFailed, { resultPath: '$.error' });
    const run = new tasks.StepFunctionsStartExecution(this, 'ReembedDocument', {
      stateMachine: this.stateMachine,
      integrationPattern: sfn.IntegrationPattern.RUN_JOB,
      input: sfn.TaskInput.fromObject(Object.fromEntries(['action', 'reembed', 'bucket', 'key', 'versionId', 'sequencer', 'eventName'].map((k) => [`${k}.$`, `$.prepared.input.${k}`]))),
      associateWithParent: true,
      resultPath: sfn.JsonPath.DISCARD,
    });
    this.retry(run);
    run.addCatch(itemFailed, { resultPath: '$.error' });
    const skip = new sfn.Succeed(this, 'SkipItem');
    const item = prepare.next(new sfn.Choice(this, 'Skip?').when(sfn.Condition.booleanEquals('$.prepared.skip', true), skip).otherwise(run));

    const map = new sfn.DistributedMap(this, 'AllDocuments', {
      itemReader: new sfn.S3ObjectsItemReader({ bucket: props.intake.bucket }),
      maxConcurrency: props.backfillConcurrency ?? 10,
      toleratedFailurePercentage: props.backfillToleratedFailurePercent ?? 5,
      resultPath: sfn.JsonPath.DISCARD,
    });
    map.itemProcessor(item);
    // Items that fail count against the tolerance; past it, the backfill ends here with a reason.
    map.addCatch(new sfn.Fail(this, 'BackfillFailed', { error: 'BackfillFailed', cause: 'More documents failed than backfillToleratedFailurePercent allows: see the map run and the documents table' }), { resultPath: '$.error' });
    const logGroup = new logs.LogGroup(this, 'BackfillLogs', { encryptionKey: key, retention: props.logRetention ?? logs.RetentionDays.ONE_YEAR, removalPolicy: props.placement.logRemovalPolicy ?? RemovalPolicy.DESTROY });
    const machine = new sfn.StateMachine(this, 'Backfill', {
      definitionBody: sfn.DefinitionBody.fromChainable(map),
      tracingEnabled: true,
      timeout: Duration.days(7),
      logs: { destination: logGroup, level: sfn.LogLevel.ALL, includeExecutionData: false },
      encryptionConfiguration: new sfn.CustomerManagedEncryptionConfiguration(key),
    });
    acknowledgeStateMachineWildcards(machine);
    // Child workflow executions of the Distributed Map are named <state machine>/<map run label>:<id>
    // (https://docs.aws.amazon.com/step-functions/latest/dg/iam-policies-eg-dist-map.html); CDK's own
    // policy covers <state machine>:*. Their input is encrypted with this state machine's key. A separate
    // policy, because the role's default policy cannot name the state machine it belongs to.
    const childExecutions = executionsArn(this, machine.stateMachineArn, '/*:*');
    const childPolicy = new iam.Policy(this, 'BackfillChildExecutions', {
      statements: [
        new iam.PolicyStatement({ actions: ['states:DescribeExecution', 'states:StopExecution'], resources: [childExecutions] }),
        stateMachineDataKeyStatement(key, machine.stateMachineArn, { readExecutions: true }),
      ],
    });
    childPolicy.attachToRole(machine.role);
    acknowledge(childPolicy, [`AwsSolutions::AwsSolutions-IAM5[Resource::${flattenCfnReference(Stack.of(this).resolve(childExecutions))}]`],
      'Describing and stopping the child workflow executions this Distributed Map starts; their ids are generated at run time.');
    return machine;
  }
}

class ImportedDocumentPipeline extends DocumentPipelineBase implements IDocumentPipeline {
  public readonly stateMachine: sfn.IStateMachine;
  public readonly encryptionKey: kms.IKey;

  constructor(scope: Construct, id: string, attrs: DocumentPipelineAttributes) {
    super(scope, id);
    this.stateMachine = sfn.StateMachine.fromStateMachineArn(this, 'StateMachine', attrs.stateMachineArn);
    this.encryptionKey = attrs.encryptionKey;
  }
}
