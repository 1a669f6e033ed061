import * as path from 'path';
import { PythonFunction, PythonLayerVersion } from '@aws-cdk/aws-lambda-python-alpha';
import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { acknowledge } from './acknowledge';
import { LambdaBundling } from './bundling';
import { METRIC_DIMENSIONS_ENV, metricDimensions } from './metric-dimensions';
import { packagePath } from './package-root';

/** Root of the Python Lambda packages. */
export const LAMBDA_ROOT = packagePath('lambda');

/** Amazon RDS certificate authorities, all regions (documented at docs.aws.amazon.com, "Using SSL/TLS"). */
export const RDS_CA_BUNDLE_URL = 'https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem';

/**
 * The Python runtime every function uses: the newest generally available one whose ARM64 wheels exist
 * for every compiled dependency (lxml, charset-normalizer publish manylinux aarch64 cp313 wheels).
 * python3.13: GA since 2024-11, deprecation 2029-06-30 (https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html).
 * Not the newest CDK knows (python3.15 is a preview runtime, "not for production"); python3.14 is GA
 * too and is the next step once its wheels are checked. Tests run on the machine's Python 3.11 (README).
 */
export const PYTHON_RUNTIME = lambda.Runtime.PYTHON_3_13;

/**
 * The shared Python package (`lambda/shared`) as a Lambda layer, one per stack, so shared code is
 * deployed once and never copied between functions.
 */
export function sharedLayer(scope: Construct): PythonLayerVersion {
  const stack = Stack.of(scope);
  const id = 'DocaiSharedLayer';
  const existing = stack.node.tryFindChild(id) as PythonLayerVersion | undefined;
  if (existing) return existing;
  return new PythonLayerVersion(stack, id, {
    entry: path.join(LAMBDA_ROOT, 'shared'),
    compatibleRuntimes: [PYTHON_RUNTIME],
    compatibleArchitectures: [lambda.Architecture.ARM_64],
    description: 'docai_shared: logging, metrics, errors, data access',
    removalPolicy: RemovalPolicy.RETAIN, // old versions stay usable by functions not yet updated
    bundling: {
      commandHooks: {
        beforeBundling: () => [],
        // The RDS CA bundle, so database connections verify the server certificate (verify-full).
        // Fetched while bundling (deploy time, in Docker); a failed download fails the deploy.
        afterBundling: (_inputDir: string, outputDir: string) => [`curl -sSf --retry 3 -o ${outputDir}/docai_shared/rds-global-bundle.pem ${RDS_CA_BUNDLE_URL}`],
      },
    },
  });
}

/** Why a function runs outside the VPC. */
export interface OutsideVpc {
  /** Lands in the acknowledgement of the "Lambda in a VPC" rules, where the security review shows it. */
  readonly reason: string;
}

export interface DocaiFunctionProps {
  /** Folder under `lambda/` holding the function's module and requirements.txt. */
  readonly folder: string;
  /** Module file in that folder, e.g. `ingestion_handler.py`. */
  readonly index: string;
  /** @default 'handler' */
  readonly handler?: string;
  readonly description: string;
  readonly timeout: Duration;
  readonly memorySize: number;
  /**
   * Reserved concurrency. Leave it out unless the account's quota is known to allow it: a fresh
   * account often has a concurrency quota of 10, and reserved concurrency must leave the unreserved
   * minimum free, so any reservation fails the first deploy. Bound callers instead (SQS event source
   * maximum concurrency, Map maxConcurrency).
   * @default - no reservation; the function draws from the account's unreserved pool
   */
  readonly reservedConcurrentExecutions?: number;
  /** @default - only WORKFLOW and the deployment's metric dimensions */
  readonly environment?: Record<string, string>;
  /** Encrypts the log group, the environment variables and the async dead-letter queue. */
  readonly encryptionKey: kms.IKey;
  readonly logRetention: logs.RetentionDays;
  readonly vpc: ec2.IVpc;
  readonly vpcSubnets: ec2.SubnetSelection;
  readonly securityGroups: ec2.ISecurityGroup[];
  /**
   * Run outside the VPC: for a function that reaches no VPC resource and calls only AWS APIs that
   * would otherwise need a paid interface endpoint. The reason lands in the acknowledgement of the
   * "Lambda in a VPC" rules, where the security review shows it.
   * @default - in the VPC
   */
  readonly outsideVpc?: OutsideVpc;
  /** Receives asynchronous invocations that failed every retry. */
  readonly deadLetterQueue: sqs.IQueue;
  /** Workflow name in logs and metrics. */
  readonly workflow: string;
  /** @default RemovalPolicy.DESTROY */
  readonly logRemovalPolicy?: RemovalPolicy;
}

/**
 * A Python Lambda with this project's defaults: ARM64, newest Python runtime, the shared layer,
 * inside the VPC, X-Ray active tracing, an encrypted log group with retention, JSON log format,
 * explicit timeout, memory and reserved concurrency, and a dead-letter queue.
 */
export class DocaiFunction extends PythonFunction {
  public readonly logGroupResource: logs.LogGroup;

