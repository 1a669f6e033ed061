import { Duration, RemovalPolicy, Stack, StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import {
  AuditLockMode, AuditStore, DocumentPipeline, FunctionPlacement, IngestionFunction, IngestionQueue,
  IntakeBucket, ModelGateway, QueryApi, VectorDatabase, WorkBucket,
} from 'docai-blueprint';
import { acknowledgeCdkProviders, allowCloudWatchLogs, createDataKey, createDeadLetterQueue, gatewayGuardrail, gatewayRouting, PILOT } from 'docai-blueprint/blueprint';

/**
 * The document pipeline and the query API inside a VPC this app already has (imported, not created),
 * with an embedding endpoint it already runs.
 */
export class ConsumerStack extends Stack {
  constructor(scope: Construct, id: string, props: StackProps = {}) {
    super(scope, id, props);

    // An existing VPC with isolated subnets (no internet route), as most platform teams hand out.
    const vpc = ec2.Vpc.fromVpcAttributes(this, 'Vpc', {
      vpcId: 'vpc-0a1b2c3d4e5f60718',
      availabilityZones: ['eu-west-1a', 'eu-west-1b'],
      isolatedSubnetIds: ['subnet-0a1b2c3d4e5f60718', 'subnet-0b1c2d3e4f5a60718'],
      isolatedSubnetRouteTableIds: ['rtb-0a1b2c3d4e5f60718', 'rtb-0b1c2d3e4f5a60718'],
    });
    // A key with the blueprint's policy (rotation, grants only for AWS resources), also for the functions' log groups.
    const key = createDataKey(this, 'Key', { description: 'Function logs and environments, alarms, review channel', removalPolicy: RemovalPolicy.DESTROY });
    allowCloudWatchLogs(key);
    const alarms = new sns.Topic(this, 'Alarms', { masterKey: key, enforceSSL: true });
    const functionSg = new ec2.SecurityGroup(this, 'FunctionSg', { vpc, description: 'docai Lambdas: HTTPS out only', allowAllOutbound: false });
    functionSg.addEgressRule(ec2.Peer.ipv4('10.0.0.0/16'), ec2.Port.tcp(443), 'HTTPS to the VPC endpoints');
    const failures = createDeadLetterQueue(this, 'AsyncFailures', { encryptionKey: key, sourceDescription: 'failed asynchronous invocations of the functions' });
    const placement: FunctionPlacement = {
      vpc, vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED }, securityGroups: [functionSg],
      encryptionKey: key, logRetention: logs.RetentionDays.ONE_YEAR, deadLetterQueue: failures,
    };
    const embedding = { endpointName: 'my-embedding-endpoint', dimension: 1024 };

    const queue = new IngestionQueue(this, 'IngestionQueue', { alarmTopic: alarms, removalPolicy: RemovalPolicy.DESTROY });
    const intake = new IntakeBucket(this, 'Intake', { eventQueue: queue.queue, removalPolicy: RemovalPolicy.DESTROY });
    const accessLogs = intake.accessLogBucket!; // created with the bucket (undefined only with existingBucket)
    const database = new VectorDatabase(this, 'VectorDb', { vpc, migrationsPlacement: placement, embeddingDimension: embedding.dimension, removalPolicy: RemovalPolicy.DESTROY, deletionProtection: false });
    const pipeline = new DocumentPipeline(this, 'Pipeline', {
      intake, database, embedding, placement,
      workBucket: new WorkBucket(this, 'Work', { encryptionKey: intake.encryptionKey, accessLogBucket: accessLogs, removalPolicy: RemovalPolicy.DESTROY }),
    });
    // The pipeline comes with its key: starting an execution needs a data key from it.
    new IngestionFunction(this, 'Ingestion', { queue, pipeline, intakeBucketName: intake.bucketName, placement });

    const gateway = new ModelGateway(this, 'Gateway', { ...gatewayRouting(PILOT.gateway), guardrail: gatewayGuardrail(PILOT.gateway), namePrefix: 'consumer', removalPolicy: RemovalPolicy.DESTROY, alarmTopic: alarms });
    const audit = new AuditStore(this, 'Audit', { retention: Duration.days(365), lockMode: AuditLockMode.GOVERNANCE, removalPolicy: RemovalPolicy.RETAIN, accessLogBucket: accessLogs, namePrefix: 'consumer' });
    new QueryApi(this, 'Query', {
      placement, database, gateway, audit, embedding,
      tierGroups: PILOT.query.tierGroups, defaultTopK: 6, maxTopK: 20, throttle: { rateLimit: 10, burstLimit: 20 }, wafRateLimitPer5Minutes: 1000,
      logRetention: logs.RetentionDays.ONE_YEAR, encryptionKey: key, alarmTopic: alarms, alarms: { error5xxPercent: 5, p95LatencyMs: 10000 },
    });
    // CDK's own custom-resource handlers (bucket auto-delete) cannot be placed in a VPC: the blueprint's acknowledgement, with its reason.
    acknowledgeCdkProviders(this);
  }
}
