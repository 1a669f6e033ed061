import * as fs from 'fs';
import * as path from 'path';
import { Duration, Fn, Names, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import * as athena from 'aws-cdk-lib/aws-athena';
import * as glue from 'aws-cdk-lib/aws-glue';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct, IConstruct } from 'constructs';
import { acknowledge } from '../common/acknowledge';
import { createDataKey } from '../common/keys';
import { grantKey, grantObjects, S3_OBJECT_ACTIONS } from '../common/least-privilege';
import * as auditColumns from './audit-columns.json';
import { packagePath } from '../common/package-root';

/** The columns of one audit record (lambda/query/query_handler.py writes them; the Glue table reads them). */
export const AUDIT_COLUMNS: readonly glue.CfnTable.ColumnProperty[] = auditColumns.columns;

/** The shipped audit queries (Athena, Trino SQL) in lib/query-api/queries: `?` placeholders are Athena execution parameters, in order. */
export const AUDIT_QUERIES_DIR = packagePath('lib', 'query-api', 'queries');

/** One saved audit query. */
export interface AuditQuery {
  /** From the file's `--` comment lines. */
  readonly description: string;
  /** Athena (Trino) SQL; `?` placeholders are execution parameters, in order. */
  readonly sql: string;
}

/** The shipped audit queries by name (AuditStore.savedQueries). */
function auditQueries(): Record<string, AuditQuery> {
  return Object.fromEntries(fs.readdirSync(AUDIT_QUERIES_DIR).filter((f) => f.endsWith('.sql')).sort().map((f) => {
    const lines = fs.readFileSync(path.join(AUDIT_QUERIES_DIR, f), 'utf8').split('\n');
    const description = lines.filter((l) => l.startsWith('--')).map((l) => l.replace(/^--\s?/, '')).join(' ');
    return [f.replace(/\.sql$/, ''), { description, sql: lines.filter((l) => !l.startsWith('--')).join('\n').trim() }];
  }));
}

/** How Object Lock protects the audit records (https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock.html#object-lock-retention-modes). */
export enum AuditLockMode {
  /** A principal with s3:BypassGovernanceRetention can delete a record before its retention ends. */
  GOVERNANCE = 'GOVERNANCE',
  /** Nobody, the root user included, can delete a record before its retention ends. */
  COMPLIANCE = 'COMPLIANCE',
}

/** Where audit records go, as the query function sees it; implemented by AuditStore and AuditStore.fromAuditStoreAttributes. */
export interface IAuditStore extends IConstruct {
  readonly bucket: s3.IBucket;
  /** The bucket name, for the function's environment. */
  readonly bucketName: string;
  /** The bucket name as IAM resource ARNs name it (a pattern when the name is per deployment). */
  readonly bucketNameForPolicies: string;
  /** Encrypts the records. */
  readonly encryptionKey: kms.IKey;
  /** Glue database and table the saved queries read. */
  readonly databaseName: string;
  readonly tableName: string;
  /** Athena workgroup of the saved queries. */
  readonly workgroupName: string;
  /**
   * Append-only: s3:PutObject on `audit/*` and kms:GenerateDataKey on the key. Never read, delete or
   * bypass a lock.
   */
  grantWriteRecords(grantee: iam.IGrantable): iam.Grant;
}

/** An audit store deployed elsewhere. */
export interface AuditStoreAttributes {
  readonly bucketName: string;
  /** @default bucketName */
  readonly bucketNameForPolicies?: string;
  readonly encryptionKey: kms.IKey;
  readonly databaseName: string;
  /** @default 'requests' */
  readonly tableName?: string;
  readonly workgroupName: string;
}

const WRITE_WHY = 'one record per request, named by the date and the request id, which exist only at run time. Object Lock makes every record immutable once written. ' +
  'The bucket is named per deployment (its suffix is the data stack id, which this stack cannot name): the pattern matches only this deployment\'s audit trails.';

function grantWrite(store: IAuditStore, grantee: iam.IGrantable): iam.Grant {
  return grantObjects(grantee, { bucketName: store.bucketNameForPolicies, keyPattern: 'audit/*', actions: S3_OBJECT_ACTIONS.write, why: WRITE_WHY, scope: store })
    .combine(grantKey(grantee, store.encryptionKey, ['kms:GenerateDataKey']));
}

