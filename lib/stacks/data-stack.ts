import { CfnResource, Duration, Fn, RemovalPolicy, Stack, StackProps } from 'aws-cdk-lib';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { AlarmTopic } from '../alarm-topic';
import { BreakGlassAlarms, KeyAdministration } from '../break-glass';
import { ModelGateway } from '../model-gateway';
import { AuditStore } from '../query-api/audit-store';
import { setMetricDimensions, acknowledgeCdkProviders, allowCloudWatchLogs, createDataKey, createDeadLetterQueue, deadLetterAlarm } from '../common';
import { VectorDatabase } from '../vector-database';
import { WorkBucket } from '../document-pipeline';
import { createReviewQueue, createReviewTopic } from '../document-pipeline/review-channel';
import { tagWorkload } from '../common/tags';
import { AdoptableKey, interfaceEndpointsOf, StageConfig } from '../config';
import { IngestionQueue } from '../ingestion';
import { IntakeBucket } from '../intake-bucket';
import { Network } from '../network';
import { deploymentMetricDimensions, namePrefix } from './stack-names';
import { auditLockMode, gatewayGuardrail, gatewayRouting } from './read-side-props';

export interface DataStackProps extends StackProps {
  readonly config: StageConfig;
}

/**
 * The stateful side of a stage: keys, the VPC, buckets, the queue that holds undelivered S3 events,
 * the database, and the alarm topic (its e-mail subscription must be confirmed by a person, so it is
 * not recreated casually). Everything else can be destroyed and redeployed freely.
 */
export class DataStack extends Stack {
  public readonly alarms: AlarmTopic;
  public readonly network: Network;
  public readonly intake: IntakeBucket;
  public readonly ingestionQueue: IngestionQueue;
  /** Receives asynchronous Lambda invocations that failed every retry. */
  public readonly asyncFailures: sqs.Queue;
  public readonly database: VectorDatabase;
  public readonly workBucket: WorkBucket;
  /** Endpoint data capture, in stages that capture. */
  public readonly captureBucket?: WorkBucket;
  public readonly reviewQueue: sqs.Queue;
  /** The model gateway's table, prompts and guardrail. */
  public readonly gateway: ModelGateway;
  /** The query API's append-only audit trail. */
  public readonly audit: AuditStore;
  public readonly reviewTopic: sns.Topic;
  /** Alarms on the break-glass paths (master secret read, restricted group change, key policy change). */
  public readonly breakGlass: BreakGlassAlarms;
  /** The role that administers the intake, database and audit keys and may not use them. */
  public readonly keyAdministration: KeyAdministration;
  /** RETAIN in stages that keep data, DESTROY in stages that do not. */
  public readonly dataRemovalPolicy: RemovalPolicy;
  private azCount = 2;

  /**
   * The VPC's Availability Zones, chosen at deploy time with `Fn::GetAZs` whether or not the
   * environment is pinned. CDK would otherwise look them up from the account when `-c account`
   * and `-c region` are given, which needs credentials at synth time and makes the pinned template
   * differ from the environment-agnostic one (and caps the agnostic one at two AZs whatever
   * `network.maxAzs` says). Fn::GetAZs lists the region's zones alphabetically (only those with a
   * default subnet, when any has one):
   * https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/intrinsic-function-reference-getavailabilityzones.html
   */
  public override get availabilityZones(): string[] {
    return Array.from({ length: this.azCount }, (_, i) => Fn.select(i, Fn.getAzs()));
  }

