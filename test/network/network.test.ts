import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Stack } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import { Network } from '../../lib';
import { estimateMonthlyCost } from '../../lib/cost';
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

  test('reaches S3 through a gateway endpoint and, by default, no service through an interface endpoint', () => {
    t().hasResourceProperties('AWS::EC2::VPCEndpoint', { VpcEndpointType: 'Gateway', ServiceName: Match.objectLike({ 'Fn::Join': Match.arrayWith([Match.arrayWith(['.s3'])]) }) });
    const iface = (Object.values(t().findResources('AWS::EC2::VPCEndpoint')) as any[]).filter((e) => e.Properties.VpcEndpointType === 'Interface');
    const services = iface.map((e) => JSON.stringify(e.Properties.ServiceName).match(/\.(states|sagemaker\.runtime|secretsmanager)"/)?.[1]).sort();
    // The functions in the VPC call no AWS API: the migrations sign an IAM database token locally, RDS
    // rotates its managed master secret, the bootstrap reads it from outside the VPC (Data API);
    // ingestion and Embed run outside the VPC (network.privateLinkForAwsApis: false)
    expect(services).toEqual([]);
    expect(iface).toEqual([]);
  });

  test('logs all traffic to an encrypted log group', () => {
    t().hasResourceProperties('AWS::EC2::FlowLog', { TrafficType: 'ALL', LogDestinationType: 'cloud-watch-logs' });
  });
});

test('Network refuses fewer than two AZs', () => {
  expect(() => new Network(new Stack(newApp(), 'S'), 'N', { maxAzs: 1 })).toThrow(/maxAzs must be at least 2 .* received 1/);
});

describe('network.privateLinkForAwsApis', () => {
  test('puts ingestion and Embed back in the VPC behind Step Functions and SageMaker runtime endpoints (and keeps Secrets Manager on PrivateLink), acknowledging nothing for them', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'privatelink-'));
    const file = path.join(dir, 'c.json');
    fs.writeFileSync(file, JSON.stringify({ network: { privateLinkForAwsApis: true } }));
    const s = synthStage('pilot', { configFile: file, alarmEmail: 'oncall@example.com' }, { rulePacks: true });
    const data = s.templates['docai-pilot-data'];
    const services = (Object.values(data.findResources('AWS::EC2::VPCEndpoint')) as any[]).filter((e) => e.Properties.VpcEndpointType === 'Interface')
      .map((e) => JSON.stringify(e.Properties.ServiceName).match(/\.(states|sagemaker\.runtime|secretsmanager)"/)?.[1]).sort();
    expect(services).toEqual(['sagemaker.runtime', 'secretsmanager', 'states']);
    // pilot: one AZ per endpoint (cheaper; production's interfaceEndpointsInEveryAz puts them in every AZ)
    for (const e of Object.values(data.findResources('AWS::EC2::VPCEndpoint')) as any[]) if (e.Properties.VpcEndpointType === 'Interface') expect(e.Properties.SubnetIds).toHaveLength(1);
    const fns = Object.entries(s.templates['docai-pilot-app'].findResources('AWS::Lambda::Function')).filter(([id]) => /^(IngestionFunction|PipelineEmbed)[A-F0-9]{8}$/.test(id));
    expect(fns).toHaveLength(2);
    for (const [, f] of fns) expect((f as any).Properties.VpcConfig).toBeDefined();
    expect(estimateMonthlyCost(s.config, { docsPerDay: 0 }).lines.find((l) => l.service === 'VPC')!.item).toBe('3 interface endpoints x 1 AZ');
  });
});
