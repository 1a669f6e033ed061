import { Duration, RemovalPolicy, Stack, StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { tagWorkload } from '../app/tags';
import { acknowledge, allowCloudWatchLogs, createDataKey, FunctionPlacement } from '../common';
import { StageConfig } from '../config';
import { IngestionFunction } from '../ingestion';
import { DataStack } from './data-stack';

export interface AppStackProps extends StackProps {
  readonly config: StageConfig;
  readonly data: DataStack;
}

/** The stateless side: functions, the pipeline, migrations. Safe to destroy and recreate. */
export class AppStack extends Stack {
  public readonly placement: FunctionPlacement;
  public readonly functionSecurityGroup: ec2.SecurityGroup;
  public readonly ingestion: IngestionFunction;

  constructor(scope: Construct, id: string, props: AppStackProps) {
    super(scope, id, props);
    const c = props.config;
    const data = props.data;
    tagWorkload(this, 'pipeline');

    // Encrypts only what this stack holds (function logs and environments, pipeline state and logs);
    // they go with the stack. Failed async invocations are state: their queue lives in the data stack.
    const key = createDataKey(this, 'AppKey', { description: 'Encrypts function logs and environments, pipeline state and logs', removalPolicy: RemovalPolicy.DESTROY });
    allowCloudWatchLogs(key);
    const asyncDlq = data.asyncFailures;

    this.functionSecurityGroup = new ec2.SecurityGroup(this, 'FunctionSg', {
      vpc: data.network.vpc,
      description: 'docai Lambdas: HTTPS to VPC endpoints and S3 only',
      allowAllOutbound: false,
    });
    // The subnets have no internet route: HTTPS out reaches only the S3 gateway endpoint and the
    // interface endpoints. (S3's prefix list id differs per region, and synth is region-agnostic.)
    this.functionSecurityGroup.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'HTTPS to VPC endpoints (no internet route exists)');

    this.placement = {
      vpc: data.network.vpc,
      vpcSubnets: data.network.isolatedSubnets,
      securityGroups: [this.functionSecurityGroup],
      encryptionKey: key,
      logRetention: c.logRetentionDays,
      deadLetterQueue: asyncDlq,
    };

    // Interim: until the DocumentPipeline construct lands, executions are accepted and end at once.
    const pipelineLogs = new logs.LogGroup(this, 'PipelineLogs', { encryptionKey: key, retention: c.logRetentionDays, removalPolicy: RemovalPolicy.DESTROY });
    const pipeline = new sfn.StateMachine(this, 'Pipeline', {
      definitionBody: sfn.DefinitionBody.fromChainable(new sfn.Pass(this, 'Accepted')),
      tracingEnabled: true,
      timeout: Duration.minutes(5),
      logs: { destination: pipelineLogs, level: sfn.LogLevel.ALL, includeExecutionData: true },
      encryptionConfiguration: new sfn.CustomerManagedEncryptionConfiguration(key),
    });
    acknowledge(pipeline.role, ['AwsSolutions::AwsSolutions-IAM5[Resource::*]'],
      'Resource "*" is required by CloudWatch Logs vended delivery (logs:CreateLogDelivery, logs:DescribeLogGroups, ...) and X-Ray (xray:PutTraceSegments): ' +
        'neither supports resource-level permissions. No data action uses "*".');

    this.ingestion = new IngestionFunction(this, 'Ingestion', {
      queue: data.ingestionQueue,
      stateMachine: pipeline,
      placement: this.placement,
      timeout: Duration.seconds(c.ingestion.functionTimeoutSeconds),
      maxConcurrency: c.ingestion.maxConcurrency,
      batchSize: c.ingestion.batchSize,
    });
    tagWorkload(this.ingestion, 'ingestion');
  }
}