class ImportedAuditStore extends Construct implements IAuditStore {
  public readonly bucket: s3.IBucket;
  public readonly bucketName: string;
  public readonly bucketNameForPolicies: string;
  public readonly encryptionKey: kms.IKey;
  public readonly databaseName: string;
  public readonly tableName: string;
  public readonly workgroupName: string;

  constructor(scope: Construct, id: string, attrs: AuditStoreAttributes) {
    super(scope, id);
    this.bucket = s3.Bucket.fromBucketAttributes(this, 'Bucket', { bucketName: attrs.bucketName, encryptionKey: attrs.encryptionKey });
    this.bucketName = attrs.bucketName;
    this.bucketNameForPolicies = attrs.bucketNameForPolicies ?? attrs.bucketName;
    this.encryptionKey = attrs.encryptionKey;
    this.databaseName = attrs.databaseName;
    this.tableName = attrs.tableName ?? 'requests';
    this.workgroupName = attrs.workgroupName;
  }

  public grantWriteRecords(grantee: iam.IGrantable): iam.Grant {
    return grantWrite(this, grantee);
  }
}

export interface AuditStoreProps {
  /** Object Lock retention of every record. */
  readonly retention: Duration;
  /** @default AuditLockMode.COMPLIANCE */
  readonly lockMode?: AuditLockMode;
  /**
   * What happens to the buckets' key and the audit bucket when they leave the stack (a locked record outlives it whatever this says).
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  readonly accessLogBucket: s3.IBucket;
  /** @default - a new customer managed key */
  readonly encryptionKey?: kms.IKey;
  /** Glue database and Athena workgroup names. */
  readonly namePrefix: string;
  /**
   * Name the bucket per deployment: `<namePrefix>-audit-<account>-<8 hex of the stack id>`. The stack
   * id changes only when the stack is created again, so updates and in-place promotion keep the name,
   * while a deploy after a destroy creates a new trail beside the kept one instead of failing on its
   * name (a locked bucket cannot be emptied to free it). False: a fixed name, which a rebuild imports.
   * @default true
   */
  readonly namePerDeployment?: boolean;
  /**
   * Athena query results (questions and answers) expire after this, in their own bucket.
   * @default Duration.days(30)
   */
  readonly resultsExpiration?: Duration;
}

/**
 * The audit trail of the query API: one JSON object per request in an S3 bucket with Object Lock
 * (append-only: a record cannot be overwritten or deleted before its retention ends), KMS, TLS only,
 * access-logged; a Glue table with partition projection over `audit/dt=YYYY-MM-DD/`, an Athena
 * workgroup whose results are encrypted, and the saved queries that answer "what did user X ask on
 * day D" and "which requests saw document Y".
 */
export class AuditStore extends Construct implements IAuditStore {
  /** The audit queries every store saves in its workgroup (lib/query-api/queries), by name. */
  public static savedQueries(): { [name: string]: AuditQuery } {
    return auditQueries();
  }

  /** An audit store deployed elsewhere (another stack or app). */
  public static fromAuditStoreAttributes(scope: Construct, id: string, attrs: AuditStoreAttributes): IAuditStore {
    return new ImportedAuditStore(scope, id, attrs);
  }

  /** The locked bucket (its L2 is reachable as `node.findChild('Bucket')`). */
  public readonly bucket: s3.IBucket;
  /** The bucket name as synthesized (pseudo parameters only), for readable least-privilege ARNs in other stacks. */
  public readonly bucketName: string;
  /**
   * The bucket name for IAM resource ARNs in any stack: the name itself when fixed; named per
   * deployment, `<namePrefix>-audit-<account>-*` (the suffix is the data stack's id, which another
   * stack cannot write), matching only this deployment's audit trails.
   */
  public readonly bucketNameForPolicies: string;
  public readonly encryptionKey: kms.IKey;
  public readonly tableName: string;
  public readonly databaseName: string;
  public readonly workgroup: athena.CfnWorkGroup;
  public readonly workgroupName: string;
  /**
   * Athena results: never in the locked bucket, where they would inherit its default retention (up
   * to seven years of questions and answers) and writes without a checksum header would be refused.
   */
  public readonly resultsBucket: s3.Bucket;
  /**
   * The one role that may read the trail (`<namePrefix>-audit-reader`): run the saved queries, read
   * records and results. Assumable by principals of this account whose IAM policies allow
   * sts:AssumeRole on it. When this construct creates the key, the key policy denies decryption to
   * every other principal, the account root included.
   */
  public readonly readerRole: iam.Role;

