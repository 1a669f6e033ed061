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
  /** Applies the migrations; created by the bootstrap resource, not by the schema (MIGRATOR_ROLE). */
  migrator: 'docai_migrator',
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
  /** The endpoint address (DNS name) clients connect to: the cluster (writer) endpoint. */
  readonly hostname: string;
  readonly port: number;
  readonly databaseName: string;
  /** Attach to anything that connects: the database admits this group on its port, nothing else. */
  readonly clientSecurityGroup: ec2.ISecurityGroup;
  /** Lets `grantee` log in with IAM authentication as `dbUser` (one of DATABASE_ROLES): `rds-db:connect` on that user only. */
  grantConnect(grantee: iam.IGrantable, dbUser: string): iam.Grant;
  /** Environment variables the shared `docai_shared.db.connect_from_env` reads. */
  connectionEnvironment(dbUser: string): Record<string, string>;
  /** CPU of the cluster's instances, percent (AWS/RDS CPUUtilization by DBClusterIdentifier). @default Average over 5 minutes */
  metricCpuUtilization(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  /** Open connections (AWS/RDS DatabaseConnections by DBClusterIdentifier). @default Maximum over 5 minutes */
  metricDatabaseConnections(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  /** Capacity in use, ACUs; 0 while paused (AWS/RDS ServerlessDatabaseCapacity). @default Maximum over 5 minutes */
  metricServerlessDatabaseCapacity(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  /** Capacity in use, percent of the maximum ACUs (AWS/RDS ACUUtilization). @default Maximum over 5 minutes */
  metricAcuUtilization(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  /** Bytes of the cluster volume (AWS/RDS VolumeBytesUsed), what Aurora storage is billed on. @default Maximum over 1 hour */
  metricVolumeBytesUsed(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
}

/**
 * The metrics of a vector database, deployed or imported: AWS/RDS by DBClusterIdentifier (Aurora
 * publishes these per cluster: https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/Aurora.AuroraMonitoring.Metrics.html,
 * ServerlessDatabaseCapacity and ACUUtilization: https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-serverless-v2.setting-capacity.html),
 * through the metric factory.
 */
abstract class VectorDatabaseBase extends Construct {
  /** The cluster identifier, when known (undefined for an import that did not name it). */
  protected abstract readonly metricClusterIdentifier: string | undefined;

  public metricCpuUtilization(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.rdsMetric('CPUUtilization', 'Average', props);
  }

  public metricDatabaseConnections(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.rdsMetric('DatabaseConnections', 'Maximum', props);
  }

  public metricServerlessDatabaseCapacity(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.rdsMetric('ServerlessDatabaseCapacity', 'Maximum', props);
  }

  public metricAcuUtilization(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.rdsMetric('ACUUtilization', 'Maximum', props);
  }

  public metricVolumeBytesUsed(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.rdsMetric('VolumeBytesUsed', 'Maximum', { period: Duration.hours(1), ...props });
  }

  private rdsMetric(metricName: string, statistic: string, props: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    const id = this.metricClusterIdentifier;
    if (id === undefined) {
      throw new Error(`VectorDatabase ${this.node.path}: ${metricName} is published per DBClusterIdentifier, which this import does not know; pass clusterIdentifier to fromVectorDatabaseAttributes`);
    }
    return DocaiMetricFactory.of(this).awsMetric('AWS/RDS', metricName, { DBClusterIdentifier: id }, { statistic, ...props });
  }
}

/** A vector database deployed elsewhere (another stack or app), for `VectorDatabase.fromVectorDatabaseAttributes`. */
export interface VectorDatabaseAttributes {
  /** The cluster (writer) endpoint address. */
  readonly hostname: string;
  readonly port: number;
  readonly databaseName: string;
  /** The group the database admits on its port (`VectorDatabase.clientSecurityGroup` of the deployed one). */
  readonly clientSecurityGroup: ec2.ISecurityGroup;
  /**
   * The cluster's resource id (`DbClusterResourceId`, `cluster-...`): IAM database authentication names it
   * in `arn:aws:rds-db:<region>:<account>:dbuser:<DbClusterResourceId>/<user>`, not the cluster identifier
   * (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/UsingWithRDS.IAMDBAuth.IAMPolicy.html).
   */
  readonly clusterResourceId: string;
  /**
   * The cluster identifier (the `DBClusterIdentifier` dimension of its CloudWatch metrics).
   * @default - none; metrics of the imported database are unavailable
   */
  readonly clusterIdentifier?: string;
}

export interface VectorDatabaseProps {
  readonly vpc: ec2.IVpc;
  /** @default - the VPC's isolated subnets */
  readonly vpcSubnets?: ec2.SubnetSelection;
  /**
   * Where the migrations function runs (its VPC side, key, log retention, DLQ). The bootstrap function
   * shares its key, log retention and DLQ and runs outside the VPC (it calls only the RDS Data API).
   */
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
  /**
   * An Aurora PostgreSQL version that supports 0 ACU (auto-pause: every 17.x), the Data API (17.4 and
   * higher) and ships pgvector 0.8 or newer (iterative index scans).
   * @default rds.AuroraPostgresEngineVersion.VER_17_9
   */
  readonly engineVersion?: rds.AuroraPostgresEngineVersion;
  /** Least capacity per instance, ACUs; 0 pauses the instances when idle. @default 0.5 */
  readonly minCapacityAcu?: number;
  /** Most capacity per instance, ACUs. @default 4 */
  readonly maxCapacityAcu?: number;
  /** Idle time before a 0-ACU instance pauses (5 minutes to 1 day). @default Duration.minutes(10) */
  readonly autoPauseAfter?: Duration;
  /** Serverless v2 readers at promotion tier 1, each in another AZ than the writer. @default 1 */
  readonly readers?: number;
  /** Automated backups with point-in-time recovery. @default Duration.days(35) */
  readonly backupRetention?: Duration;
  /** @default true */
  readonly deletionProtection?: boolean;
  /** @default RemovalPolicy.SNAPSHOT */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Create the cluster from this snapshot instead of empty: an Aurora DB cluster snapshot (identifier
   * or ARN), or the ARN of an RDS for PostgreSQL DB snapshot (migrating a former RDS instance into
   * Aurora: https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/AuroraPostgreSQL.Migrating.RDSPostgreSQL.Import.Console.html).
   * The cluster keeps the snapshot's storage key, so pass that key as `encryptionKey`; RDS keeps
   * managing the master password, under that key. @default - a new, empty database
   */
  readonly restoreFromSnapshot?: string;
  /** Encrypts storage, the RDS-managed master secret, Performance Insights and the log groups. @default - a new customer-managed key */
  readonly encryptionKey?: kms.IKey;
  /** A non-default port (a number, so rule packs can read security-group rules). @default 5433 */
  readonly port?: number;
  /** @default 'docai' */
  readonly databaseName?: string;
  /** Retention of the exported PostgreSQL logs. @default logs.RetentionDays.ONE_YEAR */
  readonly logRetention?: logs.RetentionDays;
}

/** The login the migrations use (IAM authentication, rds_superuser), created by the bootstrap resource through the Data API. */
export const MIGRATOR_ROLE = DATABASE_ROLES.migrator;

/**
 * Aurora PostgreSQL Serverless v2 with pgvector, and its schema as code.
 *
 * Creates: a customer-key encrypted cluster in isolated subnets (no public access) with a Serverless v2
 * writer (and readers at promotion tier 1 in other AZs), IAM database authentication, `rds.force_ssl=1`,
 * no bind parameters in the PostgreSQL log, an RDS-managed master password (Secrets Manager, the
 * database key, rotated by RDS), the RDS Data API, automated backups, Performance Insights, enhanced
 * monitoring, PostgreSQL logs in an encrypted log group; a security group that admits only
 * `clientSecurityGroup` on the database port; a bootstrap custom resource (outside the VPC, Data API
 * with the master secret) that creates the `docai_migrator` login; and a migrations custom resource
 * whose Python handler (in the VPC, IAM authentication as `docai_migrator`) applies the versioned SQL
 * migrations on every deploy.
 */
export class VectorDatabase extends VectorDatabaseBase implements IVectorDatabase {
  /** A database deployed elsewhere, by its connection attributes: enough to connect and to grant `rds-db:connect`. */
  public static fromVectorDatabaseAttributes(scope: Construct, id: string, attrs: VectorDatabaseAttributes): IVectorDatabase {
    return new ImportedVectorDatabase(scope, id, attrs);
  }

  public readonly cluster: rds.DatabaseCluster | rds.DatabaseClusterFromSnapshot;
  /** The RDS-managed master secret (Data API only: nothing in the VPC reads it). */
  public readonly masterSecret: secretsmanager.ISecret;
  public readonly encryptionKey: kms.IKey;
  /** Attach to anything that connects to the database. */
  public readonly clientSecurityGroup: ec2.ISecurityGroup;
  public readonly securityGroup: ec2.SecurityGroup;
  public readonly port: number;
  public readonly databaseName: string;
  /** The cluster (writer) endpoint address. */
  public readonly hostname: string;
  public readonly migrationsFunction: DocaiFunction;
  public readonly migrations: CustomResource;
  /** Creates the `docai_migrator` login through the Data API (outside the VPC). */
  public readonly bootstrapFunction: DocaiFunction;
  public readonly bootstrap: CustomResource;

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
    const minAcu = props.minCapacityAcu ?? 0.5;
    const maxAcu = props.maxCapacityAcu ?? 4;
    if (minAcu < 0 || minAcu > 256 || !Number.isInteger(minAcu * 2)) throw new Error(`VectorDatabase: minCapacityAcu must be 0 to 256 in steps of 0.5, received ${minAcu}`);
    if (maxAcu < 1 || maxAcu > 256 || !Number.isInteger(maxAcu * 2) || maxAcu < minAcu) {
      throw new Error(`VectorDatabase: maxCapacityAcu must be 1 to 256 in steps of 0.5 and at least minCapacityAcu (${minAcu}), received ${maxAcu}`);
    }
    const readers = props.readers ?? 1;
    if (!Number.isInteger(readers) || readers < 0 || readers > 15) throw new Error(`VectorDatabase: readers must be a whole number from 0 to 15, received ${readers}`);
    this.port = props.port ?? 5433;
    this.databaseName = props.databaseName ?? 'docai';
    const deletionProtection = props.deletionProtection ?? true;
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.SNAPSHOT;

    this.encryptionKey = props.encryptionKey ?? createDataKey(this, 'Key', { description: 'Encrypts the vector database, its secret and logs', removalPolicy: RemovalPolicy.RETAIN });
    if (!props.encryptionKey) allowCloudWatchLogs(this.encryptionKey);

    this.securityGroup = new ec2.SecurityGroup(this, 'Sg', { vpc: props.vpc, description: 'Vector database: only its clients, on the database port', allowAllOutbound: false });
    this.clientSecurityGroup = new ec2.SecurityGroup(this, 'ClientSg', { vpc: props.vpc, description: 'Clients of the vector database', allowAllOutbound: false });
    this.securityGroup.addIngressRule(this.clientSecurityGroup, ec2.Port.tcp(this.port), 'PostgreSQL from database clients');
    this.clientSecurityGroup.addEgressRule(this.securityGroup, ec2.Port.tcp(this.port), 'PostgreSQL to the vector database');

    const engine = rds.DatabaseClusterEngine.auroraPostgres({ version: props.engineVersion ?? rds.AuroraPostgresEngineVersion.VER_17_9 });
    // A cluster parameter group. log_parameter_max_length=0: statements logged for being slow
    // (log_min_duration_statement) carry no bind parameters, so no chunk text or embedding lands
    // in the PostgreSQL log (https://www.postgresql.org/docs/17/runtime-config-logging.html#GUC-LOG-PARAMETER-MAX-LENGTH;
    // errors log none either: log_parameter_max_length_on_error defaults to 0). Slow statements stay
    // logged, without their values, because slow searches are what this log is for.
    // Nothing here keeps a paused instance awake: no logical replication (rds.logical_replication off),
    // no RDS Proxy, no zero-ETL integration, no global database
    // (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-serverless-v2-auto-pause.html).
    const parameterGroup = new rds.ParameterGroup(this, 'Params', {
      engine,
      description: 'docai vector database: TLS only, slow-query logging without bind parameters',
      parameters: { 'rds.force_ssl': '1', log_min_duration_statement: '1000', log_parameter_max_length: '0', log_connections: '1' },
    });

    // Named so its log group can be created here first: encrypted, with retention, not by RDS. A
    // restore gets its own identifier: the cluster it replaces may be retained under the old one
    // (and its log group with it), and an identifier is unique per account and region.
    const baseIdentifier = Names.uniqueResourceName(this, { maxLength: 55, separator: '-' }).toLowerCase().replace(/[^a-z0-9-]/g, '');
    const clusterIdentifier = props.restoreFromSnapshot
      ? `${baseIdentifier}-r${crypto.createHash('sha256').update(props.restoreFromSnapshot).digest('hex').slice(0, 6)}`
      : baseIdentifier;
    // Aurora PostgreSQL exports the 'postgresql' log per cluster (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/AuroraPostgreSQL.CloudWatch.html).
    const logGroup = new logs.LogGroup(this, 'PostgresLogs', {
      logGroupName: `/aws/rds/cluster/${clusterIdentifier}/postgresql`,
      encryptionKey: this.encryptionKey,
      retention: props.logRetention ?? logs.RetentionDays.ONE_YEAR,
      removalPolicy: removalPolicy === RemovalPolicy.DESTROY ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN,
    });

    const vpcSubnets = props.vpcSubnets ?? { subnetType: ec2.SubnetType.PRIVATE_ISOLATED };
    // The writer in the first AZ, reader i in AZ i+1 (round robin): a reader never shares the writer's
    // AZ while there are two. Pinned in every stage, so adding readers (pilot -> production) leaves the
    // writer where it is (AvailabilityZone cannot change in place).
    const azs = props.vpc.selectSubnets(vpcSubnets).availabilityZones;
    const instance = (i: number) => ({
      publiclyAccessible: false,
      enablePerformanceInsights: true,
      performanceInsightEncryptionKey: this.encryptionKey,
      autoMinorVersionUpgrade: true,
      caCertificate: rds.CaCertificate.RDS_CA_RSA2048_G1,
      ...(azs.length > 0 ? { availabilityZone: azs[i % azs.length] } : {}),
    });
    const common = {
      clusterIdentifier,
      engine,
      writer: rds.ClusterInstance.serverlessV2('Writer', instance(0)),
      // Promotion tier 1 (scaleWithWriter): a failover target at the writer's capacity, which pauses and
      // resumes with the writer (tiers 0 and 1 do: see the auto-pause page above).
      readers: Array.from({ length: readers }, (_, i) => rds.ClusterInstance.serverlessV2(`Reader${i + 1}`, { ...instance(i + 1), scaleWithWriter: true })),
      serverlessV2MinCapacity: minAcu,
      serverlessV2MaxCapacity: maxAcu,
      ...(minAcu === 0 ? { serverlessV2AutoPauseDuration: props.autoPauseAfter ?? Duration.minutes(10) } : {}),
      vpc: props.vpc,
      vpcSubnets,
      securityGroups: [this.securityGroup],
      port: this.port,
      parameterGroup,
      iamAuthentication: true,
      // Data API: the bootstrap resource runs SQL over HTTPS with the master secret, no VPC needed.
      // Aurora PostgreSQL 17.4 and higher (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/Concepts.Aurora_Fea_Regions_DB-eng.Feature.Data_API.html).
      enableDataApi: true,
      // RDS creates, encrypts (the database key) and rotates the master password: no rotation function,
      // no rotation security group (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/rds-secrets-manager.html).
      manageMasterUserPassword: true,
      backup: { retention: props.backupRetention ?? Duration.days(35) },
      deleteAutomatedBackups: false,
      copyTagsToSnapshot: true,
      deletionProtection,
      removalPolicy,
      enablePerformanceInsights: true,
      performanceInsightEncryptionKey: this.encryptionKey,
      monitoringInterval: Duration.seconds(60),
      cloudwatchLogsExports: ['postgresql'],
      storageType: rds.DBClusterStorageType.AURORA,
    };
    // Same construct id either way, so the rebuilt stack's logical ids are the lost stack's.
    // Restoring keeps the snapshot's database name, users and storage key (an encrypted snapshot is
    // restored under its own key: https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-restore-snapshot.html).
    this.cluster = props.restoreFromSnapshot
      ? new rds.DatabaseClusterFromSnapshot(this, 'Cluster', {
          ...common,
          snapshotIdentifier: props.restoreFromSnapshot,
          snapshotCredentials: { username: 'docai_admin', encryptionKey: this.encryptionKey } as rds.SnapshotCredentials,
        })
      : new rds.DatabaseCluster(this, 'Cluster', {
          ...common,
          defaultDatabaseName: this.databaseName,
          credentials: rds.Credentials.fromUsername('docai_admin', { encryptionKey: this.encryptionKey }),
          storageEncrypted: true,
          storageEncryptionKey: this.encryptionKey,
        });
    const cfnCluster = this.cluster.node.defaultChild as rds.CfnDBCluster;
    if (props.restoreFromSnapshot) {
      acknowledge(cfnCluster, [
        'AwsSolutions::AwsSolutions-RDS2',
        'HIPAA.Security::HIPAA.Security-RDSStorageEncrypted',
        'NIST.800.53.R5::NIST.800.53.R5-RDSStorageEncrypted',
        'PCI.DSS.321::PCI.DSS.321-RDSStorageEncrypted',
        'cdk-validator-cfnguard::rds_storage_encrypted_check',
        'ProductionReadiness::ProductionReadiness-CustomerManagedKeys',
      ], `Restored from snapshot ${props.restoreFromSnapshot}: RDS restores an encrypted snapshot encrypted, under the snapshot's own KMS key, so the template ` +
        'leaves StorageEncrypted and KmsKeyId to the snapshot. The snapshot is this stage\'s own (encrypted under its retained customer-managed database key); ' +
        'the stage config names that key (rebuild.keys.database) and uses it for the managed master secret, Performance Insights and the logs.');
    }
    this.cluster.node.addDependency(logGroup);
    this.hostname = this.cluster.clusterEndpoint.hostname;
    this.masterSecret = this.cluster.secret!;
    const placement = props.migrationsPlacement;

    // docai_migrator: created over the Data API with the master secret, from outside the VPC (no
    // Secrets Manager endpoint needed). Handler: lambda/migrations/bootstrap_handler.py.
    this.bootstrapFunction = new DocaiFunction(this, 'Bootstrap', {
      folder: 'migrations',
      index: 'bootstrap_handler.py',
      description: `Creates the ${MIGRATOR_ROLE} login of the vector database through the RDS Data API (CloudFormation custom resource)`,
      // A paused writer resumes on the first Data API call (DatabaseResumingException): room to wait for it.
      timeout: Duration.minutes(5),
      memorySize: 256,
      environment: {
        [ENV.DB_CLUSTER_ARN]: this.cluster.clusterArn,
        [ENV.DB_SECRET_ARN]: this.masterSecret.secretArn,
        [ENV.DB_NAME]: this.databaseName,
        [ENV.DB_USER]: MIGRATOR_ROLE,
      },
      workflow: 'migrations',
      ...placement,
      outsideVpc: { reason: 'it calls only the RDS Data API (HTTPS), whose endpoint is public, so the database master secret never needs a Secrets Manager interface endpoint in the VPC.' },
    });
    // Data API: rds-data:ExecuteStatement on the cluster; the caller reads the secret itself
    // (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/data-api.access.html). Through the
    // role's policy: a grant would name the role in the retained key's policy (createDataKey trusts IAM:
    // https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html#key-policy-default-allow-root-enable-iam).
    this.bootstrapFunction.addToRolePolicy(new iam.PolicyStatement({ actions: ['rds-data:ExecuteStatement'], resources: [this.cluster.clusterArn] }));
    this.bootstrapFunction.addToRolePolicy(new iam.PolicyStatement({ actions: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'], resources: [this.masterSecret.secretArn] }));
    this.bootstrapFunction.addToRolePolicy(new iam.PolicyStatement({
      actions: ['kms:Decrypt'],
      resources: [this.encryptionKey.keyArn],
      conditions: { StringEquals: { 'kms:ViaService': `secretsmanager.${Stack.of(this).region}.amazonaws.com` } },
    }));
    this.bootstrap = new CustomResource(this, 'Bootstrap-Resource', {
      serviceToken: this.bootstrapFunction.functionArn,
      resourceType: 'Custom::DocaiDatabaseBootstrap',
      properties: { MigratorRole: MIGRATOR_ROLE },
    });
    // The Data API needs a running writer instance, not only the cluster.
    for (const c of this.cluster.node.findAll()) if (c instanceof rds.CfnDBInstance) this.bootstrap.node.addDependency(c);

    // Schema migrations, applied on every deploy, as docai_migrator with an IAM token (signed locally:
    // no endpoint, no secret read).
    this.migrationsFunction = new DocaiFunction(this, 'Migrations', {
      folder: 'migrations',
      index: 'migrations_handler.py',
      description: 'Applies the vector database schema migrations (CloudFormation custom resource)',
      timeout: Duration.minutes(5),
      memorySize: 256,
      environment: this.connectionEnvironment(MIGRATOR_ROLE),
      workflow: 'migrations',
      ...placement,
      securityGroups: [...placement.securityGroups, this.clientSecurityGroup],
    });
    this.grantConnect(this.migrationsFunction, MIGRATOR_ROLE);
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
    this.migrations.node.addDependency(this.bootstrap);

    if (removalPolicy === RemovalPolicy.RETAIN) this.retainDependencies(vpcSubnets);
    this.acknowledgeDeliberateChoices(deletionProtection, removalPolicy);
  }

  /**
   * A retained cluster keeps what it runs on: its security group, parameter group, subnet group and
   * monitoring role, and the subnets and VPC when they are defined in this stack (deleting them fails
   * on the instances' network interfaces, and a deleted role leaves the kept cluster unmanageable).
   * The master secret is RDS's own (it lives and dies with the cluster). test/app/destroy-rebuild.test.ts
   * plays the destroy.
   */
  private retainDependencies(vpcSubnets: ec2.SubnetSelection): void {
    const retain = (c: unknown) => {
      if (c instanceof CfnResource && Stack.of(c) === Stack.of(this)) c.applyRemovalPolicy(RemovalPolicy.RETAIN);
    };
    retain(this.securityGroup.node.defaultChild);
    retain(this.cluster.node.tryFindChild('MonitoringRole')?.node.defaultChild);
    for (const c of this.node.findAll()) if (c instanceof rds.CfnDBClusterParameterGroup || c instanceof rds.CfnDBSubnetGroup) retain(c);
    const vpc = this.cluster.vpc;
    retain(vpc.node.defaultChild);
    for (const subnet of vpc.selectSubnets(vpcSubnets).subnets) retain(subnet.node.defaultChild);
  }

  /** Lets `grantee` log in with IAM authentication as `dbUser` (one of DATABASE_ROLES): `rds-db:connect` on `<DbClusterResourceId>/<dbUser>`. */
  public grantConnect(grantee: iam.IGrantable, dbUser: string): iam.Grant {
    return this.cluster.grantConnect(grantee, dbUser);
  }

  /** Environment variables the shared `docai_shared.db.connect_from_env` reads. */
  public connectionEnvironment(dbUser: string): Record<string, string> {
    return { [ENV.DB_HOST]: this.hostname, [ENV.DB_PORT]: String(this.port), [ENV.DB_NAME]: this.databaseName, [ENV.DB_USER]: dbUser };
  }

  protected get metricClusterIdentifier(): string {
    return this.cluster.clusterIdentifier;
  }

  private acknowledgeDeliberateChoices(deletionProtection: boolean, removalPolicy: RemovalPolicy): void {
    // What survives a stack deletion, said as it is: only SNAPSHOT takes a final snapshot.
    const onDelete = removalPolicy === RemovalPolicy.SNAPSHOT ? 'plus a final snapshot taken on delete'
      : removalPolicy === RemovalPolicy.RETAIN ? 'and the cluster itself is retained on delete'
        : 'and no final snapshot (this stage deletes the cluster with its stack: what it holds is rebuilt by re-ingesting the versioned intake bucket)';
    const cfnCluster = this.cluster.node.defaultChild as rds.CfnDBCluster;
    const instances = this.cluster.node.findAll().filter((c): c is rds.CfnDBInstance => c instanceof rds.CfnDBInstance);
    // cdk-nag's RDSInBackupPlan reads each CfnDBInstance (not the cluster): acknowledged on the instances.
    for (const c of instances) acknowledge(c, ['HIPAA.Security::HIPAA.Security-RDSInBackupPlan', 'NIST.800.53.R5::NIST.800.53.R5-RDSInBackupPlan'],
      'Backups are Aurora automated backups with point-in-time recovery, retained per stage (7 days pilot, 35 production), encrypted with the ' +
        `database key, kept after deletion (DeleteAutomatedBackups false), ${onDelete}. An AWS Backup plan would duplicate them.`);
    const monitoringRole = this.cluster.node.tryFindChild('MonitoringRole');
    if (monitoringRole) {
      acknowledge(monitoringRole, ['AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole]'],
        'The enhanced-monitoring role uses the AWS-maintained AmazonRDSEnhancedMonitoringRole policy, which only lets RDS write OS metrics to ' +
          'the RDSOSMetrics log group; it is the role AWS documents for this purpose.');
    }
    if (!deletionProtection) {
      acknowledge(cfnCluster, ['AwsSolutions::AwsSolutions-RDS10', 'HIPAA.Security::HIPAA.Security-RDSInstanceDeletionProtectionEnabled', 'NIST.800.53.R5::NIST.800.53.R5-RDSInstanceDeletionProtectionEnabled', 'cdk-validator-cfnguard::rds_cluster_deletion_protection_enabled_check'],
        'Deletion protection off by explicit choice of this stage (deletionProtection: false) so a pilot can be removed with its stack; ' +
          `the automated backups are kept after deletion, ${onDelete}. The production stage turns it on; the readiness report lists this difference.`);
    }
  }
}

class ImportedVectorDatabase extends VectorDatabaseBase implements IVectorDatabase {
  public readonly hostname: string;
  public readonly port: number;
  public readonly databaseName: string;
  public readonly clientSecurityGroup: ec2.ISecurityGroup;
  protected readonly metricClusterIdentifier: string | undefined;
  private readonly cluster: rds.IDatabaseCluster;

  constructor(scope: Construct, id: string, attrs: VectorDatabaseAttributes) {
    super(scope, id);
    this.metricClusterIdentifier = attrs.clusterIdentifier;
    if (!Token.isUnresolved(attrs.clusterResourceId) && !/^cluster-[A-Z0-9]+$/.test(attrs.clusterResourceId)) {
      throw new Error(`VectorDatabase.fromVectorDatabaseAttributes: clusterResourceId must be the cluster's DbClusterResourceId (cluster-XXXX, see 'aws rds describe-db-clusters'), received '${attrs.clusterResourceId}'`);
    }
    this.hostname = attrs.hostname;
    this.port = attrs.port;
    this.databaseName = attrs.databaseName;
    this.clientSecurityGroup = attrs.clientSecurityGroup;
    // CDK's own import, so grantConnect builds the rds-db:connect ARN exactly as for a deployed cluster.
    this.cluster = rds.DatabaseCluster.fromDatabaseClusterAttributes(this, 'Cluster', {
      clusterIdentifier: attrs.clusterIdentifier ?? Fn.select(0, Fn.split('.', attrs.hostname)),
      clusterEndpointAddress: attrs.hostname,
      port: attrs.port,
      securityGroups: [],
      clusterResourceIdentifier: attrs.clusterResourceId,
    });
  }

  public grantConnect(grantee: iam.IGrantable, dbUser: string): iam.Grant {
    return this.cluster.grantConnect(grantee, dbUser);
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