  constructor(scope: Construct, id: string, props: DataStackProps) {
    super(scope, id, { ...props, terminationProtection: props.config.terminationProtection });
    setMetricDimensions(this, deploymentMetricDimensions(props.config));
    const c = props.config;
    this.azCount = c.network.maxAzs;
    // A rebuilt stage adopts the retained keys its data is encrypted with (config rebuild.keys).
    const adopted = (name: AdoptableKey) => {
      const arn = c.rebuild?.keys?.[name];
      return arn ? kms.Key.fromKeyArn(this, `Adopted${name[0].toUpperCase()}${name.slice(1)}Key`, arn) : undefined;
    };
    this.dataRemovalPolicy = c.retainData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
    tagWorkload(this, 'platform');

    this.alarms = new AlarmTopic(this, 'Alarms', { email: c.alarmEmail, removalPolicy: this.dataRemovalPolicy, encryptionKey: adopted('alarms') });
    tagWorkload(this.alarms, 'observability');

    // One key for this stack's logs (VPC flow logs, the migrations function's logs and environment):
    // its audience is CloudWatch Logs of this account and region only, which is all a flow-log key
    // needed too (lib/review/key-audience.ts). The database keeps its own key (RDS, its secret, its
    // logs; denied to the key administrator).
    const opsKey = adopted('operations') ?? createDataKey(this, 'OperationsKey', { description: 'Encrypts the data stack\'s logs (VPC flow logs, function logs) and function environments', removalPolicy: this.dataRemovalPolicy });
    if (!c.rebuild?.keys?.operations) allowCloudWatchLogs(opsKey);

    this.network = new Network(this, 'Network', {
      maxAzs: c.network.maxAzs,
      interfaceEndpointsInEveryAz: c.network.interfaceEndpointsInEveryAz,
      // None by default: the VPC functions reach only the database (IAM tokens are signed locally) and
      // S3 (the free gateway endpoint). With privateLinkForAwsApis: Step Functions (ingestion),
      // SageMaker runtime (Embed) and Secrets Manager, for teams that keep AWS API calls on PrivateLink.
      interfaceEndpoints: interfaceEndpointsOf(c).map((e) => new ec2.InterfaceVpcEndpointAwsService(e.service)),
      flowLogRetention: c.logRetentionDays,
      encryptionKey: opsKey,
      removalPolicy: this.dataRemovalPolicy,
    });
    tagWorkload(this.network, 'network');

    this.ingestionQueue = new IngestionQueue(this, 'IngestionQueue', {
      consumerTimeout: Duration.seconds(c.ingestion.functionTimeoutSeconds),
      maxReceiveCount: c.ingestion.maxReceiveCount,
      oldestMessageAgeThreshold: Duration.seconds(c.ingestion.oldestMessageAlarmSeconds),
      alarmTopic: this.alarms.topic,
      removalPolicy: this.dataRemovalPolicy,
      encryptionKey: adopted('ingestionQueue'),
    });
    tagWorkload(this.ingestionQueue, 'ingestion');
    this.asyncFailures = createDeadLetterQueue(this, 'AsyncFailures', {
      encryptionKey: this.ingestionQueue.encryptionKey,
      sourceDescription: 'asynchronous invocations of the app-stack functions (Lambda DeadLetterConfig in another stack)',
    });

    this.intake = new IntakeBucket(this, 'Intake', {
      eventQueue: this.ingestionQueue.queue,
      infrequentAccessAfter: Duration.days(c.intake.infrequentAccessAfterDays),
      noncurrentTransitionAfter: Duration.days(c.intake.noncurrentTransitionAfterDays),
      noncurrentExpiration: Duration.days(c.intake.noncurrentExpirationDays),
      accessLogExpiration: Duration.days(c.intake.accessLogExpirationDays),
      removalPolicy: this.dataRemovalPolicy,
      autoDeleteObjects: !c.retainData,
      encryptionKey: adopted('intake'),
    });
    tagWorkload(this.intake, 'intake');
    // Created here (no existingBucket), so it has its access-log bucket: the work, capture and audit buckets log to it.
    const accessLogs = this.intake.accessLogBucket!;
    // A kept intake bucket notifies its queue: the queue (with its dead letters and the policy that
    // lets S3 send) is kept with it, holding the events of uploads made while the stage is down.
    if (c.retainData) {
      const q = this.ingestionQueue;
      for (const r of [q.queue.node.defaultChild, q.deadLetterQueue.node.defaultChild, q.queue.node.tryFindChild('Policy')?.node.defaultChild]) (r as CfnResource | undefined)?.applyRemovalPolicy(RemovalPolicy.RETAIN);
    }

    // Functions of this stack (schema migrations): same VPC side and defaults as the app stack's.
    const httpsOut = new ec2.SecurityGroup(this, 'FunctionSg', { vpc: this.network.vpc, description: 'docai data-stack Lambdas: HTTPS to VPC endpoints', allowAllOutbound: false });
    httpsOut.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'HTTPS to VPC endpoints (no internet route exists)');

    const d = c.database;
    this.database = new VectorDatabase(this, 'VectorDb', {
      vpc: this.network.vpc,
      vpcSubnets: this.network.isolatedSubnets,
      migrationsPlacement: {
        vpc: this.network.vpc,
        vpcSubnets: this.network.isolatedSubnets,
        securityGroups: [httpsOut],
        encryptionKey: opsKey,
        logRetention: c.logRetentionDays,
        deadLetterQueue: this.asyncFailures,
        logRemovalPolicy: this.dataRemovalPolicy,
      },
      embeddingDimension: c.embedding.dimension,
      embeddingModel: c.embedding.modelId,
      minCapacityAcu: d.minCapacityAcu,
      maxCapacityAcu: d.maxCapacityAcu,
      autoPauseAfter: Duration.seconds(d.autoPauseSeconds),
      readers: d.readers,
      backupRetention: Duration.days(d.backupRetentionDays),
      deletionProtection: d.deletionProtection,
      removalPolicy: c.retainData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
      logRetention: c.logRetentionDays,
      encryptionKey: adopted('database'),
      restoreFromSnapshot: c.rebuild?.restoreFromSnapshot,
    });
    tagWorkload(this.database, 'vector-db');

    // Scratch space of the pipeline: lives here because it logs to the intake access-log bucket and
    // rule packs want that reference inside one template.
    this.workBucket = new WorkBucket(this, 'Work', {
      // Longer than the longest run: review timeout + embedding window + a day (DocumentPipeline checks).
      expiration: Duration.days(Math.ceil((c.pipeline.humanReviewTimeoutHours + c.embedding.batchWindowMinutes / 60 + 24) / 24) + 1),
      encryptionKey: this.intake.encryptionKey,
      accessLogBucket: accessLogs,
      removalPolicy: RemovalPolicy.DESTROY,
      autoDeleteObjects: true,
    });
    tagWorkload(this.workBucket, 'pipeline');

