import { RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { allowCloudWatchLogs, createDataKey } from '../common';

export interface NetworkProps {
  /**
   * An existing VPC to use instead of creating one. Network then creates no VPC and no subnets: it
   * adds, inside that VPC and under this construct, the S3 gateway endpoint (unless
   * `s3GatewayEndpoint` is false), the interface endpoints, the endpoint security group and the flow
   * log. The VPC's owner keeps its routes, NAT gateways and default security group.
   * @default - a new VPC with isolated subnets only
   */
  readonly vpc?: ec2.IVpc;
  /**
   * Where in an existing VPC the database, the functions and the interface endpoints go: private
   * subnets in at least two AZs (an RDS subnet group needs two).
   * @default - the VPC's isolated subnets (ec2.SubnetType.PRIVATE_ISOLATED)
   */
  readonly vpcSubnets?: ec2.SubnetSelection;
  /**
   * Add an S3 gateway endpoint to the route tables of `vpcSubnets` (an existing VPC only; a VPC
   * created here always has one). Set false when those route tables already route S3 through a
   * gateway endpoint (a route table takes one per service, and the deploy fails on a second) or
   * when the subnets reach S3 another way.
   * @default true
   */
  readonly s3GatewayEndpoint?: boolean;
  /**
   * Log all traffic of the VPC to an encrypted log group. An existing VPC gets a second flow log
   * when it has one already: set false if that one is enough.
   * @default true
   */
  readonly flowLogs?: boolean;
  /**
   * Availability zones (a VPC created here only).
   * @default 2
   */
  readonly maxAzs?: number;
  /**
   * AWS services the VPC's functions call, each reached through an interface endpoint (there is no
   * NAT gateway and no internet route). S3 is always reached through the free gateway endpoint.
   * In an existing VPC that already has an endpoint with private DNS for one of these services,
   * leave that service out: a second one with private DNS fails the deploy (conflicting DNS domain).
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
   * The VPC's IPv4 range. With an existing VPC: its range as a literal, for the endpoint security
   * group's HTTPS rule (rule packs cannot read a token range).
   * @default - '10.20.0.0/16' for a VPC created here; the existing VPC's `vpcCidrBlock`
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
 *
 * Or, with `vpc`, an existing VPC given the same endpoints and flow log.
 */
export class Network extends Construct {
  public readonly vpc: ec2.IVpc;
  /** The VPC CIDR (a literal unless an existing VPC's range is a token; security-group rules use it). */
  public readonly cidr: string;
  /** Subnets for the database and the functions that reach it: the isolated subnets, or `vpcSubnets`. */
  public readonly isolatedSubnets: ec2.SubnetSelection;
  /** @default - undefined when `flowLogs` is false */
  public readonly flowLogGroup?: logs.LogGroup;
  /** Security group of the interface endpoints: HTTPS from inside the VPC only. */
  public readonly endpointSecurityGroup: ec2.SecurityGroup;
  /** Whether the VPC was created here. */
  public readonly createdVpc: boolean;
  /**
   * The S3 gateway endpoint made here (its policy admits only this account's buckets and the listed AWS ones).
   * @default - undefined when an existing VPC keeps its own (`s3GatewayEndpoint: false`)
   */
  public readonly s3Endpoint?: ec2.GatewayVpcEndpoint;

  constructor(scope: Construct, id: string, props: NetworkProps = {}) {
    super(scope, id);
    this.createdVpc = !props.vpc;
    this.isolatedSubnets = props.vpcSubnets ?? { subnetType: ec2.SubnetType.PRIVATE_ISOLATED };
    if (props.vpc) {
      if (props.maxAzs !== undefined) throw new Error('Network: maxAzs applies to a VPC created here; an existing VPC (props.vpc) keeps its zones. Remove maxAzs, or choose the zones with vpcSubnets');
      this.vpc = props.vpc;
      this.cidr = props.cidr ?? props.vpc.vpcCidrBlock;
      const azs = new Set(props.vpc.selectSubnets(this.isolatedSubnets).availabilityZones);
      if (!azs.size || (azs.size < 2 && ![...azs].some((az) => Token.isUnresolved(az)))) {
        throw new Error(`Network: vpcSubnets must select subnets in at least two AZs of the existing VPC (an RDS subnet group needs two), selected ${azs.size}; pass vpcSubnets`);
      }
      if (props.s3GatewayEndpoint ?? true) {
        this.s3Endpoint = new ec2.GatewayVpcEndpoint(this, 'S3', { vpc: props.vpc, service: ec2.GatewayVpcEndpointAwsService.S3, subnets: [this.isolatedSubnets] });
      }
    } else {
      if (props.vpcSubnets) throw new Error('Network: vpcSubnets applies to an existing VPC (props.vpc); a VPC created here has only isolated subnets');
      if (props.s3GatewayEndpoint === false) throw new Error('Network: a VPC created here has no other route to S3 than its gateway endpoint; s3GatewayEndpoint: false applies to an existing VPC only');
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
    }
    if (this.s3Endpoint) restrictS3Endpoint(this.s3Endpoint, props.allowEcrImageLayers ?? false);

    if (props.flowLogs ?? true) {
      const key = props.encryptionKey ?? createDataKey(this, 'FlowLogKey', { description: 'Encrypts VPC flow logs', removalPolicy: props.removalPolicy });
      if (!props.encryptionKey) allowCloudWatchLogs(key);
      this.flowLogGroup = new logs.LogGroup(this, 'FlowLogs', {
        encryptionKey: key,
        retention: props.flowLogRetention ?? logs.RetentionDays.ONE_YEAR,
        removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
      });
      const flowLog = { destination: ec2.FlowLogDestination.toCloudWatchLogs(this.flowLogGroup), trafficType: ec2.FlowLogTrafficType.ALL };
      // Under the VPC when it is ours (its logical ids stay where they were), under this construct in
      // an existing VPC, which may belong to another stack.
      if (this.createdVpc) this.vpc.addFlowLog('FlowLog', flowLog);
      else new ec2.FlowLog(this, 'FlowLog', { resourceType: ec2.FlowLogResourceType.fromVpc(this.vpc), ...flowLog });
    }

    this.endpointSecurityGroup = new ec2.SecurityGroup(this, 'EndpointSg', {
      vpc: this.vpc,
      description: 'Interface endpoints: HTTPS from inside the VPC',
      allowAllOutbound: false,
    });
    this.endpointSecurityGroup.addIngressRule(ec2.Peer.ipv4(this.cidr), ec2.Port.tcp(443), 'HTTPS from the VPC');

    const everyAz = props.interfaceEndpointsInEveryAz ?? true;
    const endpointSubnets = everyAz ? { ...this.isolatedSubnets, onePerAz: true } : { subnets: [this.vpc.selectSubnets(this.isolatedSubnets).subnets[0]] };
    for (const service of props.interfaceEndpoints ?? []) {
      const name = service.shortName.replace(/[^A-Za-z0-9]/g, '');
      const options = { service, privateDnsEnabled: true, securityGroups: [this.endpointSecurityGroup], open: false, subnets: endpointSubnets };
      const endpoint = this.createdVpc ? this.vpc.addInterfaceEndpoint(name, options) : new ec2.InterfaceVpcEndpoint(this, name, { vpc: this.vpc, ...options });
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
