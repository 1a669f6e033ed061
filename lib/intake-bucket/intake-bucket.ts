import { Duration, Names, RemovalPolicy, Resource, Stack, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct, IConstruct } from 'constructs';
import { acknowledge, createDataKey, grantKey, grantObjects, S3_OBJECT_ACTIONS } from '../common';

/** Options of `IIntakeBucket.grantReadDocuments`. */
export interface GrantReadDocumentsOptions {
  /** Also read object and version tags (where the access tier of a document is set). @default false */
  readonly tags?: boolean;
}

/** The bucket documents are uploaded to, as its readers see it. */
export interface IIntakeBucket extends IConstruct {
  readonly bucket: s3.IBucket;
  /** The bucket name, known at synth time up to pseudo parameters, so policies name it without a cross-stack reference. */
  readonly bucketName: string;
  /** The key documents are encrypted with (SSE-KMS). */
  readonly encryptionKey: kms.IKey;
  /**
   * Read documents, their versions and (optionally) their tags, and decrypt them: exact actions,
   * no listing, no bucket-level access.
   */
  grantReadDocuments(grantee: iam.IGrantable, options?: GrantReadDocumentsOptions): iam.Grant;
}

/** An intake bucket deployed elsewhere, for `IntakeBucket.fromIntakeBucketAttributes`. */
export interface IntakeBucketAttributes {
  readonly bucketName: string;
  /** The bucket's SSE-KMS key. */
  readonly encryptionKey: kms.IKey;
}

/** aws-cdk-lib's feature flag (cx-api S3_SERVER_ACCESS_LOGS_USE_BUCKET_POLICY) choosing a bucket policy over the ACL for log delivery. */
const S3_ACCESS_LOGS_USE_BUCKET_POLICY = '@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy';

export interface IntakeBucketProps {
  /**
   * Use this bucket instead of creating one (then no bucket and no access-log bucket are created
   * here; `encryptionKey` is required, and the props that only shape a created bucket are refused).
   *
   * It must already have: versioning on (the pipeline keys documents on version ids); SSE-KMS with
   * `encryptionKey` as its default encryption (the pipeline decrypts with it, and an upload under
   * another key is unreadable to it); its name in `bucketName` of this construct is the bucket's own.
   * Recommended, as the created bucket has them: all public access blocked, bucket-owner-enforced
   * object ownership (no ACLs), a TLS-only bucket policy, server access logging, lifecycle rules.
   * Object Lock is optional (legal holds on single documents). EventBridge delivery is not needed.
   *
   * With `eventQueue`, the notifications of an imported bucket (`Bucket.fromBucketName` and the like) go
   * through CDK's `Custom::S3BucketNotifications` resource (Managed: false; a CDK-provided Lambda in this
   * stack calls PutBucketNotificationConfiguration; a bucket this CDK app creates gets Managed: true):
   * it reads the bucket's configuration first and keeps every notification it did not set itself
   * (other tools' queue, topic and Lambda configurations, and EventBridge delivery if on), on
   * create, update and delete. S3 refuses overlapping configurations: if another tool already
   * sends ObjectCreated, ObjectRemoved or ObjectTagging of all keys somewhere, the deploy fails.
   * @default - a new bucket (and its access-log bucket) is created
   */
  readonly existingBucket?: s3.IBucket;
  /**
   * Key that encrypts documents (SSE-KMS with an S3 bucket key, which cuts KMS requests).
   * Required with `existingBucket`: its default encryption key.
   * @default - a new customer-managed key with rotation on
   */
  readonly encryptionKey?: kms.IKey;
  /**
   * Queue that receives ObjectCreated, ObjectRemoved (including delete-marker) and ObjectTagging
   * notifications (a tag change can change a document's access tier).
   * @default - no notifications
   */
  readonly eventQueue?: sqs.IQueue;
  /**
   * Days after which current documents move to S3 Standard-IA.
   * @default Duration.days(30)
   */
  readonly infrequentAccessAfter?: Duration;
  /**
   * Days after which noncurrent versions move to Glacier Instant Retrieval.
   * @default Duration.days(30)
   */
  readonly noncurrentTransitionAfter?: Duration;
  /**
   * Days after which noncurrent versions are deleted for good.
   * @default Duration.days(90)
   */
  readonly noncurrentExpiration?: Duration;
  /**
   * Incomplete multipart uploads are aborted after this.
   * @default Duration.days(7)
   */
  readonly abortIncompleteMultipartUploadAfter?: Duration;
  /**
   * How long server access logs are kept.
   * @default Duration.days(365)
   */
  readonly accessLogExpiration?: Duration;
  /**
   * What happens to both buckets (and the key, if created here) when they leave the stack.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Empty the buckets on stack deletion (only with `RemovalPolicy.DESTROY`). Adds a CDK-provided
   * custom resource Lambda.
   * @default false
   */
  readonly autoDeleteObjects?: boolean;
}