  constructor(scope: Construct, id: string, props: DocaiFunctionProps) {
    LambdaBundling.assertBundlingPossible(scope, id);
    const logGroup = new logs.LogGroup(scope, `${id}Logs`, {
      encryptionKey: props.encryptionKey,
      retention: props.logRetention,
      removalPolicy: props.logRemovalPolicy ?? RemovalPolicy.DESTROY,
    });
    super(scope, id, {
      entry: path.join(LAMBDA_ROOT, props.folder),
      index: props.index,
      handler: props.handler ?? 'handler',
      runtime: PYTHON_RUNTIME,
      architecture: lambda.Architecture.ARM_64,
      layers: [sharedLayer(scope)],
      description: props.description,
      timeout: props.timeout,
      memorySize: props.memorySize,
      reservedConcurrentExecutions: props.reservedConcurrentExecutions,
      environment: { WORKFLOW: props.workflow, ...deploymentDimensionsEnv(scope), ...props.environment },
      environmentEncryption: props.encryptionKey,
      tracing: lambda.Tracing.ACTIVE,
      logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      applicationLogLevelV2: lambda.ApplicationLogLevel.INFO,
      systemLogLevelV2: lambda.SystemLogLevel.WARN,
      ...(props.outsideVpc ? {} : { vpc: props.vpc, vpcSubnets: props.vpcSubnets, securityGroups: props.securityGroups }),
      deadLetterQueue: props.deadLetterQueue,
    });
    this.logGroupResource = logGroup;

    acknowledge(this.role!, [
      'AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      ...(props.outsideVpc ? [] : ['AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole]']),
    ], 'AWS-maintained Lambda service-role policies: BasicExecutionRole allows only writing this function\'s logs; VPCAccessExecutionRole (functions in the VPC) allows only the ' +
      'network-interface actions Lambda needs to attach the function to the VPC (ec2:Describe*/Create/DeleteNetworkInterface cannot be scoped to resources).');
    if (props.outsideVpc) {
      acknowledge(this, [
        'HIPAA.Security::HIPAA.Security-LambdaInsideVPC',
        'NIST.800.53.R5::NIST.800.53.R5-LambdaInsideVPC',
        'PCI.DSS.321::PCI.DSS.321-LambdaInsideVPC',
        'cdk-validator-cfnguard::lambda_inside_vpc_check',
      ], `Runs outside the VPC on purpose: ${props.outsideVpc.reason} It reaches no VPC resource (no database, no private endpoint), accepts no inbound ` +
        'connection, and calls AWS APIs over TLS with SigV4 and this role\'s least-privilege grants. Set network.privateLinkForAwsApis to run it in the VPC behind an interface endpoint.');
    }
    acknowledge(this.role!, ['AwsSolutions::AwsSolutions-IAM5[Resource::*]'],
      'The only statement with Resource "*" is X-Ray tracing (xray:PutTraceSegments, xray:PutTelemetryRecords), which has no resource-level permissions. ' +
        'Every other grant names its resource; test/common/function-policies.test.ts fails if another "*" appears.');
    acknowledge(this, ['AwsSolutions::AwsSolutions-L1', 'Serverless::Serverless-LambdaLatestVersion'],
      `${PYTHON_RUNTIME.name} is a generally available runtime (supported until 2029-06-30) with ARM64 wheels for every compiled dependency (lxml, charset-normalizer); ` +
        'python3.15, the newest CDK knows, is a preview runtime ("not for production"). Moving to python3.14 is a one-line change in lib/common/python-function.ts once its wheels are checked.');
    if (props.reservedConcurrentExecutions === undefined) {
      acknowledge(this, ['HIPAA.Security::HIPAA.Security-LambdaConcurrency', 'NIST.800.53.R5::NIST.800.53.R5-LambdaConcurrency'],
        'No reserved concurrency on purpose: a fresh account often has a Lambda concurrency quota of 10 and reserved concurrency must leave the unreserved ' +
          'minimum free, so any reservation fails the first deploy. Concurrency is bounded where work enters instead: the ingestion queue\'s event-source ' +
          'maximum concurrency, the Embed map\'s maxConcurrency and the backfill\'s Distributed Map concurrency; throttles are retried by the state machine.');
    }
    if (!props.outsideVpc && Stack.of(props.vpc) !== Stack.of(this)) {
      acknowledge(this, ['cdk-validator-cfnguard::lambda_inside_vpc_check'],
        'The function runs in the isolated subnets of the stage VPC; their ids come from the data stack through a cross-stack reference, which this guard rule ' +
          'does not resolve (it accepts only literal ids or same-template references). test/app/guard.test.ts runs cfn-guard and checks that every ' +
          'failure of this rule is such an import.');
    }
  }
}

/** The stack's metric dimensions (project, stage) for docai_shared.observability, when it names any. */
function deploymentDimensionsEnv(scope: Construct): Record<string, string> {
  const dims = metricDimensions(scope);
  return Object.keys(dims).length ? { [METRIC_DIMENSIONS_ENV]: JSON.stringify(dims) } : {};
}