    // Endpoint data capture (requests and responses) for drift and quality monitoring, when enabled.
    if (c.embedding.dataCapturePercent > 0 || (c.generation.enabled && c.generation.dataCapturePercent > 0)) {
      this.captureBucket = new WorkBucket(this, 'Capture', {
        encryptionKey: this.intake.encryptionKey,
        accessLogBucket: accessLogs,
        expiration: Duration.days(90),
        removalPolicy: this.dataRemovalPolicy,
        autoDeleteObjects: !c.retainData,
      });
      tagWorkload(this.captureBucket, 'inference');
    }

    // The read side's state: the gateway's budgets, cache, prompt versions and guardrail; the audit trail.
    this.gateway = new ModelGateway(this, 'Gateway', {
      ...gatewayRouting(c.gateway), guardrail: gatewayGuardrail(c.gateway), budgetAlarmPercent: c.gateway.budgetAlarmPercent,
      namePrefix: namePrefix(c), removalPolicy: this.dataRemovalPolicy, alarmTopic: this.alarms.topic, encryptionKey: adopted('gateway'),
    });
    tagWorkload(this.gateway, 'query');
    this.audit = new AuditStore(this, 'Audit', {
      retention: Duration.days(c.query.auditRetentionDays),
      lockMode: auditLockMode(c.query.auditLockMode),
      // Locked records outlive the stack whatever the stage: deleting them early is what Object Lock forbids.
      removalPolicy: RemovalPolicy.RETAIN,
      accessLogBucket: accessLogs,
      namePrefix: namePrefix(c),
      // Named per deployment in every stage (promotion keeps the name): a deploy after a destroy
      // starts a new trail beside the kept one. A fixed name would fail with AlreadyExists, and a
      // locked bucket cannot be emptied to free it (CloudFormation sends no
      // s3:BypassGovernanceRetention, and COMPLIANCE admits none).
      encryptionKey: adopted('audit'),
    });
    // The kept trail goes on logging to a bucket that exists: its access-log bucket is kept with it,
    // emptied by its auto-delete on destroy (its name is generated, so a redeploy collides with nothing).
    // An override, because the L2 refuses auto-delete on a retained bucket, which is the intent here.
    if (!c.retainData) {
      const logs = accessLogs.node.defaultChild as CfnResource;
      logs.addOverride('DeletionPolicy', 'Retain');
      logs.addOverride('UpdateReplacePolicy', 'Retain');
    }
    tagWorkload(this.audit, 'query');

    // Documents waiting for a person: task tokens in a queue, reviewers subscribed to a topic.
    const reviewKey = this.ingestionQueue.encryptionKey;
    this.reviewQueue = createReviewQueue(this, reviewKey);
    this.reviewTopic = createReviewTopic(this, reviewKey);
    // Dead letters of the review queue and of failed asynchronous invocations need a person too.
    for (const [alarmId, q, what] of [
      ['ReviewDeadLetterAlarm', this.reviewQueue.deadLetterQueue!.queue, 'Review messages (task tokens) were received 10 times without an answer'],
      ['AsyncFailuresAlarm', this.asyncFailures, 'Asynchronous Lambda invocations failed every retry'],
    ] as const) {
      deadLetterAlarm(this, alarmId, q, `${what}: read the dead-letter queue.`, Duration.minutes(5)).addAlarmAction(new cwActions.SnsAction(this.alarms.topic));
    }
    tagWorkload(this.reviewQueue, 'pipeline');
    tagWorkload(this.reviewTopic, 'pipeline');

    // Break glass: reading the master secret, changing who is in the restricted tier, changing a key policy.
    // RDS rotates the managed master secret itself (no function of ours); the bootstrap function reads it for the Data API.
    const session = (role: string, name: string) => `arn:${this.partition}:sts::${this.account}:assumed-role/${role}/${name}`;
    this.breakGlass = new BreakGlassAlarms(this, 'BreakGlass', {
      alarmTopic: this.alarms.topic,
      alarmTopicKey: this.alarms.key,
      masterSecretArn: this.database.masterSecret.secretArn,
      expectedSecretReaders: [session(this.database.bootstrapFunction.role!.roleName, '*')],
      restrictedGroups: c.query.authorization === 'cognito' ? Object.entries(c.query.tierGroups).filter(([, tier]) => tier === 'restricted').map(([group]) => group) : [],
    });
    tagWorkload(this.breakGlass, 'observability');
    // The keys of what holds documents, chunks and the audit trail: administered by a role that cannot use them.
    this.keyAdministration = new KeyAdministration(this, 'KeyAdministration', {
      roleName: `${namePrefix(c)}-key-admin`,
      keys: [this.intake.encryptionKey, this.database.encryptionKey, this.audit.encryptionKey],
    });
    acknowledgeCdkProviders(this);
  }
}