/**
 * The versioned S3 bucket documents are uploaded to, and the bucket its server access logs go to.
 *
 * Intake: SSE-KMS with a customer key and bucket key, versioning, all public access blocked,
 * TLS 1.2+ only, bucket-owner-enforced object ownership (no ACLs), server access logging, lifecycle
 * (abort incomplete uploads, current → Standard-IA, noncurrent → Glacier IR → expired).
 *
 * Events: S3 event notifications go straight to an SQS queue, deliberately not through EventBridge:
 * S3 → SQS costs nothing extra, each record carries the `sequencer` that orders events per key, and
 * the queue buffers events while the consumer is down or being redeployed. EventBridge would add a
 * per-event charge and a second hop for a single consumer.
 */
export class IntakeBucket extends Construct implements IIntakeBucket {
  /** An intake bucket deployed elsewhere (another stack or app), by name and key. */
  public static fromIntakeBucketAttributes(scope: Construct, id: string, attrs: IntakeBucketAttributes): IIntakeBucket {
    return new ImportedIntakeBucket(scope, id, attrs);
  }

  public readonly bucket: s3.IBucket;
  /** Where the created bucket's server access logs go; undefined with `existingBucket`. */
  public readonly accessLogBucket?: s3.Bucket;
  public readonly encryptionKey: kms.IKey;
  /** The bucket name as synthesized (pseudo parameters, no reference to the bucket resource). */
  public readonly bucketName: string;

