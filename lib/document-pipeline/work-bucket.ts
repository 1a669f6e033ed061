import { Duration, Names, RemovalPolicy, Resource, Stack } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct, IConstruct } from 'constructs';
import { acknowledge, createDataKey } from '../common';

/** An expiring, encrypted bucket for intermediate results, as its users see it. */
export interface IWorkBucket extends IConstruct {
  readonly bucket: s3.IBucket;
  /** The bucket name, known at synth time up to pseudo parameters, for readable least-privilege ARNs. */
  readonly bucketName: string;
  readonly encryptionKey: kms.IKey;
  /** How long objects live: DocumentPipeline refuses a bucket that expires them before a run can end. */
  readonly expiration: Duration;
}

/** A work bucket deployed elsewhere, for `WorkBucket.fromWorkBucketAttributes`. */
export interface WorkBucketAttributes {
  readonly bucketName: string;
  readonly encryptionKey: kms.IKey;
  /** The expiration of its lifecycle rule (every object). */
  readonly expiration: Duration;
}

export interface WorkBucketProps {
  /** @default - a new customer-managed key with rotation on */
  readonly encryptionKey?: kms.IKey;
  /** Server access logs go here (a bucket that accepts S3 log delivery: SSE-S3, see IntakeBucket.accessLogBucket). */
  readonly accessLogBucket: s3.IBucket;
  /** Objects are deleted after this; DocumentPipeline requires more than its review timeout + embedding window + a day. @default Duration.days(5) */
  readonly expiration?: Duration;
  /** @default RemovalPolicy.DESTROY with auto-delete: it holds only intermediate results */
  readonly removalPolicy?: RemovalPolicy;
  /** @default true when removalPolicy is DESTROY */
  readonly autoDeleteObjects?: boolean;
}

/**
 * An expiring, encrypted, access-logged bucket. Used as the pipeline's scratch space and, with a
 * longer expiry, for endpoint data capture.
 *
 * The pipeline's scratch space: extracted text, chunk batches and vectors of in-flight executions,
 * so large payloads never travel inside Step Functions state (256 KB limit). Encrypted with a customer
 * key, TLS-only, private, access-logged; every object expires after a few days.
 */
export class WorkBucket extends Construct implements IWorkBucket {
  /** A work bucket deployed elsewhere (another stack or app), by name, key and object lifetime. */
  public static fromWorkBucketAttributes(scope: Construct, id: string, attrs: WorkBucketAttributes): IWorkBucket {
    return new ImportedWorkBucket(scope, id, attrs);
  }

  public readonly bucket: s3.IBucket;
  /** The bucket name as synthesized (pseudo parameters only), for readable least-privilege ARNs. */
  public readonly bucketName: string;
  public readonly encryptionKey: kms.IKey;
  /** How long objects live: longer than any run that reads them (DocumentPipeline checks). */
  public readonly expiration: Duration;

  constructor(scope: Construct, id: string, props: WorkBucketProps) {
    super(scope, id);
    this.expiration = props.expiration ?? Duration.days(5);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.DESTROY;
    const stack = Stack.of(this);
    this.bucketName = `${Names.uniqueResourceName(this, { maxLength: 30, separator: '-' }).toLowerCase()}-${stack.account}-${stack.region}`;
    this.encryptionKey = props.encryptionKey ?? createDataKey(this, 'Key', { description: 'Encrypts the work bucket', removalPolicy });
    this.bucket = new s3.Bucket(this, 'Bucket', {
      bucketName: this.bucketName,
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: this.encryptionKey,
      bucketKeyEnabled: true,
      versioned: true,
      objectLockEnabled: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      serverAccessLogsBucket: props.accessLogBucket,
      serverAccessLogsPrefix: 'work/',
      removalPolicy,
      autoDeleteObjects: props.autoDeleteObjects ?? removalPolicy === RemovalPolicy.DESTROY,
      lifecycleRules: [
        {
          id: 'expire-work-objects',
          expiration: this.expiration,
          noncurrentVersionExpiration: Duration.days(1),
          abortIncompleteMultipartUploadAfter: Duration.days(1),
          expiredObjectDeleteMarker: false,
        },
      ],
    });
    (this.bucket.node.defaultChild as s3.CfnBucket).notificationConfiguration = { eventBridgeConfiguration: { eventBridgeEnabled: true } };
    acknowledge(this.bucket, ['HIPAA.Security::HIPAA.Security-S3BucketReplicationEnabled', 'NIST.800.53.R5::NIST.800.53.R5-S3BucketReplicationEnabled', 'PCI.DSS.321::PCI.DSS.321-S3BucketReplicationEnabled'],
      'Scratch space of in-flight executions (extracted text, chunks, vectors), expiring after days; every object can be recomputed from the intake ' +
        'bucket by re-running the pipeline. Replicating it would copy transient data at double cost without protecting anything.');
  }
}

class ImportedWorkBucket extends Resource implements IWorkBucket {
  public readonly bucket: s3.IBucket;
  public readonly bucketName: string;
  public readonly encryptionKey: kms.IKey;
  public readonly expiration: Duration;

  constructor(scope: Construct, id: string, attrs: WorkBucketAttributes) {
    super(scope, id);
    this.bucketName = attrs.bucketName;
    this.encryptionKey = attrs.encryptionKey;
    this.expiration = attrs.expiration;
    this.bucket = s3.Bucket.fromBucketAttributes(this, 'Bucket', { bucketName: attrs.bucketName, encryptionKey: attrs.encryptionKey });
  }
}