  constructor(scope: Construct, id: string, props: AuditStoreProps) {
    super(scope, id);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    this.encryptionKey = props.encryptionKey ?? createDataKey(this, 'Key', { description: 'Encrypts the query audit trail', removalPolicy });
    const stack = Stack.of(this);
    const perDeployment = props.namePerDeployment ?? true;
    // AWS::StackId: arn:...:stack/<name>/<uuid>, a new uuid per stack creation:
    // https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/pseudo-parameter-reference.html
    const deploymentId = Fn.select(0, Fn.split('-', Fn.select(2, Fn.split('/', stack.stackId))));
    const fixed = `${Names.uniqueResourceName(this, { maxLength: 30, separator: '-' }).toLowerCase()}-${stack.account}-${stack.region}`;
    // 63 characters at most: the prefix, '-audit-', a 12-digit account, '-', 8 hex digits.
    if (perDeployment && !Token.isUnresolved(props.namePrefix) && props.namePrefix.length > 35) {
      throw new Error(`AuditStore: namePrefix "${props.namePrefix}" is ${props.namePrefix.length} characters; a per-deployment bucket name allows 35 (shorten the project or environment name, or set namePerDeployment: false)`);
    }
    // Both buckets: the audit key, TLS 1.2+ only, no public access, bucket-owner objects.
    const onAuditKey = {
      encryption: s3.BucketEncryption.KMS, encryptionKey: this.encryptionKey, bucketKeyEnabled: true, enforceSSL: true, minimumTLSVersion: 1.2,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL, objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
    };
    const bucket = new s3.Bucket(this, 'Bucket', {
      bucketName: perDeployment ? `${props.namePrefix}-audit-${stack.account}-${deploymentId}` : fixed,
      ...onAuditKey,
      versioned: true, // required by Object Lock
      objectLockEnabled: true,
      objectLockDefaultRetention: (props.lockMode ?? AuditLockMode.COMPLIANCE) === AuditLockMode.COMPLIANCE ? s3.ObjectLockRetention.compliance(props.retention) : s3.ObjectLockRetention.governance(props.retention),
      serverAccessLogsBucket: props.accessLogBucket,
      serverAccessLogsPrefix: 'audit/',
      lifecycleRules: [
        { id: 'expire-after-retention', expiration: props.retention.plus(Duration.days(1)), noncurrentVersionExpiration: Duration.days(1) },
      ],
      removalPolicy,
    });
    // A name built on this stack's id must cross stacks as a reference (AWS::StackId differs there).
    this.bucket = bucket;
    this.bucketName = perDeployment ? bucket.bucketName : fixed;
    this.bucketNameForPolicies = perDeployment ? `${props.namePrefix}-audit-${stack.account}-*` : fixed;
    acknowledge(bucket, ['cdk-validator-cfnguard::s3_event_notifications_enabled_check'],
      'Nothing reacts to a new audit record: records are read by the saved Athena queries (who asked what, which requests saw a document). Writes are ' +
        'recorded in the server access log, and the query function\'s AuditFailures metric counts records that could not be written.');
    acknowledge(bucket, ['HIPAA.Security::HIPAA.Security-S3BucketReplicationEnabled', 'NIST.800.53.R5::NIST.800.53.R5-S3BucketReplicationEnabled', 'PCI.DSS.321::PCI.DSS.321-S3BucketReplicationEnabled'],
      'The audit records are locked against deletion (Object Lock) in an S3 bucket that stores every object across at least three Availability Zones; a copy in a second region ' +
        'would double the place a question and its answer are kept, which the data owner has to approve first. Add replication here when it is.');

    // Derived data: deleted with the stack (nothing locks it), expiring like any query scratch.
    this.resultsBucket = new s3.Bucket(this, 'Results', {
      ...onAuditKey,
      versioned: true,
      serverAccessLogsBucket: props.accessLogBucket,
      serverAccessLogsPrefix: 'athena-results/',
      lifecycleRules: [{
        id: 'expire-results', expiration: props.resultsExpiration ?? Duration.days(30), noncurrentVersionExpiration: Duration.days(1),
        abortIncompleteMultipartUploadAfter: Duration.days(1),
      }],
      removalPolicy: RemovalPolicy.DESTROY,
      autoDeleteObjects: true,
      // Enabled (Control Tower CT.S3.PR.9) without a default retention: nothing is locked unless a
      // writer asks, and Athena never does, so results expire and go with the stack.
      objectLockEnabled: true,
    });
    (this.resultsBucket.node.defaultChild as s3.CfnBucket).notificationConfiguration = { eventBridgeConfiguration: { eventBridgeEnabled: true } };
    acknowledge(this.resultsBucket, ['HIPAA.Security::HIPAA.Security-S3BucketReplicationEnabled', 'NIST.800.53.R5::NIST.800.53.R5-S3BucketReplicationEnabled', 'PCI.DSS.321::PCI.DSS.321-S3BucketReplicationEnabled'],
      'Athena results of the audit queries: derived from the locked audit records, expiring after days, and recomputed by running the saved query again. ' +
        'A copy in a second region would double where questions and answers are kept without protecting anything the audit bucket does not.');

    this.databaseName = `${props.namePrefix.replace(/-/g, '_')}_audit`;
    const database = new glue.CfnDatabase(this, 'Database', { catalogId: stack.account, databaseInput: { name: this.databaseName, description: 'docai query audit trail' } });
    this.tableName = 'requests';
    const table = new glue.CfnTable(this, 'Table', {
      catalogId: stack.account,
      databaseName: this.databaseName,
      tableInput: {
        name: this.tableName,
        description: 'One row per query API request (lambda/query/query_handler.py)',
        tableType: 'EXTERNAL_TABLE',
        partitionKeys: [{ name: 'dt', type: 'string' }],
        parameters: {
          classification: 'json',
          'projection.enabled': 'true',
          'projection.dt.type': 'date',
          'projection.dt.format': 'yyyy-MM-dd',
          'projection.dt.range': '2026-01-01,NOW',
          'projection.dt.interval': '1',
          'projection.dt.interval.unit': 'DAYS',
          'storage.location.template': `s3://${this.bucket.bucketName}/audit/dt=\${dt}/`,
        },
        storageDescriptor: {
          location: `s3://${this.bucket.bucketName}/audit/`,
          inputFormat: 'org.apache.hadoop.mapred.TextInputFormat',
          outputFormat: 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat',
          serdeInfo: { serializationLibrary: 'org.openx.data.jsonserde.JsonSerDe', parameters: { 'case.insensitive': 'TRUE', 'ignore.malformed.json': 'FALSE' } },
          columns: [...AUDIT_COLUMNS],
        },
      },
    });
    table.node.addDependency(database);

    this.workgroupName = `${props.namePrefix}-audit`;
    this.workgroup = new athena.CfnWorkGroup(this, 'Workgroup', {
      name: this.workgroupName,
      description: 'Audit trail queries: results encrypted with the audit key',
      recursiveDeleteOption: true,
      workGroupConfiguration: {
        enforceWorkGroupConfiguration: true,
        publishCloudWatchMetricsEnabled: true,
        resultConfiguration: {
          outputLocation: `s3://${this.resultsBucket.bucketName}/`,
          encryptionConfiguration: { encryptionOption: 'SSE_KMS', kmsKey: this.encryptionKey.keyArn },
        },
      },
    });
    this.readerRole = this.createReader(props.namePrefix, !props.encryptionKey);

    for (const [name, q] of Object.entries(auditQueries())) {
      const named = new athena.CfnNamedQuery(this, `Query-${name}`, {
        name, description: q.description.slice(0, 1024), database: this.databaseName, workGroup: this.workgroup.name, queryString: q.sql,
      });
      named.node.addDependency(this.workgroup, table);
    }
  }