  constructor(scope: Construct, id: string, props: IntakeBucketProps = {}) {
    super(scope, id);
    // Access logs are delivered under a bucket policy (logging.s3.amazonaws.com), never the
    // LogDeliveryWrite ACL, which BUCKET_OWNER_ENFORCED forbids: the L2 picks that by this feature
    // flag, so it is set here, for this construct's buckets, whatever the consumer's app sets.
    this.node.setContext(S3_ACCESS_LOGS_USE_BUCKET_POLICY, true);
    if (props.existingBucket) {
      const { bucket, key } = this.useExisting(props.existingBucket, props);
      this.bucket = bucket;
      this.encryptionKey = key;
      this.bucketName = bucket.bucketName;
      return;
    }
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const autoDeleteObjects = props.autoDeleteObjects ?? false;
    if (autoDeleteObjects && removalPolicy !== RemovalPolicy.DESTROY) {
      throw new Error(`IntakeBucket: autoDeleteObjects is true but removalPolicy is ${removalPolicy}; auto-delete only makes sense with RemovalPolicy.DESTROY`);
    }
    const days = (name: string, d: Duration | undefined, dflt: number, min = 1): Duration => {
      const v = d ?? Duration.days(dflt);
      if (!Token.isUnresolved(v.toDays()) && v.toDays() < min) {
        throw new Error(`IntakeBucket: ${name} must be at least ${min} day(s), received ${v.toDays()}`);
      }
      return v;
    };
    const iaAfter = days('infrequentAccessAfter', props.infrequentAccessAfter, 30, 30);
    const noncurrentTransition = days('noncurrentTransitionAfter', props.noncurrentTransitionAfter, 30);
    const noncurrentExpiration = days('noncurrentExpiration', props.noncurrentExpiration, 90);
    if (noncurrentExpiration.toDays() <= noncurrentTransition.toDays()) {
      throw new Error(`IntakeBucket: noncurrentExpiration (${noncurrentExpiration.toDays()} days) must be longer than noncurrentTransitionAfter (${noncurrentTransition.toDays()} days)`);
    }

    this.encryptionKey = props.encryptionKey ?? createDataKey(this, 'Key', { description: 'Encrypts documents in the intake bucket', removalPolicy });

    // Server access log delivery supports only SSE-S3 on the target bucket, not SSE-KMS.
    this.accessLogBucket = new s3.Bucket(this, 'AccessLogs', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      // Object Lock on, without a default retention (server access log delivery refuses one):
      // individual log objects can be put under legal hold during an investigation.
      objectLockEnabled: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      versioned: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      removalPolicy,
      autoDeleteObjects,
      lifecycleRules: [
        {
          id: 'expire-access-logs',
          expiration: days('accessLogExpiration', props.accessLogExpiration, 365),
          noncurrentVersionExpiration: Duration.days(1),
          abortIncompleteMultipartUploadAfter: Duration.days(1),
        },
      ],
    });
    acknowledge(this.accessLogBucket, ['HIPAA.Security::HIPAA.Security-S3DefaultEncryptionKMS', 'NIST.800.53.R5::NIST.800.53.R5-S3DefaultEncryptionKMS', 'PCI.DSS.321::PCI.DSS.321-S3DefaultEncryptionKMS', 'cdk-validator-cfnguard::s3_bucket_default_encryption_kms_check'],
      'S3 server access log delivery only supports SSE-S3 (AES-256) on the target bucket, not SSE-KMS. Logs are still encrypted at rest; the bucket blocks public access, enforces TLS and expires logs.');
    acknowledge(this.accessLogBucket, ['AwsSolutions::AwsSolutions-S1', 'HIPAA.Security::HIPAA.Security-S3BucketLoggingEnabled', 'NIST.800.53.R5::NIST.800.53.R5-S3BucketLoggingEnabled', 'PCI.DSS.321::PCI.DSS.321-S3BucketLoggingEnabled', 'cdk-validator-cfnguard::s3_bucket_logging_enabled_check'],
      'This is the server access log bucket; logging it to itself would log its own log deliveries without end. API access to it is recorded by CloudTrail.');
    acknowledge(this.accessLogBucket, ['HIPAA.Security::HIPAA.Security-S3BucketReplicationEnabled', 'NIST.800.53.R5::NIST.800.53.R5-S3BucketReplicationEnabled', 'PCI.DSS.321::PCI.DSS.321-S3BucketReplicationEnabled'],
      'Access logs are an audit aid with a fixed expiry, not primary data; the bucket is versioned. Cross-region replication would double their cost without protecting any document.');

    // A deterministic name lets the queue policy name the bucket without referencing it, so the
    // bucket can carry its notification configuration natively (no custom-resource Lambda).
    const stack = Stack.of(this);
    const bucketName = `${Names.uniqueResourceName(this, { maxLength: 30, separator: '-' }).toLowerCase()}-${stack.account}-${stack.region}`;
    this.bucketName = bucketName;
    this.bucket = new s3.Bucket(this, 'Bucket', {
      bucketName,
      encryption: s3.BucketEncryption.KMS,
      // Object Lock on, without a default retention: documents can be put under legal hold or
      // governance retention one by one; lifecycle rules work as usual on everything else.
      objectLockEnabled: true,
      encryptionKey: this.encryptionKey,
      bucketKeyEnabled: true,
      versioned: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      serverAccessLogsBucket: this.accessLogBucket,
      serverAccessLogsPrefix: 'intake/',
      removalPolicy,
      autoDeleteObjects,
      lifecycleRules: [
        { id: 'abort-incomplete-uploads', abortIncompleteMultipartUploadAfter: days('abortIncompleteMultipartUploadAfter', props.abortIncompleteMultipartUploadAfter, 7) },
        { id: 'current-to-infrequent-access', transitions: [{ storageClass: s3.StorageClass.INFREQUENT_ACCESS, transitionAfter: iaAfter }] },
        {
          id: 'noncurrent-versions',
          noncurrentVersionTransitions: [{ storageClass: s3.StorageClass.GLACIER_INSTANT_RETRIEVAL, transitionAfter: noncurrentTransition }],
          noncurrentVersionExpiration: noncurrentExpiration,
        },
        { id: 'remove-expired-delete-markers', expiredObjectDeleteMarker: true },
      ],
    });
    acknowledge(this.bucket, ['HIPAA.Security::HIPAA.Security-S3BucketReplicationEnabled', 'NIST.800.53.R5::NIST.800.53.R5-S3BucketReplicationEnabled', 'PCI.DSS.321::PCI.DSS.321-S3BucketReplicationEnabled'],
      'Documents are protected by versioning (noncurrent versions kept for the configured period) and a retained, KMS-encrypted bucket; uploads are reproducible from the source systems. Cross-region replication is a disaster-recovery decision per deployment, not a default that doubles storage cost.');

