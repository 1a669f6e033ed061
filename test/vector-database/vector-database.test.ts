import { Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { VectorDatabase } from '../../lib';
import { newApp, synthStage } from '../helpers';

const db = (t: Template) => Object.values(t.findResources('AWS::RDS::DBInstance'))[0] as any;

describe.each(['pilot', 'production'])('vector database of the %s stage', (stage) => {
  const t = () => synthStage(stage).templates[`docai-${stage}-data`];
  const config = () => synthStage(stage).config;

  test('is encrypted with a customer key, IAM-authenticated, private and TLS-only', () => {
    const p = db(t()).Properties;
    expect(p.StorageEncrypted).toBe(true);
    expect(p.KmsKeyId).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^VectorDbKey/), 'Arn'] });
    expect(p.EnableIAMDatabaseAuthentication).toBe(true);
    expect(p.PubliclyAccessible).toBe(false);
    expect(p.Engine).toBe('postgres');
    expect(Number(p.EngineVersion.split('.')[0])).toBeGreaterThanOrEqual(16);
    expect(p.Port).toBe('5433');
    t().hasResourceProperties('AWS::RDS::DBParameterGroup', { Parameters: Match.objectLike({ 'rds.force_ssl': '1' }) });
    expect(p.PerformanceInsightsKMSKeyId).toBeDefined();
    expect(p.EnableCloudwatchLogsExports).toEqual(['postgresql', 'upgrade']);
  });

  test('lives in the isolated subnets', () => {
    const group = Object.values(t().findResources('AWS::RDS::DBSubnetGroup'))[0] as any;
    for (const s of group.Properties.SubnetIds) expect(s.Ref).toMatch(/^NetworkVpcisolatedSubnet/);
  });

  test('admits only its client security group, on the database port', () => {
    const dbSg = db(t()).Properties.VPCSecurityGroups[0]['Fn::GetAtt'][0];
    const ingress = (Object.values(t().findResources('AWS::EC2::SecurityGroupIngress')) as any[]).filter((r) => r.Properties.GroupId['Fn::GetAtt'][0] === dbSg);
    expect(ingress.map((r) => [r.Properties.FromPort, r.Properties.ToPort, r.Properties.SourceSecurityGroupId['Fn::GetAtt'][0]]).sort()).toEqual(
      [[5433, 5433, expect.stringMatching(/^VectorDbClientSg/)], [5433, 5433, expect.stringMatching(/^VectorDbRotation/)]].sort(),
    );
    const sg = t().toJSON().Resources[dbSg];
    expect(sg.Properties.SecurityGroupIngress ?? []).toEqual([]);
  });

  test('keeps backups for the stage retention; production adds Multi-AZ, deletion protection and retention', () => {
    const r = db(t());
    expect(r.Properties.BackupRetentionPeriod).toBe(config().database.backupRetentionDays);
    expect(r.Properties.DBInstanceClass).toBe(config().database.instanceClass);
    if (stage === 'production') {
      expect(r.Properties.BackupRetentionPeriod).toBe(35);
      expect(r.Properties.MultiAZ).toBe(true);
      expect(r.Properties.DeletionProtection).toBe(true);
      expect(r.DeletionPolicy).toBe('Retain');
    } else {
      expect(r.Properties.BackupRetentionPeriod).toBe(7);
      expect(r.Properties.MultiAZ).toBe(false);
      expect(r.Properties.DeletionProtection).toBe(false);
      expect(r.DeletionPolicy).toBe('Delete');
    }
  });

  test('generates the master secret with the customer key and rotates it', () => {
    t().hasResourceProperties('AWS::SecretsManager::Secret', { KmsKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^VectorDbKey'), 'Arn'] } });
    t().hasResourceProperties('AWS::SecretsManager::RotationSchedule', { RotationRules: { ScheduleExpression: 'rate(30 days)' } });
  });

  test('applies the migrations with the configured dimension, from a function inside the VPC', () => {
    t().hasResourceProperties('Custom::DocaiSchemaMigrations', {
      EMBEDDING_DIMENSION: String(config().embedding.dimension),
      HNSW_M: '16',
      HNSW_EF_CONSTRUCTION: '64',
      SqlHash: Match.stringLikeRegexp('^[0-9a-f]{16}$'),
      ServiceToken: { 'Fn::GetAtt': [Match.stringLikeRegexp('^VectorDbMigrations'), 'Arn'] },
    });
    t().hasResourceProperties('AWS::Lambda::Function', {
      Handler: 'migrations_handler.handler',
      VpcConfig: { SecurityGroupIds: Match.arrayWith([{ 'Fn::GetAtt': [Match.stringLikeRegexp('^VectorDbClientSg'), 'GroupId'] }]), SubnetIds: Match.anyValue() },
    });
  });

  test('writes PostgreSQL logs to encrypted log groups with retention', () => {
    const groups = (Object.values(t().findResources('AWS::Logs::LogGroup')) as any[]).filter((g) => JSON.stringify(g.Properties.LogGroupName ?? '').includes('/aws/rds/instance/'));
    expect(groups).toHaveLength(2);
    for (const g of groups) expect(g.Properties).toEqual(expect.objectContaining({ KmsKeyId: expect.anything(), RetentionInDays: 365 }));
  });
});

describe('VectorDatabase props', () => {
  const make = (extra: object) => {
    const s = new Stack(newApp(), 'S');
    const vpc = new ec2.Vpc(s, 'V', { natGateways: 0, subnetConfiguration: [{ name: 'i', subnetType: ec2.SubnetType.PRIVATE_ISOLATED }] });
    const key = new kms.Key(s, 'K');
    const placement = { vpc, vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED }, securityGroups: [], encryptionKey: key, logRetention: 365, deadLetterQueue: new sqs.Queue(s, 'Q') };
    return new VectorDatabase(s, 'Db', { vpc, migrationsPlacement: placement, embeddingDimension: 768, ...extra });
  };

  test('is Multi-AZ with deletion protection unless told otherwise', () => {
    const d = make({});
    const r = db(Template.fromStack(Stack.of(d)));
    expect(r.Properties.MultiAZ).toBe(true);
    expect(r.Properties.DeletionProtection).toBe(true);
    expect(r.DeletionPolicy).toBe('Snapshot');
  });

  test('rejects a dimension pgvector cannot index and bad HNSW settings', () => {
    expect(() => make({ embeddingDimension: 4096 })).toThrow(/embeddingDimension must be a whole number from 1 to 2000.*received 4096/);
    expect(() => make({ hnsw: { m: 16, efConstruction: 8 } })).toThrow(/efConstruction must be at least 2 \* m \(32\), received 8/);
  });
});
