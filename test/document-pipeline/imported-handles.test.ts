import { Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { DocumentPipeline, IntakeBucket, Network, VectorDatabase, WorkBucket } from '../../lib';
import { newApp } from '../helpers';

const KEY = (n: number) => `arn:aws:kms:eu-west-1:111122223333:key/${n}1111111-2222-3333-4444-555555555555`;

/**
 * A consumer composes the pipeline in its own VPC from resources deployed elsewhere, known only by
 * their attributes: every grant must name those resources exactly.
 */
describe('DocumentPipeline from imported handles in an existing VPC', () => {
  const stack = new Stack(newApp(), 'Consumer');
  const vpc = ec2.Vpc.fromVpcAttributes(stack, 'TheirVpc', {
    vpcId: 'vpc-0123456789abcdef0', vpcCidrBlock: '10.99.0.0/16', availabilityZones: ['eu-west-1a', 'eu-west-1b'],
    privateSubnetIds: ['subnet-a', 'subnet-b'], privateSubnetRouteTableIds: ['rtb-a', 'rtb-b'],
  });
  const network = new Network(stack, 'Network', { vpc, vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS } });
  const intake = IntakeBucket.fromIntakeBucketAttributes(stack, 'Intake', { bucketName: 'their-intake', encryptionKey: kms.Key.fromKeyArn(stack, 'IntakeKey', KEY(1)) });
  const work = WorkBucket.fromWorkBucketAttributes(stack, 'Work', { bucketName: 'their-work', encryptionKey: kms.Key.fromKeyArn(stack, 'WorkKey', KEY(2)), expiration: Duration.days(5) });
  const database = VectorDatabase.fromVectorDatabaseAttributes(stack, 'Db', {
    hostname: 'their-db.abc.eu-west-1.rds.amazonaws.com', port: 5433, databaseName: 'docai',
    clientSecurityGroup: ec2.SecurityGroup.fromSecurityGroupId(stack, 'DbClients', 'sg-0dbc11e475'), clusterResourceId: 'cluster-THEIRDB0123',
  });
  const placement = {
    vpc: network.vpc, vpcSubnets: network.isolatedSubnets, securityGroups: [], encryptionKey: new kms.Key(stack, 'AppKey'),
    logRetention: 365, deadLetterQueue: new sqs.Queue(stack, 'AsyncFailures'),
  };
  new DocumentPipeline(stack, 'Pipeline', { intake, database, workBucket: work, placement, embedding: { endpointName: 'their-embed', dimension: 768 } });
  const t = Template.fromStack(stack);
  const fns = t.findResources('AWS::Lambda::Function');
  const fn = (handler: string) => Object.entries(fns).find(([, f]: any) => f.Properties.Handler === `pipeline_handlers.${handler}`)! as [string, any];
  const statementsOf = (handler: string) => {
    const role = fn(handler)[1].Properties.Role['Fn::GetAtt'][0];
    return (Object.values(t.findResources('AWS::IAM::Policy')) as any[]).filter((p) => JSON.stringify(p.Properties.Roles).includes(role)).flatMap((p) => p.Properties.PolicyDocument.Statement);
  };
  const flat = (v: unknown) => JSON.stringify(v);

  test('Store connects to the imported database as the writer, from the given subnets with its client security group', () => {
    const [, store] = fn('store_handler');
    expect(store.Properties.VpcConfig.SubnetIds).toEqual(['subnet-a', 'subnet-b']);
    expect(store.Properties.VpcConfig.SecurityGroupIds).toEqual(['sg-0dbc11e475']);
    expect(store.Properties.Environment.Variables).toEqual(expect.objectContaining({ DB_HOST: 'their-db.abc.eu-west-1.rds.amazonaws.com', DB_PORT: '5433', DB_NAME: 'docai', DB_USER: 'docai_writer' }));
    const connect = statementsOf('store_handler').filter((s) => s.Action === 'rds-db:connect');
    expect(connect).toHaveLength(1);
    expect(flat(connect[0].Resource)).toContain(':dbuser:cluster-THEIRDB0123/docai_writer');
  });

  test('Validate reads documents of the imported intake bucket and decrypts them with its key, nothing broader', () => {
    const st = statementsOf('validate_handler');
    const read = st.find((s) => flat(s.Resource).includes('their-intake'));
    expect(read.Action).toEqual(['s3:GetObject', 's3:GetObjectVersion']);
    expect(flat(read.Resource)).toMatch(/:s3:::their-intake\/\*"/);
    expect(st.find((s) => s.Resource === KEY(1))).toEqual(expect.objectContaining({ Action: 'kms:Decrypt' }));
  });

  test('Extract writes only under runs/ of the imported work bucket, with a data key from its key', () => {
    const st = statementsOf('extract_handler');
    expect(flat(st.find((s) => flat(s.Resource).includes('their-work')).Resource)).toMatch(/:s3:::their-work\/runs\/\*"/);
    expect(st.find((s) => s.Resource === KEY(2))).toEqual(expect.objectContaining({ Action: ['kms:Decrypt', 'kms:GenerateDataKey'] }));
  });

  test('a work bucket that expires objects before a run can end is refused, also when imported', () => {
    const s = new Stack(newApp(), 'Short');
    const short = WorkBucket.fromWorkBucketAttributes(s, 'Work', { bucketName: 'their-short-work', encryptionKey: kms.Key.fromKeyArn(s, 'K', KEY(3)), expiration: Duration.days(2) });
    expect(() => new DocumentPipeline(s, 'P', { ...({} as any), workBucket: short })).toThrow(/the work bucket expires objects after 48 h, but a run can last 96 h/);
  });
});