    const cfnBucket = this.bucket.node.defaultChild as s3.CfnBucket;
    const cfnLogBucket = this.accessLogBucket.node.defaultChild as s3.CfnBucket;
    // Log objects arriving are announced to EventBridge (no charge without rules): a place to hang
    // log analytics later, and every bucket has notifications configured.
    cfnLogBucket.notificationConfiguration = { eventBridgeConfiguration: { eventBridgeEnabled: true } };

    if (props.eventQueue) {
      const bucketArn = `arn:${stack.partition}:s3:::${bucketName}`;
      const { policyDependable } = props.eventQueue.addToResourcePolicy(
        new iam.PolicyStatement({
          sid: 'AllowIntakeBucketNotifications',
          principals: [new iam.ServicePrincipal('s3.amazonaws.com')],
          actions: ['sqs:SendMessage', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl'],
          resources: [props.eventQueue.queueArn],
          conditions: { ArnLike: { 'aws:SourceArn': bucketArn }, StringEquals: { 'aws:SourceAccount': stack.account } },
        }),
      );
      props.eventQueue.encryptionMasterKey?.addToResourcePolicy(
        new iam.PolicyStatement({
          sid: 'AllowIntakeBucketNotificationsToEncrypt',
          principals: [new iam.ServicePrincipal('s3.amazonaws.com')],
          actions: ['kms:GenerateDataKey*', 'kms:Decrypt'],
          resources: ['*'],
          conditions: { ArnLike: { 'aws:SourceArn': bucketArn }, StringEquals: { 'aws:SourceAccount': stack.account } },
        }),
      );
      // ObjectRemoved:* covers permanent deletes and delete markers.
      cfnBucket.notificationConfiguration = {
        ...(cfnBucket.notificationConfiguration as object),
        queueConfigurations: ['s3:ObjectCreated:*', 's3:ObjectRemoved:*', 's3:ObjectTagging:*'].map((event) => ({ event, queue: props.eventQueue!.queueArn })),
      };
      // S3 checks it may send to the queue (with an s3:TestEvent) when the configuration is set.
      if (policyDependable) this.bucket.node.addDependency(policyDependable);
    } else {
      cfnBucket.notificationConfiguration = { eventBridgeConfiguration: { eventBridgeEnabled: true } };
    }
  }

  public grantReadDocuments(grantee: iam.IGrantable, options: GrantReadDocumentsOptions = {}): iam.Grant {
    return grantReadDocuments(this, grantee, this.bucketName, this.encryptionKey, options);
  }

