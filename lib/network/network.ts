import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { allowCloudWatchLogs, createDataKey } from '../common';

export interface NetworkProps {
  /**
   * Availability zones.
   * @default 2
   */
  readonly maxAzs?: number;
  /**
   * AWS services the VPC's functions call, each reached through an interface endpoint (there is no
   * NAT gateway and no internet route). S3 is always reached through the free gateway endpoint.
   * @default - none
   */
  readonly interfaceEndpoints?: ec2.InterfaceVpcEndpointAwsService[];
  /**
   * Put interface endpoints in every AZ (highly available) or only in the first (a pilot saves
   * 0.01 USD per endpoint per AZ-hour; a function in the other AZ crosses AZs to reach it).
   * @default true
   */
  readonly interfaceEndpointsInEveryAz?: boolean;
  /**
   * Key for the flow-log group.
   * @default - a new customer-managed key
   */
  readonly encryptionKey?: kms.IKey;
  /** @default logs.RetentionDays.ONE_YEAR */
  readonly flowLogRetention?: logs.RetentionDays;
  /** @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * The VPC's IPv4 range.
   * @default '10.20.0.0/16'
   */
  readonly cidr?: string;
  /**
   * Let the S3 gateway endpoint read ECR image layers from AWS's layer bucket, for container images
   * pulled from inside the VPC (e.g. a SageMaker model with a VpcConfig):
   * https://docs.aws.amazon.com/AmazonECR/latest/userguide/vpc-endpoints.html
   * @default false - nothing in the VPC pulls images
   */
  readonly allowEcrImageLayers?: boolean;
}

/**
 * A VPC with isolated subnets only: no internet gateway, no NAT gateway (a pilot must not pay
 * ~33 USD/month per NAT for traffic it does not need). AWS APIs are reached through endpoints:
 * S3 through a gateway endpoint, the rest through interface endpoints named in props. Flow logs
 * (all traffic) go to an encrypted log group. The default security group allows nothing.
 */
export class Network extends Construct {
  public readonly vpc: ec2.Vpc;
  /** The VPC CIDR as a literal (security-group rules use it; a token would defeat rule checks). */
  public readonly cidr: string;
  /** Subnets for the database and the functions that reach it. */
  public readonly isolatedSubnets: ec2.SubnetSelection = { subnetType: ec2.SubnetType.PRIVATE_ISOLATED };
  public readonly flowLogGroup: logs.LogGroup;
  /** Security group of the interface endpoints: HTTPS from inside the VPC only. */
  public readonly endpointSecurityGroup: ec2.SecurityGroup;
  /** The S3 gateway endpoint (its policy admits only this account's buckets and the listed AWS ones). */
  public readonly s3Endpoint: ec2.GatewayVpcEndpoint;

