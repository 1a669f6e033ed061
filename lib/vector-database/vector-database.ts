import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { CfnResource, CustomResource, Duration, Fn, Names, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct, IConstruct } from 'constructs';
import { DocaiMetricFactory } from '../common/metric-factory';
import { AccessTier, ENV } from '../contract';
import { acknowledge, allowCloudWatchLogs, createDataKey, DocaiFunction, FunctionPlacement, LAMBDA_ROOT } from '../common';

/** The database roles the schema creates (see lambda/migrations/sql/0004_roles_and_row_level_security.sql). */
export const DATABASE_ROLES = {
  writer: 'docai_writer',
  reader: (tier: AccessTier) => `docai_reader_${tier}`,
} as const;
// The tiers are shared with the Python code: lib/contract holds them, re-exported where they were.
export { ACCESS_TIERS, type AccessTier } from '../contract';

export interface HnswIndexOptions {
  /** Max connections per layer. @default 16 */
  readonly m?: number;
  /** Candidate list size while building. @default 64 */
  readonly efConstruction?: number;
}

/**
 * A PostgreSQL + pgvector database with this project's schema, as its clients see it: where it is,
 * the security group a client joins, and IAM database authentication.
 */
export interface IVectorDatabase extends IConstruct {
  /** The endpoint address (DNS name) clients connect to. */
  readonly hostname: string;
  readonly port: number;
  readonly databaseName: string;
  /** Attach to anything that connects: the database admits this group on its port, nothing else. */
  readonly clientSecurityGroup: ec2.ISecurityGroup;
  /** Lets `grantee` log in with IAM authentication as `dbUser` (one of DATABASE_ROLES): `rds-db:connect` on that user only. */
  grantConnect(grantee: iam.IGrantable, dbUser: string): iam.Grant;
  /** Environment variables the shared `docai_shared.db.connect_from_env` reads. */
  connectionEnvironment(dbUser: string): Record<string, string>;
  /** CPU of the instance, percent (AWS/RDS CPUUtilization). @default Average over 5 minutes */
  metricCpuUtilization(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  /** Open connections (AWS/RDS DatabaseConnections). @default Maximum over 5 minutes */
  metricDatabaseConnections(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  /** Free storage, bytes (AWS/RDS FreeStorageSpace). @default Minimum over 5 minutes */
  metricFreeStorageSpace(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
}

/** The metrics of a vector database, deployed or imported: AWS/RDS by DBInstanceIdentifier, through the metric factory. */
abstract class VectorDatabaseBase extends Construct {
  /** The instance identifier, when known (undefined for an import that did not name it). */
  protected abstract readonly metricInstanceIdentifier: string | undefined;

  public metricCpuUtilization(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.rdsMetric('CPUUtilization', 'Average', props);
  }

  public metricDatabaseConnections(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.rdsMetric('DatabaseConnections', 'Maximum', props);
  }

  public metricFreeStorageSpace(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.rdsMetric('FreeStorageSpace', 'Minimum', props);
  }

  private rdsMetric(metricName: string, statistic: string, props: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    const id = this.metricInstanceIdentifier;
    if (id === undefined) {
      throw new Error(`VectorDatabase ${this.node.path}: ${metricName} is published per DBInstanceIdentifier, which this import does not know; pass instanceIdentifier to fromVectorDatabaseAttributes`);
    }
    return DocaiMetricFactory.of(this).awsMetric('AWS/RDS', metricName, { DBInstanceIdentifier: id }, { statistic, ...props });
  }
}

/** A vector database deployed elsewhere (another stack or app), for `VectorDatabase.fromVectorDatabaseAttributes`. */
export interface VectorDatabaseAttributes {
  /** The instance's endpoint address. */
  readonly hostname: string;
  readonly port: number;
  readonly databaseName: string;
  /** The group the database admits on its port (`VectorDatabase.clientSecurityGroup` of the deployed one). */
  readonly clientSecurityGroup: ec2.ISecurityGroup;
  /**
   * The instance's resource id (`DbiResourceId`, `db-...`): IAM database authentication names it in
   * `arn:aws:rds-db:<region>:<account>:dbuser:<DbiResourceId>/<user>`, not the instance identifier.
   */
  readonly instanceResourceId: string;
  /**
   * The instance identifier (the `DBInstanceIdentifier` dimension of its CloudWatch metrics).
   * @default - none; metrics of the imported database are unavailable
   */
  readonly instanceIdentifier?: string;
}

export interface VectorDatabaseProps {
  readonly vpc: ec2.IVpc;
  /** @default - the VPC's isolated subnets */
  readonly vpcSubnets?: ec2.SubnetSelection;
  /** Where the migrations function runs (its VPC side, key, log retention, DLQ). */
  readonly migrationsPlacement: FunctionPlacement;
  /** Dimension of the embedding vectors (`vector(<dim>)`). */
  readonly embeddingDimension: number;
  /**
   * The embedding model id: chunks stored before the model was recorded per chunk (schema migration
   * 0006) are labelled with it when that migration is applied.
   * @default - not labelled (searches that name a model skip those chunks until they are re-embedded)
   */
  readonly embeddingModel?: string;
  /** @default - m 16, efConstruction 64 */
  readonly hnsw?: HnswIndexOptions;
  /** @default db.t4g.micro */
  readonly instanceType?: ec2.InstanceType;
  /**
   * A PostgreSQL version whose RDS release ships pgvector 0.8 or newer (iterative index scans).
   * @default rds.PostgresEngineVersion.VER_17_9
   */
  readonly engineVersion?: rds.PostgresEngineVersion;
  /** GiB. @default 20 */
  readonly allocatedStorage?: number;
  /** Storage autoscaling ceiling, GiB. @default 100 */
  readonly maxAllocatedStorage?: number;
  /** A standby in a second AZ. @default true */
  readonly multiAz?: boolean;
  /** Automated backups with point-in-time recovery. @default Duration.days(35) */
  readonly backupRetention?: Duration;
  /** @default true */
  readonly deletionProtection?: boolean;
  /** @default RemovalPolicy.SNAPSHOT */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Create the instance from this DB snapshot (identifier or ARN) instead of empty: rebuilding a
   * lost data stack. The instance keeps the snapshot's storage key, so pass that key as
   * `encryptionKey`; the master password is regenerated into a new secret. @default - a new, empty database
   */
  readonly restoreFromSnapshot?: string;
  /** Encrypts storage, the master secret, Performance Insights and the log groups. @default - a new customer-managed key */
  readonly encryptionKey?: kms.IKey;
  /** A non-default port (a number, so rule packs can read security-group rules). @default 5433 */
  readonly port?: number;
  /** @default 'docai' */
  readonly databaseName?: string;
  /** Retention of the exported PostgreSQL logs. @default logs.RetentionDays.ONE_YEAR */
  readonly logRetention?: logs.RetentionDays;
  /** Master secret rotation interval. @default Duration.days(30) */
  readonly rotationInterval?: Duration;
  /**
   * Security group of the Secrets Manager interface endpoint: the rotation function's only HTTPS
   * destination (besides the database).
   * @default - HTTPS to any IPv4 address (isolated subnets have no route out but the VPC endpoints)
   */
  readonly secretsManagerEndpointSecurityGroup?: ec2.ISecurityGroup;
}

/**
 * RDS for PostgreSQL with pgvector, and its schema as code.
 *
 * Creates: a customer-key encrypted instance in isolated subnets (no public access), IAM database
 * authentication, `rds.force_ssl=1`, a generated master secret (KMS, rotated), automated backups,
 * Performance Insights, enhanced monitoring, PostgreSQL and upgrade logs in encrypted log groups; a
 * security group that admits only `clientSecurityGroup` on the database port; and a custom resource
 * whose Python handler (in the VPC) applies the versioned SQL migrations on every deploy.
 */
export class VectorDatabase extends VectorDatabaseBase implements IVectorDatabase {
  /** A database deployed elsewhere, by its connection attributes: enough to connect and to grant `rds-db:connect`. */
  public static fromVectorDatabaseAttributes(scope: Construct, id: string, attrs: VectorDatabaseAttributes): IVectorDatabase {
    return new ImportedVectorDatabase(scope, id, attrs);
  }

  public readonly instance: rds.DatabaseInstance | rds.DatabaseInstanceFromSnapshot;
  public readonly encryptionKey: kms.IKey;
  /** Attach to anything that connects to the database. */
  public readonly clientSecurityGroup: ec2.ISecurityGroup;
  public readonly securityGroup: ec2.SecurityGroup;
  public readonly port: number;
  public readonly databaseName: string;
  /** The instance's endpoint address. */
  public readonly hostname: string;
  public readonly migrationsFunction: DocaiFunction;
  public readonly migrations: CustomResource;
  public readonly rotation: secretsmanager.SecretRotation;

  constructor(scope: Construct, id: string, props: VectorDatabaseProps) {
    super(scope, id);
    const dim = props.embeddingDimension;
    if (!Token.isUnresolved(dim) && (!Number.isInteger(dim) || dim < 1 || dim > 2000)) {
      throw new Error(`VectorDatabase: embeddingDimension must be a whole number from 1 to 2000 (the pgvector HNSW limit), received ${dim}`);
    }
    const m = props.hnsw?.m ?? 16;
    const efConstruction = props.hnsw?.efConstruction ?? 64;
    if (m < 2 || m > 100) throw new Error(`VectorDatabase: hnsw.m must be from 2 to 100, received ${m}`);
    if (efConstruction < 2 * m) throw new Error(`VectorDatabase: hnsw.efConstruction must be at least 2 * m (${2 * m}), received ${efConstruction}`);
    this.port = props.port ?? 5433;
    this.databaseName = props.databaseName ?? 'docai';
    const multiAz = props.multiAz ?? true;
    const deletionProtection = props.deletionProtection ?? true;
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.SNAPSHOT;

    this.encryptionKey = props.encryptionKey ?? createDataKey(this, 'Key', { description: 'Encrypts the vector database, its secret and logs', removalPolicy: RemovalPolicy.RETAIN });
    if (!props.encryptionKey) allowCloudWatchLogs(this.encryptionKey);

    this.securityGroup = new ec2.SecurityGroup(this, 'Sg', { vpc: props.vpc, description: 'Vector database: only its clients, on the database port', allowAllOutbound: false });
    this.clientSecurityGroup = new ec2.SecurityGroup(this, 'ClientSg', { vpc: props.vpc, description: 'Clients of the vector database', allowAllOutbound: false });
    this.securityGroup.addIngressRule(this.clientSecurityGroup, ec2.Port.tcp(this.port), 'PostgreSQL from database clients');
    this.clientSecurityGroup.addEgressRule(this.securityGroup, ec2.Port.tcp(this.port), 'PostgreSQL to the vector database');

    const parameterGroup = new rds.ParameterGroup(this, 'Params', {
      engine: rds.DatabaseInstanceEngine.postgres({ version: props.engineVersion ?? rds.PostgresEngineVersion.VER_17_9 }),
      description: 'docai vector database: TLS only, slow-query logging',
      parameters: { 'rds.force_ssl': '1', log_min_duration_statement: '1000', log_connections: '1' },
    });

    // Named so its log groups can be created here first: encrypted, with retention, not by RDS. A
    // restore gets its own identifier: the instance it replaces may be retained under the old one
    // (and its log groups with it), and an identifier is unique per account and region.
    const baseIdentifier = Names.uniqueResourceName(this, { maxLength: 55, separator: '-' }).toLowerCase().replace(/[^a-z0-9-]/g, '');
    const instanceIdentifier = props.restoreFromSnapshot
      ? `${baseIdentifier}-r${crypto.createHash('sha256').update(props.restoreFromSnapshot).digest('hex').slice(0, 6)}`
      : baseIdentifier;
    const logGroups = ['postgresql', 'upgrade'].map(
      (kind) =>
        new logs.LogGroup(this, `${kind === 'postgresql' ? 'Postgres' : 'Upgrade'}Logs`, {
          logGroupName: `/aws/rds/instance/${instanceIdentifier}/${kind}`,
          encryptionKey: this.encryptionKey,
          retention: props.logRetention ?? logs.RetentionDays.ONE_YEAR,
          removalPolicy: removalPolicy === RemovalPolicy.DESTROY ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN,
        }),
    );

    const vpcSubnets = props.vpcSubnets ?? { subnetType: ec2.SubnetType.PRIVATE_ISOLATED };
    const common = {
      instanceIdentifier,
      engine: rds.DatabaseInstanceEngine.postgres({ version: props.engineVersion ?? rds.PostgresEngineVersion.VER_17_9 }),
      instanceType: props.instanceType ?? ec2.InstanceType.of(ec2.InstanceClass.T4G, ec2.InstanceSize.MICRO),
      vpc: props.vpc,
      vpcSubnets,
      securityGroups: [this.securityGroup],
      port: this.port,
      storageType: rds.StorageType.GP3,
      allocatedStorage: props.allocatedStorage ?? 20,
      maxAllocatedStorage: props.maxAllocatedStorage ?? 100,
      multiAz,
      backupRetention: props.backupRetention ?? Duration.days(35),
      deleteAutomatedBackups: false,
      copyTagsToSnapshot: true,
      deletionProtection,
      removalPolicy,
      iamAuthentication: true,
      parameterGroup,
      publiclyAccessible: false,
      autoMinorVersionUpgrade: true,
      enablePerformanceInsights: true,
      performanceInsightEncryptionKey: this.encryptionKey,
      monitoringInterval: Duration.seconds(60),
      cloudwatchLogsExports: ['postgresql', 'upgrade'],
      caCertificate: rds.CaCertificate.RDS_CA_RSA2048_G1,
    };
    // Same construct id either way, so the rebuilt stack's logical ids are the lost stack's.
    // Restoring keeps the snapshot's database name, users, storage key (RDS restores an encrypted
    // snapshot under its own key: https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_RestoreFromSnapshot.html).
    this.instance = props.restoreFromSnapshot
      ? new rds.DatabaseInstanceFromSnapshot(this, 'Instance', {
          ...common,
          snapshotIdentifier: props.restoreFromSnapshot,
          credentials: rds.SnapshotCredentials.fromGeneratedSecret('docai_admin', { encryptionKey: this.encryptionKey }),
        })
      : new rds.DatabaseInstance(this, 'Instance', {
          ...common,
          databaseName: this.databaseName,
          credentials: rds.Credentials.fromGeneratedSecret('docai_admin', { encryptionKey: this.encryptionKey }),
          storageEncrypted: true,
          storageEncryptionKey: this.encryptionKey,
        });
    if (props.restoreFromSnapshot) {
      acknowledge(this.instance, [
        'AwsSolutions::AwsSolutions-RDS2',
        'HIPAA.Security::HIPAA.Security-RDSStorageEncrypted',
        'NIST.800.53.R5::NIST.800.53.R5-RDSStorageEncrypted',
        'PCI.DSS.321::PCI.DSS.321-RDSStorageEncrypted',
        'cdk-validator-cfnguard::rds_instance_storage_encrypted_check',
        'cdk-validator-cfnguard::rds_storage_encrypted_kms_key_check',
        'ProductionReadiness::ProductionReadiness-CustomerManagedKeys',
      ], `Restored from snapshot ${props.restoreFromSnapshot}: RDS restores an encrypted snapshot encrypted, under the snapshot's own KMS key, so the template ` +
        'leaves StorageEncrypted and KmsKeyId to the snapshot. The snapshot is this stage\'s own (encrypted under its retained customer-managed database key); ' +
        'the stage config names that key (rebuild.keys.database) and uses it for the new master secret, Performance Insights and the logs.');
    }
    for (const lg of logGroups) this.instance.node.addDependency(lg);
    this.hostname = this.instance.dbInstanceEndpointAddress;

    // Built here rather than with addRotationSingleUser, whose security-group rule uses the port as a
    // token (rule packs cannot read a token port): the target names the port as a number.
    // Its own security group: CDK's default allows all traffic out, next to the master secret. This one
    // reaches the database (added by SecretRotation through the target's connections) and Secrets Manager.
    const rotationSg = new ec2.SecurityGroup(this, 'RotationSg', { vpc: props.vpc, description: 'Master secret rotation: the database and Secrets Manager only', allowAllOutbound: false });
    if (props.secretsManagerEndpointSecurityGroup) rotationSg.addEgressRule(props.secretsManagerEndpointSecurityGroup, ec2.Port.tcp(443), 'HTTPS to the Secrets Manager endpoint');
    else rotationSg.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'HTTPS to Secrets Manager (no internet route exists)');
    this.rotation = new secretsmanager.SecretRotation(this, 'Rotation', {
      securityGroup: rotationSg,
      application: secretsmanager.SecretRotationApplication.POSTGRES_ROTATION_SINGLE_USER,
      secret: this.instance.secret!,
      target: { connections: new ec2.Connections({ securityGroups: [this.securityGroup], defaultPort: ec2.Port.tcp(this.port) }) },
      vpc: props.vpc,
      vpcSubnets,
      automaticallyAfter: props.rotationInterval ?? Duration.days(30),
    });

    // Schema migrations, applied on every deploy.
    const placement = props.migrationsPlacement;
    this.migrationsFunction = new DocaiFunction(this, 'Migrations', {
      folder: 'migrations',
      index: 'migrations_handler.py',
      description: 'Applies the vector database schema migrations (CloudFormation custom resource)',
      timeout: Duration.minutes(5),
      memorySize: 256,
      environment: { [ENV.DB_SECRET_ARN]: this.instance.secret!.secretArn, [ENV.DB_NAME]: this.databaseName },
      workflow: 'migrations',
      ...placement,
      securityGroups: [...placement.securityGroups, this.clientSecurityGroup],
    });
    // Through the role's policy: Secret.grantRead would also name the role in the key policy, and a
    // retained key would then keep naming a role its stack deleted. The key policy trusts the
    // account's IAM policies (createDataKey), so this is enough:
    // https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html#key-policy-default-allow-root-enable-iam
    this.migrationsFunction.addToRolePolicy(new iam.PolicyStatement({
      actions: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'],
      resources: [this.instance.secret!.secretArn],
    }));
    this.migrationsFunction.addToRolePolicy(new iam.PolicyStatement({
      actions: ['kms:Decrypt'],
      resources: [this.encryptionKey.keyArn],
      conditions: { StringEquals: { 'kms:ViaService': `secretsmanager.${Stack.of(this).region}.amazonaws.com` } },
    }));
    this.migrations = new CustomResource(this, 'Migrations-Resource', {
      serviceToken: this.migrationsFunction.functionArn,
      resourceType: 'Custom::DocaiSchemaMigrations',
      properties: {
        EMBEDDING_DIMENSION: String(dim),
        ...(props.embeddingModel ? { EMBEDDING_MODEL: props.embeddingModel } : {}),
        HNSW_M: String(m),
        HNSW_EF_CONSTRUCTION: String(efConstruction),
        // Any change to the SQL files changes this, so CloudFormation sends an Update.
        SqlHash: hashDirectory(path.join(LAMBDA_ROOT, 'migrations', 'sql')),
      },
    });
    this.migrations.node.addDependency(this.instance);

    if (removalPolicy === RemovalPolicy.RETAIN) this.retainDependencies(vpcSubnets);
    this.acknowledgeDeliberateChoices(multiAz, deletionProtection);
  }

  /**
   * A retained instance keeps what it runs on: its security group, master secret, parameter group,
   * monitoring role and subnet group, and the subnets and VPC when they are defined in this stack
   * (deleting them fails on the instance's network interfaces, and a deleted secret or role leaves
   * the kept instance unmanageable). test/app/destroy-rebuild.test.ts plays the destroy.
   */
  private retainDependencies(vpcSubnets: ec2.SubnetSelection): void {
    const inst = this.instance;
    const retain = (c: unknown) => {
      if (c instanceof CfnResource && Stack.of(c) === Stack.of(this)) c.applyRemovalPolicy(RemovalPolicy.RETAIN);
    };
    retain(this.securityGroup.node.defaultChild);
    retain(inst.node.tryFindChild('MonitoringRole')?.node.defaultChild);
    for (const c of this.node.findAll()) if (c instanceof rds.CfnDBParameterGroup || c instanceof rds.CfnDBSubnetGroup || c instanceof secretsmanager.CfnSecret) retain(c);
    const vpc = this.instance.vpc;
    retain(vpc.node.defaultChild);
    for (const subnet of vpc.selectSubnets(vpcSubnets).subnets) retain(subnet.node.defaultChild);
  }

  /** Lets `grantee` log in with IAM authentication as `dbUser` (one of DATABASE_ROLES). */
  public grantConnect(grantee: iam.IGrantable, dbUser: string): iam.Grant {
    return this.instance.grantConnect(grantee, dbUser);
  }

  /** Environment variables the shared `docai_shared.db.connect_from_env` reads. */
  public connectionEnvironment(dbUser: string): Record<string, string> {
    return { [ENV.DB_HOST]: this.hostname, [ENV.DB_PORT]: String(this.port), [ENV.DB_NAME]: this.databaseName, [ENV.DB_USER]: dbUser };
  }

  protected get metricInstanceIdentifier(): string {
    return this.instance.instanceIdentifier;
  }

  private acknowledgeDeliberateChoices(multiAz: boolean, deletionProtection: boolean): void {
    const inst = this.instance;
    acknowledge(inst, ['HIPAA.Security::HIPAA.Security-RDSInBackupPlan', 'NIST.800.53.R5::NIST.800.53.R5-RDSInBackupPlan'],
      'Backups are RDS automated backups with point-in-time recovery, retained per stage (7 days pilot, 35 production), encrypted with the ' +
        'database key, kept after deletion (deleteAutomatedBackups false) plus a final snapshot. An AWS Backup plan would duplicate them.');
    acknowledge(inst, ['AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole]'],
      'The enhanced-monitoring role uses the AWS-maintained AmazonRDSEnhancedMonitoringRole policy, which only lets RDS write OS metrics to ' +
        'the RDSOSMetrics log group; it is the role AWS documents for this purpose.');
    if (!multiAz) {
      acknowledge(inst, ['AwsSolutions::AwsSolutions-RDS3', 'HIPAA.Security::HIPAA.Security-RDSMultiAZSupport', 'NIST.800.53.R5::NIST.800.53.R5-RDSMultiAZSupport', 'cdk-validator-cfnguard::rds_instance_multi_az_support_check'],
        'Single-AZ by explicit choice of this stage (multiAz: false), a cost decision for a pilot: an AZ outage stops retrieval until restore. ' +
          'The production stage sets multiAz: true; the readiness report lists this difference.');
    }
    if (!deletionProtection) {
      acknowledge(inst, ['AwsSolutions::AwsSolutions-RDS10', 'HIPAA.Security::HIPAA.Security-RDSInstanceDeletionProtectionEnabled', 'NIST.800.53.R5::NIST.800.53.R5-RDSInstanceDeletionProtectionEnabled', 'cdk-validator-cfnguard::rds_instance_deletion_protection_enabled_check'],
        'Deletion protection off by explicit choice of this stage (deletionProtection: false) so a pilot can be removed with its stack; ' +
          'a snapshot is still taken on delete. The production stage turns it on; the readiness report lists this difference.');
    }
  }
}

class ImportedVectorDatabase extends VectorDatabaseBase implements IVectorDatabase {
  public readonly hostname: string;
  public readonly port: number;
  public readonly databaseName: string;
  public readonly clientSecurityGroup: ec2.ISecurityGroup;
  protected readonly metricInstanceIdentifier: string | undefined;
  private readonly instance: rds.IDatabaseInstance;

  constructor(scope: Construct, id: string, attrs: VectorDatabaseAttributes) {
    super(scope, id);
    this.metricInstanceIdentifier = attrs.instanceIdentifier;
    if (!Token.isUnresolved(attrs.instanceResourceId) && !/^db-[A-Z0-9]+$/.test(attrs.instanceResourceId)) {
      throw new Error(`VectorDatabase.fromVectorDatabaseAttributes: instanceResourceId must be the instance's DbiResourceId (db-XXXX, see 'aws rds describe-db-instances'), received '${attrs.instanceResourceId}'`);
    }
    this.hostname = attrs.hostname;
    this.port = attrs.port;
    this.databaseName = attrs.databaseName;
    this.clientSecurityGroup = attrs.clientSecurityGroup;
    // CDK's own import, so grantConnect builds the rds-db:connect ARN exactly as for a deployed instance.
    this.instance = rds.DatabaseInstance.fromDatabaseInstanceAttributes(this, 'Instance', {
      instanceIdentifier: attrs.instanceIdentifier ?? Fn.select(0, Fn.split('.', attrs.hostname)),
      instanceEndpointAddress: attrs.hostname,
      port: attrs.port,
      securityGroups: [],
      instanceResourceId: attrs.instanceResourceId,
    });
  }

  public grantConnect(grantee: iam.IGrantable, dbUser: string): iam.Grant {
    return this.instance.grantConnect(grantee, dbUser);
  }

  public connectionEnvironment(dbUser: string): Record<string, string> {
    return { [ENV.DB_HOST]: this.hostname, [ENV.DB_PORT]: String(this.port), [ENV.DB_NAME]: this.databaseName, [ENV.DB_USER]: dbUser };
  }
}

function hashDirectory(dir: string): string {
  const h = crypto.createHash('sha256');
  for (const f of fs.readdirSync(dir).sort()) h.update(f).update(fs.readFileSync(path.join(dir, f)));
  return h.digest('hex').slice(0, 16);
}