  private useExisting(bucket: s3.IBucket, props: IntakeBucketProps): { bucket: s3.IBucket; key: kms.IKey } {
    if (!props.encryptionKey) {
      throw new Error('IntakeBucket: existingBucket needs encryptionKey, its SSE-KMS key (the pipeline decrypts documents with it)');
    }
    const createdOnly: (keyof IntakeBucketProps)[] = ['infrequentAccessAfter', 'noncurrentTransitionAfter', 'noncurrentExpiration',
      'abortIncompleteMultipartUploadAfter', 'accessLogExpiration', 'removalPolicy', 'autoDeleteObjects'];
    for (const name of createdOnly) {
      if (props[name] !== undefined) {
        throw new Error(`IntakeBucket: ${name} only applies to a bucket created here; with existingBucket, set it on the existing bucket instead (remove ${name})`);
      }
    }
    const queue = props.eventQueue;
    if (queue) {
      // The same scoped grants as for a created bucket (SqsDestination would grant the key to S3 without conditions).
      const conditions = { ArnLike: { 'aws:SourceArn': bucket.bucketArn }, StringEquals: { 'aws:SourceAccount': Stack.of(this).account } };
      const { policyDependable } = queue.addToResourcePolicy(new iam.PolicyStatement({
        sid: 'AllowIntakeBucketNotifications', principals: [new iam.ServicePrincipal('s3.amazonaws.com')],
        actions: ['sqs:SendMessage', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl'], resources: [queue.queueArn], conditions,
      }));
      queue.encryptionMasterKey?.addToResourcePolicy(new iam.PolicyStatement({
        sid: 'AllowIntakeBucketNotificationsToEncrypt', principals: [new iam.ServicePrincipal('s3.amazonaws.com')],
        actions: ['kms:GenerateDataKey*', 'kms:Decrypt'], resources: ['*'], conditions,
      }));
      const destination: s3.IBucketNotificationDestination = {
        bind: () => ({ arn: queue.queueArn, type: s3.BucketNotificationDestinationType.QUEUE, dependencies: policyDependable ? [policyDependable] : [] }),
      };
      for (const event of [s3.EventType.OBJECT_CREATED, s3.EventType.OBJECT_REMOVED, s3.EventType.OBJECT_TAGGING]) bucket.addEventNotification(event, destination);
      acknowledgeNotificationsHandler(bucket);
    }
    return { bucket, key: props.encryptionKey };
  }
}

class ImportedIntakeBucket extends Resource implements IIntakeBucket {
  public readonly bucket: s3.IBucket;
  public readonly bucketName: string;
  public readonly encryptionKey: kms.IKey;

  constructor(scope: Construct, id: string, attrs: IntakeBucketAttributes) {
    super(scope, id);
    this.bucketName = attrs.bucketName;
    this.encryptionKey = attrs.encryptionKey;
    this.bucket = s3.Bucket.fromBucketAttributes(this, 'Bucket', { bucketName: attrs.bucketName, encryptionKey: attrs.encryptionKey });
  }

  public grantReadDocuments(grantee: iam.IGrantable, options: GrantReadDocumentsOptions = {}): iam.Grant {
    return grantReadDocuments(this, grantee, this.bucketName, this.encryptionKey, options);
  }
}

/** aws-cdk-lib's construct id of the stack-wide handler behind Custom::S3BucketNotifications. */
const NOTIFICATIONS_HANDLER_ID = 'BucketNotificationsHandler050a0587b7544547bf325f094a3db834';

/** Acknowledges the findings on CDK's notifications handler, which CDK builds (and shapes) itself. */
function acknowledgeNotificationsHandler(bucket: s3.IBucket): void {
  const why = 'CDK-provided custom-resource handler that sets the notification configuration of an existing bucket (Custom::S3BucketNotifications). ' +
    'It runs only while CloudFormation deploys or deletes the stack and calls s3:PutBucketNotification/GetBucketNotification; CDK offers no VPC placement ' +
    'and builds its role (basic execution role for its logs) and inline policy itself. No document passes through it.';
  const policy = bucket.node.tryFindChild('Notifications')?.node.tryFindChild('HandlerPolicy');
  if (policy) acknowledge(policy, ['HIPAA.Security::HIPAA.Security-IAMNoInlinePolicy', 'NIST.800.53.R5::NIST.800.53.R5-IAMNoInlinePolicy', 'PCI.DSS.321::PCI.DSS.321-IAMNoInlinePolicy'], why);
  const handler = Stack.of(bucket).node.tryFindChild(NOTIFICATIONS_HANDLER_ID);
  if (!handler) return;
  const role = handler.node.tryFindChild('Role');
  if (role) acknowledge(role, ['AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]'], why);
  acknowledge(handler, ['cdk-validator-cfnguard::lambda_inside_vpc_check'], why);
}

function grantReadDocuments(scope: IConstruct, grantee: iam.IGrantable, bucketName: string, key: kms.IKey, options: GrantReadDocumentsOptions): iam.Grant {
  return grantObjects(grantee, {
    scope,
    bucketName,
    keyPattern: '*',
    actions: [...S3_OBJECT_ACTIONS.read, ...(options.tags ? S3_OBJECT_ACTIONS.readTags : [])],
    why: 'any uploaded document may need processing, and keys are chosen by uploaders.',
  }).combine(grantKey(grantee, key, ['kms:Decrypt']));
}
