import { Stack } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import { Network } from '../../lib';
import { newApp, synthStage } from '../helpers';

describe.each(['pilot', 'production'])('network of the %s stage', (stage) => {
  const t = () => synthStage(stage).templates[`docai-${stage}-data`];

  test('has only isolated subnets: no NAT gateway, no internet gateway, no public IPs', () => {
    t().resourceCountIs('AWS::EC2::NatGateway', 0);
    t().resourceCountIs('AWS::EC2::InternetGateway', 0);
    t().resourceCountIs('AWS::EC2::EIP', 0);
    for (const s of Object.values(t().findResources('AWS::EC2::Subnet')) as any[]) expect(s.Properties.MapPublicIpOnLaunch).toBe(false);
    t().resourceCountIs('AWS::EC2::Subnet', 2);
  });

  test('reaches S3 through a gateway endpoint and only the needed services through interface endpoints', () => {
    t().hasResourceProperties('AWS::EC2::VPCEndpoint', { VpcEndpointType: 'Gateway', ServiceName: Match.objectLike({ 'Fn::Join': Match.arrayWith([Match.arrayWith(['.s3'])]) }) });
    const iface = (Object.values(t().findResources('AWS::EC2::VPCEndpoint')) as any[]).filter((e) => e.Properties.VpcEndpointType === 'Interface');
    const services = iface.map((e) => JSON.stringify(e.Properties.ServiceName).match(/\.(states|sagemaker\.runtime|secretsmanager)"/)?.[1]).sort();
    expect(services).toEqual(['sagemaker.runtime', 'secretsmanager', 'states']);
    // pilot: one AZ per endpoint (cheaper); production: every AZ
    for (const e of iface) expect(e.Properties.SubnetIds).toHaveLength(stage === 'pilot' ? 1 : 2);
  });

  test('logs all traffic to an encrypted log group', () => {
    t().hasResourceProperties('AWS::EC2::FlowLog', { TrafficType: 'ALL', LogDestinationType: 'cloud-watch-logs' });
  });
});

test('Network refuses fewer than two AZs', () => {
  expect(() => new Network(new Stack(newApp(), 'S'), 'N', { maxAzs: 1 })).toThrow(/maxAzs must be at least 2 .* received 1/);
});