  /**
   * The audit reader. Its use is itself recorded: sts:AssumeRole, athena:StartQueryExecution and
   * kms:Decrypt are CloudTrail management events (free in the 90-day event history; a trail keeps
   * them longer), and every object read is a line in the bucket's server access log. CloudTrail S3
   * data events would add per-object records at a price per 100,000 events
   * (https://aws.amazon.com/cloudtrail/pricing/): not turned on here.
   */
  private createReader(namePrefix: string, ownsKey: boolean): iam.Role {
    const stack = Stack.of(this);
    const roleName = `${namePrefix}-audit-reader`;
    const role = new iam.Role(this, 'Reader', {
      roleName,
      assumedBy: new iam.AccountPrincipal(stack.account),
      description: 'Reads the query audit trail (Athena workgroup, audit and results buckets, audit key): the only principal the audit key lets decrypt',
    });
    const workgroupArn = stack.formatArn({ service: 'athena', resource: 'workgroup', resourceName: this.workgroup.name });
    role.addToPolicy(new iam.PolicyStatement({
      actions: ['athena:StartQueryExecution', 'athena:StopQueryExecution', 'athena:GetQueryExecution', 'athena:GetQueryResults', 'athena:ListQueryExecutions',
        'athena:GetWorkGroup', 'athena:GetNamedQuery', 'athena:ListNamedQueries', 'athena:BatchGetNamedQuery'],
      resources: [workgroupArn],
    }));
    role.addToPolicy(new iam.PolicyStatement({
      actions: ['glue:GetDatabase', 'glue:GetTable', 'glue:GetPartition', 'glue:GetPartitions'],
      resources: [
        stack.formatArn({ service: 'glue', resource: 'catalog' }),
        stack.formatArn({ service: 'glue', resource: 'database', resourceName: this.databaseName }),
        stack.formatArn({ service: 'glue', resource: 'table', resourceName: `${this.databaseName}/${this.tableName}` }),
      ],
    }));
    role.addToPolicy(new iam.PolicyStatement({ actions: ['s3:ListBucket', 's3:GetBucketLocation'], resources: [this.bucket.bucketArn, this.resultsBucket.bucketArn] }));
    role.addToPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [this.bucket.arnForObjects('audit/*')] }));
    role.addToPolicy(new iam.PolicyStatement({ actions: ['s3:GetObject', 's3:PutObject', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts'], resources: [this.resultsBucket.arnForObjects('*')] }));
    role.addToPolicy(new iam.PolicyStatement({ actions: ['kms:Decrypt', 'kms:GenerateDataKey'], resources: [this.encryptionKey.keyArn] }));
    const arnOf = (b: s3.IBucket) => `<${stack.getLogicalId(b.node.defaultChild as s3.CfnBucket)}.Arn>`;
    acknowledge(role, [
      `AwsSolutions::AwsSolutions-IAM5[Resource::${arnOf(this.bucket)}/audit/*]`,
      `AwsSolutions::AwsSolutions-IAM5[Resource::${arnOf(this.resultsBucket)}/*]`,
    ], 'The audit reader reads every record of the trail (one object per request under audit/, named by date and request id) and writes and reads Athena ' +
      'results, named by query execution id, in the results bucket: the object names exist only at run time. Both buckets hold only the audit trail.');
    if (ownsKey) {
      // By ARN, not Ref: the key would otherwise depend on the role, whose policy names the key. A
      // rebuild recreates the role under the same name, which the retained key still names.
      this.encryptionKey.addToResourcePolicy(new iam.PolicyStatement({
        sid: 'DecryptOnlyAsAuditReader',
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: ['kms:Decrypt', 'kms:ReEncrypt*'],
        resources: ['*'],
        conditions: { ArnNotEquals: { 'aws:PrincipalArn': `arn:${stack.partition}:iam::${stack.account}:role/${roleName}` } },
      }));
    }
    return role;
  }

  /** @deprecated use encryptionKey */
  public get key(): kms.IKey {
    return this.encryptionKey;
  }

  public grantWriteRecords(grantee: iam.IGrantable): iam.Grant {
    return grantWrite(this, grantee);
  }
}
