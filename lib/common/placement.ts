import { RemovalPolicy } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sqs from 'aws-cdk-lib/aws-sqs';

/**
 * Where and how this project's Lambdas run: the VPC side, the key for their logs and environment,
 * log retention, and the queue that catches failed asynchronous invocations. One value per stack,
 * handed to every construct that creates functions.
 */
export interface FunctionPlacement {
  readonly vpc: ec2.IVpc;
  readonly vpcSubnets: ec2.SubnetSelection;
  /** Security groups every function gets (egress to the VPC endpoints). */
  readonly securityGroups: ec2.ISecurityGroup[];
  readonly encryptionKey: kms.IKey;
  readonly logRetention: logs.RetentionDays;
  readonly deadLetterQueue: sqs.IQueue;
  /**
   * Whether functions that reach no VPC resource, and call only AWS APIs that need a paid interface
   * endpoint from the isolated subnets (Step Functions, SageMaker runtime), run in the VPC.
   * @default true
   */
  readonly apiOnlyFunctionsInVpc?: boolean;
  /**
   * What happens to the log groups of the functions (and of the pipeline and API built with this
   * placement) when the stack is deleted: RETAIN keeps the evidence they hold.
   * @default RemovalPolicy.DESTROY
   */
  readonly logRemovalPolicy?: RemovalPolicy;
}