  constructor(scope: Construct, id: string, props: NetworkProps = {}) {
    super(scope, id);
    const maxAzs = props.maxAzs ?? 2;
    if (maxAzs < 2) throw new Error(`Network: maxAzs must be at least 2 (an RDS subnet group needs two AZs), received ${maxAzs}`);

    this.cidr = props.cidr ?? '10.20.0.0/16';
    this.vpc = new ec2.Vpc(this, 'Vpc', {
      ipAddresses: ec2.IpAddresses.cidr(this.cidr),
      maxAzs,
      natGateways: 0,
      subnetConfiguration: [{ name: 'isolated', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 }],
      restrictDefaultSecurityGroup: true,
      gatewayEndpoints: { S3: { service: ec2.GatewayVpcEndpointAwsService.S3 } },
    });

    this.s3Endpoint = this.vpc.node.findChild('S3') as ec2.GatewayVpcEndpoint;
    restrictS3Endpoint(this.s3Endpoint, props.allowEcrImageLayers ?? false);

    const key = props.encryptionKey ?? createDataKey(this, 'FlowLogKey', { description: 'Encrypts VPC flow logs', removalPolicy: props.removalPolicy });
    if (!props.encryptionKey) allowCloudWatchLogs(key);
    this.flowLogGroup = new logs.LogGroup(this, 'FlowLogs', {
      encryptionKey: key,
      retention: props.flowLogRetention ?? logs.RetentionDays.ONE_YEAR,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    this.vpc.addFlowLog('FlowLog', {
      destination: ec2.FlowLogDestination.toCloudWatchLogs(this.flowLogGroup),
      trafficType: ec2.FlowLogTrafficType.ALL,
    });

    this.endpointSecurityGroup = new ec2.SecurityGroup(this, 'EndpointSg', {
      vpc: this.vpc,
      description: 'Interface endpoints: HTTPS from inside the VPC',
      allowAllOutbound: false,
    });
    this.endpointSecurityGroup.addIngressRule(ec2.Peer.ipv4(this.cidr), ec2.Port.tcp(443), 'HTTPS from the VPC');

    const everyAz = props.interfaceEndpointsInEveryAz ?? true;
    for (const service of props.interfaceEndpoints ?? []) {
      const name = service.shortName.replace(/[^A-Za-z0-9]/g, '');
      const endpoint = this.vpc.addInterfaceEndpoint(name, {
        service,
        privateDnsEnabled: true,
        securityGroups: [this.endpointSecurityGroup],
        open: false,
        subnets: everyAz ? { subnetType: ec2.SubnetType.PRIVATE_ISOLATED, onePerAz: true } : { subnets: [this.vpc.isolatedSubnets[0]] },
      });
      endpoint.addToPolicy(ownAccountOnly(Stack.of(this), 'OwnAccountOnly', ['*']));
    }
  }
}

/**
 * An endpoint-policy statement: principals of this account, on resources of this account, so a
 * compromised function cannot write to another account's bucket or secret through the endpoint
 * (https://docs.aws.amazon.com/vpc/latest/privatelink/vpc-endpoints-access.html). aws:ResourceAccount
 * is matched IfExists: actions without a resource (secretsmanager:GetRandomPassword, which the rotation
 * function calls) carry none
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-resourceaccount).
 */
function ownAccountOnly(stack: Stack, sid: string, actions: string[]): iam.PolicyStatement {
  return new iam.PolicyStatement({
    sid,
    principals: [new iam.AnyPrincipal()],
    actions,
    resources: ['*'],
    conditions: { StringEquals: { 'aws:PrincipalAccount': stack.account }, StringEqualsIfExists: { 'aws:ResourceAccount': stack.account } },
  });
}

/**
 * The S3 gateway endpoint admits this account's buckets, plus the AWS-owned buckets the VPC's code
 * must reach: CloudFormation's custom-resource response bucket (the migrations custom resource
 * answers through a presigned URL from inside the VPC:
 * https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-cloudformation-customresource.html,
 * bucket names: https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/vpc-interface-endpoints.html),
 * and on request ECR's image-layer bucket. Lambda fetches function code and layers itself, outside the VPC.
 */
function restrictS3Endpoint(endpoint: ec2.GatewayVpcEndpoint, ecrLayers: boolean): void {
  const stack = Stack.of(endpoint);
  endpoint.addToPolicy(new iam.PolicyStatement({
    sid: 'OwnAccountBuckets',
    principals: [new iam.AnyPrincipal()],
    actions: ['s3:*'],
    resources: ['*'],
    conditions: { StringEquals: { 'aws:PrincipalAccount': stack.account, 'aws:ResourceAccount': stack.account } },
  }));
  endpoint.addToPolicy(new iam.PolicyStatement({
    sid: 'CloudFormationCustomResourceResponses',
    principals: [new iam.AnyPrincipal()],
    actions: ['s3:PutObject'],
    resources: [`arn:${stack.partition}:s3:::cloudformation-custom-resource-response-*/*`],
  }));
  if (ecrLayers) {
    endpoint.addToPolicy(new iam.PolicyStatement({
      sid: 'EcrImageLayers',
      principals: [new iam.AnyPrincipal()],
      actions: ['s3:GetObject'],
      resources: [`arn:${stack.partition}:s3:::prod-${stack.region}-starport-layer-bucket/*`],
    }));
  }
}
