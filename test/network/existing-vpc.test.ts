import { Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Network } from '../../lib';
import { newApp } from '../helpers';

/** A VPC of the consumer's, known by its ids (what `Vpc.fromLookup` or a platform team's outputs give). */
function existingVpc(stack: Stack, zones = ['eu-west-1a', 'eu-west-1b']): ec2.IVpc {
  return ec2.Vpc.fromVpcAttributes(stack, 'TheirVpc', {
    vpcId: 'vpc-0123456789abcdef0',
    vpcCidrBlock: '10.99.0.0/16',
    availabilityZones: zones,
    privateSubnetIds: zones.map((_, i) => `subnet-private${i}`),
    privateSubnetRouteTableIds: zones.map((_, i) => `rtb-private${i}`),
    isolatedSubnetIds: zones.map((_, i) => `subnet-isolated${i}`),
    isolatedSubnetRouteTableIds: zones.map((_, i) => `rtb-isolated${i}`),
  });
}

describe('Network in an existing VPC', () => {
  const build = (props: Partial<ConstructorParameters<typeof Network>[2]> = {}) => {
    const stack = new Stack(newApp(), 'Consumer');
    const vpc = existingVpc(stack);
    const network = new Network(stack, 'Network', {
      vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      interfaceEndpoints: [ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER, ec2.InterfaceVpcEndpointAwsService.STEP_FUNCTIONS],
      ...props,
    });
    return { stack, vpc, network, t: Template.fromStack(stack) };
  };

  test('creates no VPC, subnet, route table or gateway: it uses the given VPC and subnets', () => {
    const { vpc, network, t } = build();
    for (const type of ['AWS::EC2::VPC', 'AWS::EC2::Subnet', 'AWS::EC2::RouteTable', 'AWS::EC2::InternetGateway', 'AWS::EC2::NatGateway']) t.resourceCountIs(type, 0);
    expect(network.vpc).toBe(vpc);
    expect(network.createdVpc).toBe(false);
    expect(vpc.selectSubnets(network.isolatedSubnets).subnetIds).toEqual(['subnet-private0', 'subnet-private1']);
    expect(network.cidr).toBe('10.99.0.0/16');
  });

  test('puts the interface endpoints into the given subnets of that VPC, behind the endpoint security group (HTTPS from the VPC range)', () => {
    const { t } = build();
    const iface = (Object.values(t.findResources('AWS::EC2::VPCEndpoint')) as any[]).filter((e) => e.Properties.VpcEndpointType === 'Interface');
    expect(iface).toHaveLength(2);
    for (const e of iface) {
      expect(e.Properties.VpcId).toBe('vpc-0123456789abcdef0');
      expect(e.Properties.SubnetIds).toEqual(['subnet-private0', 'subnet-private1']);
      expect(e.Properties.PrivateDnsEnabled).toBe(true);
      expect(e.Properties.SecurityGroupIds).toEqual([{ 'Fn::GetAtt': [expect.stringMatching(/^NetworkEndpointSg/), 'GroupId'] }]);
    }
    t.hasResourceProperties('AWS::EC2::SecurityGroup', {
      VpcId: 'vpc-0123456789abcdef0',
      SecurityGroupIngress: [Match.objectLike({ CidrIp: '10.99.0.0/16', FromPort: 443, ToPort: 443, IpProtocol: 'tcp' })],
    });
  });

  test('adds the S3 gateway endpoint to the route tables of the given subnets, and a flow log of all traffic of that VPC', () => {
    const { t } = build();
    t.hasResourceProperties('AWS::EC2::VPCEndpoint', { VpcEndpointType: 'Gateway', VpcId: 'vpc-0123456789abcdef0', RouteTableIds: ['rtb-private0', 'rtb-private1'] });
    t.hasResourceProperties('AWS::EC2::FlowLog', { ResourceId: 'vpc-0123456789abcdef0', ResourceType: 'VPC', TrafficType: 'ALL', LogDestinationType: 'cloud-watch-logs' });
    t.hasResourceProperties('AWS::Logs::LogGroup', { KmsKeyId: Match.anyValue() });
  });

  test('one endpoint subnet when interfaceEndpointsInEveryAz is false', () => {
    const { t } = build({ interfaceEndpointsInEveryAz: false });
    const iface = (Object.values(t.findResources('AWS::EC2::VPCEndpoint')) as any[]).filter((e) => e.Properties.VpcEndpointType === 'Interface');
    for (const e of iface) expect(e.Properties.SubnetIds).toEqual(['subnet-private0']);
  });

  test('s3GatewayEndpoint false and flowLogs false leave the owner\'s routing and logging alone', () => {
    const { network, t } = build({ s3GatewayEndpoint: false, flowLogs: false });
    expect((Object.values(t.findResources('AWS::EC2::VPCEndpoint')) as any[]).filter((e) => e.Properties.VpcEndpointType === 'Gateway')).toHaveLength(0);
    t.resourceCountIs('AWS::EC2::FlowLog', 0);
    t.resourceCountIs('AWS::Logs::LogGroup', 0);
    t.resourceCountIs('AWS::KMS::Key', 0);
    expect(network.flowLogGroup).toBeUndefined();
  });

  test('refuses props that only make sense for a VPC created here, and subnets in a single AZ', () => {
    const stack = new Stack(newApp(), 'Consumer');
    expect(() => new Network(stack, 'A', { vpc: existingVpc(stack), maxAzs: 3 })).toThrow(/maxAzs applies to a VPC created here/);
    const single = new Stack(newApp(), 'Single');
    expect(() => new Network(single, 'B', { vpc: existingVpc(single, ['eu-west-1a']) }))
      .toThrow(/vpcSubnets must select subnets in at least two AZs of the existing VPC .* selected 1/);
    const own = new Stack(newApp(), 'Own');
    expect(() => new Network(own, 'C', { vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED } })).toThrow(/vpcSubnets applies to an existing VPC/);
    expect(() => new Network(own, 'D', { s3GatewayEndpoint: false })).toThrow(/s3GatewayEndpoint: false applies to an existing VPC only/);
  });
});
