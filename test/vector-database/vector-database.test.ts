import { Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { VectorDatabase } from '../../lib';
import { newApp, synthStage } from '../helpers';

const cluster = (t: Template) => {
  const all = Object.values(t.findResources('AWS::RDS::DBCluster')) as any[];
  expect(all).toHaveLength(1);
  return all[0];
};
const instances = (t: Template) => (Object.entries(t.findResources('AWS::RDS::DBInstance')) as [string, any][]);
const fn = (t: Template, handler: string) => (Object.values(t.findResources('AWS::Lambda::Function')) as any[]).find((f) => f.Properties.Handler === handler);
const statements = (t: Template, roleRef: string) => ([...Object.values(t.findResources('AWS::IAM::Policy')), ...Object.values(t.findResources('AWS::IAM::ManagedPolicy'))] as any[])
  .filter((p) => JSON.stringify(p.Properties.Roles).includes(roleRef)).flatMap((p) => p.Properties.PolicyDocument.Statement);

describe.each(['pilot', 'production'])('vector database of the %s stage', (stage) => {
  const t = () => synthStage(stage).templates[`docai-${stage}-data`];
  const config = () => synthStage(stage).config;

  test('acknowledgement reasons say what a stack deletion keeps: a final snapshot only where the removal policy takes one', () => {
    // the rule packs copy each acknowledgement and its reason into the template (writeSuppressionsToCloudFormation)
    const resources = Object.values(synthStage(stage, {}, { rulePacks: true }).templates[`docai-${stage}-data`].toJSON().Resources) as any[];
    const db = resources.filter((r) => r.Type === 'AWS::RDS::DBCluster' || r.Type === 'AWS::RDS::DBInstance');
    const reasons = db.flatMap((r) => JSON.stringify(r.Metadata ?? {}).match(/kept after deletion[^"]*/g) ?? []);
    expect(reasons.length).toBeGreaterThan(0);
    const snapshots = db.every((r) => r.DeletionPolicy === 'Snapshot');
    for (const reason of reasons) expect(/final snapshot taken on delete/.test(reason)).toBe(snapshots);
  });

  test('is Aurora PostgreSQL Serverless v2, encrypted with a customer key, IAM-authenticated, private and TLS-only', () => {
    const p = cluster(t()).Properties;
    expect(p.Engine).toBe('aurora-postgresql');
    expect(Number(p.EngineVersion.split('.')[0])).toBeGreaterThanOrEqual(17);
    expect(p.StorageEncrypted).toBe(true);
    expect(p.KmsKeyId).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^VectorDbKey/), 'Arn'] });
    expect(p.EnableIAMDatabaseAuthentication).toBe(true);
    expect(p.Port).toBe(5433);
    expect(p.PerformanceInsightsKmsKeyId).toBeDefined();
    expect(p.EnableCloudwatchLogsExports).toEqual(['postgresql']);
    for (const [, i] of instances(t())) {
      expect(i.Properties).toEqual(expect.objectContaining({ DBInstanceClass: 'db.serverless', Engine: 'aurora-postgresql', PubliclyAccessible: false, DBClusterIdentifier: { Ref: expect.stringMatching(/^VectorDbCluster/) } }));
    }
    t().hasResourceProperties('AWS::RDS::DBClusterParameterGroup', { Family: 'aurora-postgresql17', Parameters: Match.objectLike({ 'rds.force_ssl': '1' }) });
    // Nothing that keeps a paused instance awake (auto-pause page: logical replication, RDS Proxy, zero-ETL, global database).
    expect(JSON.stringify(t().toJSON())).not.toMatch(/rds\.logical_replication|AWS::RDS::DBProxy|AWS::RDS::Integration|AWS::RDS::GlobalCluster/);
  });

  test('logs slow statements without their bind parameters (no chunk text in the PostgreSQL log)', () => {
    t().hasResourceProperties('AWS::RDS::DBClusterParameterGroup', { Parameters: Match.objectLike({ log_parameter_max_length: '0', log_min_duration_statement: '1000' }) });
  });

  test('capacity from the stage config: the pilot pauses at 0 ACU with a writer only; production never pauses and has a tier-1 reader in a second AZ', () => {
    const d = config().database;
    const scaling = cluster(t()).Properties.ServerlessV2ScalingConfiguration;
    expect(scaling.MinCapacity).toBe(d.minCapacityAcu);
    expect(scaling.MaxCapacity).toBe(d.maxCapacityAcu);
    const all = instances(t()).map(([, i]) => i.Properties);
    expect(all).toHaveLength(1 + d.readers);
    const writer = all.find((i) => i.PromotionTier === 0);
    expect(writer.AvailabilityZone).toEqual({ 'Fn::Select': [0, { 'Fn::GetAZs': '' }] });
    if (stage === 'pilot') {
      expect(scaling).toEqual({ MinCapacity: 0, MaxCapacity: d.maxCapacityAcu, SecondsUntilAutoPause: 600 });
      expect(all).toHaveLength(1);
    } else {
      expect(scaling.MinCapacity).toBeGreaterThan(0);
      expect(scaling.SecondsUntilAutoPause).toBeUndefined();
      const readers = all.filter((i) => i !== writer);
      expect(readers).toHaveLength(1);
      expect(readers[0].PromotionTier).toBe(1);
      expect(readers[0].AvailabilityZone).toEqual({ 'Fn::Select': [1, { 'Fn::GetAZs': '' }] });
    }
  });

  test('lives in the isolated subnets', () => {
    const group = Object.values(t().findResources('AWS::RDS::DBSubnetGroup'))[0] as any;
    for (const s of group.Properties.SubnetIds) expect(s.Ref).toMatch(/^NetworkVpcisolatedSubnet/);
  });

  test('admits only its client security group, on the database port (no rotation function any more)', () => {
    const dbSg = cluster(t()).Properties.VpcSecurityGroupIds[0]['Fn::GetAtt'][0];
    const ingress = (Object.values(t().findResources('AWS::EC2::SecurityGroupIngress')) as any[]).filter((r) => r.Properties.GroupId['Fn::GetAtt'][0] === dbSg);
    expect(ingress.map((r) => [r.Properties.FromPort, r.Properties.ToPort, r.Properties.SourceSecurityGroupId['Fn::GetAtt'][0]])).toEqual([[5433, 5433, expect.stringMatching(/^VectorDbClientSg/)]]);
    const sg = t().toJSON().Resources[dbSg];
    expect(sg.Properties.SecurityGroupIngress ?? []).toEqual([]);
    expect(Object.keys(t().findResources('AWS::Serverless::Application'))).toEqual([]);
    expect(Object.keys(t().findResources('AWS::SecretsManager::RotationSchedule'))).toEqual([]);
  });

  test('keeps backups for the stage retention; production adds deletion protection and retention', () => {
    const r = cluster(t());
    expect(r.Properties.BackupRetentionPeriod).toBe(config().database.backupRetentionDays);
    expect(r.Properties.DeleteAutomatedBackups).toBe(false);
    if (stage === 'production') {
      expect(r.Properties.BackupRetentionPeriod).toBe(35);
      expect(r.Properties.DeletionProtection).toBe(true);
      expect(r.DeletionPolicy).toBe('Retain');
    } else {
      expect(r.Properties.BackupRetentionPeriod).toBe(7);
      expect(r.Properties.DeletionProtection).toBe(false);
      expect(r.DeletionPolicy).toBe('Delete');
    }
  });

  test('the master password is RDS-managed under the database key: no secret of ours, no rotation', () => {
    const p = cluster(t()).Properties;
    expect(p.ManageMasterUserPassword).toBe(true);
    expect(p.MasterUserSecret).toEqual({ KmsKeyId: { 'Fn::GetAtt': [expect.stringMatching(/^VectorDbKey/), 'Arn'] } });
    expect(p.MasterUserPassword).toBeUndefined();
    expect(Object.keys(t().findResources('AWS::SecretsManager::Secret'))).toEqual([]);
  });

  test('the bootstrap runs outside the VPC and may only run SQL on this cluster through the Data API, with the managed secret', () => {
    expect(cluster(t()).Properties.EnableHttpEndpoint).toBe(true);
    const f = fn(t(), 'bootstrap_handler.handler');
    expect(f.Properties.VpcConfig).toBeUndefined();
    expect(f.Properties.Environment.Variables).toEqual(expect.objectContaining({
      DB_CLUSTER_ARN: expect.anything(), DB_SECRET_ARN: { 'Fn::GetAtt': [expect.stringMatching(/^VectorDbCluster/), 'MasterUserSecret.SecretArn'] }, DB_NAME: 'docai', DB_USER: 'docai_migrator',
    }));
    const role = f.Properties.Role['Fn::GetAtt'][0];
    // Besides what every function has (X-Ray, its dead-letter queue):
    const own = statements(t(), role).filter((s) => !/^(xray:|sqs:SendMessage)/.test([s.Action].flat()[0]));
    expect(own.map((s) => [s.Action].flat().sort())).toEqual(expect.arrayContaining([['rds-data:ExecuteStatement'], ['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue'], ['kms:Decrypt']]));
    expect(own).toHaveLength(3);
    const dataApi = own.find((s) => s.Action === 'rds-data:ExecuteStatement');
    expect(JSON.stringify(dataApi.Resource)).toMatch(/:cluster:/);
    const kmsStatement = own.find((s) => s.Action === 'kms:Decrypt');
    expect(kmsStatement.Condition.StringEquals['kms:ViaService']).toEqual({ 'Fn::Join': ['', ['secretsmanager.', { Ref: 'AWS::Region' }, '.amazonaws.com']] });
    const bootstrap = Object.values(t().findResources('Custom::DocaiDatabaseBootstrap')) as any[];
    expect(bootstrap).toHaveLength(1);
    // after the writer exists: the Data API needs a running instance
    const writerId = instances(t()).find(([, i]) => i.Properties.PromotionTier === 0)![0];
    expect(bootstrap[0].DependsOn).toEqual(expect.arrayContaining([writerId]));
  });

  test('applies the migrations after the bootstrap, inside the VPC, as docai_migrator with IAM authentication and without the master secret', () => {
    t().hasResourceProperties('Custom::DocaiSchemaMigrations', {
      EMBEDDING_DIMENSION: String(config().embedding.dimension),
      HNSW_M: '16',
      HNSW_EF_CONSTRUCTION: '64',
      SqlHash: Match.stringLikeRegexp('^[0-9a-f]{16}$'),
      ServiceToken: { 'Fn::GetAtt': [Match.stringLikeRegexp('^VectorDbMigrations'), 'Arn'] },
    });
    const [migrations] = Object.values(t().findResources('Custom::DocaiSchemaMigrations')) as any[];
    expect(migrations.DependsOn).toEqual(expect.arrayContaining([expect.stringMatching(/^VectorDbBootstrapResource/)]));
    const f = fn(t(), 'migrations_handler.handler');
    expect(f.Properties.VpcConfig.SecurityGroupIds).toEqual(expect.arrayContaining([{ 'Fn::GetAtt': [expect.stringMatching(/^VectorDbClientSg/), 'GroupId'] }]));
    const env = f.Properties.Environment.Variables;
    expect(env).toEqual(expect.objectContaining({ DB_USER: 'docai_migrator', DB_PORT: '5433', DB_NAME: 'docai', DB_HOST: { 'Fn::GetAtt': [expect.stringMatching(/^VectorDbCluster/), 'Endpoint.Address'] } }));
    expect(env.DB_SECRET_ARN).toBeUndefined();
    const own = statements(t(), f.Properties.Role['Fn::GetAtt'][0]);
    expect(JSON.stringify(own)).not.toMatch(/secretsmanager:|kms:Decrypt/);
    const connect = own.find((s) => s.Action === 'rds-db:connect');
    expect(JSON.stringify(connect.Resource)).toMatch(/dbuser:.*DBClusterResourceId.*\/docai_migrator/);
  });

  test('writes PostgreSQL logs to an encrypted log group with retention, named for the cluster', () => {
    const groups = (Object.values(t().findResources('AWS::Logs::LogGroup')) as any[]).filter((g) => JSON.stringify(g.Properties.LogGroupName ?? '').includes('/aws/rds/'));
    expect(groups.map((g) => g.Properties.LogGroupName)).toEqual([`/aws/rds/cluster/${cluster(t()).Properties.DBClusterIdentifier}/postgresql`]);
    for (const g of groups) expect(g.Properties).toEqual(expect.objectContaining({ KmsKeyId: expect.anything(), RetentionInDays: 365 }));
  });
});

describe('VectorDatabase props', () => {
  const make = (extra: object) => {
    const s = new Stack(newApp(), 'S');
    const vpc = new ec2.Vpc(s, 'V', { natGateways: 0, maxAzs: 2, subnetConfiguration: [{ name: 'i', subnetType: ec2.SubnetType.PRIVATE_ISOLATED }] });
    const key = new kms.Key(s, 'K');
    const placement = { vpc, vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED }, securityGroups: [], encryptionKey: key, logRetention: 365, deadLetterQueue: new sqs.Queue(s, 'Q') };
    return new VectorDatabase(s, 'Db', { vpc, migrationsPlacement: placement, embeddingDimension: 768, ...extra });
  };

  test('has a reader in another AZ and deletion protection unless told otherwise, and never pauses by default', () => {
    const t = Template.fromStack(Stack.of(make({})));
    const r = cluster(t);
    expect(r.Properties.DeletionProtection).toBe(true);
    expect(r.DeletionPolicy).toBe('Snapshot');
    expect(r.Properties.ServerlessV2ScalingConfiguration.MinCapacity).toBe(0.5);
    const azs = instances(t).map(([, i]) => JSON.stringify(i.Properties.AvailabilityZone));
    expect(azs).toHaveLength(2);
    expect(new Set(azs).size).toBe(2);
  });

  test('rejects a dimension pgvector cannot index, bad HNSW settings and capacities Aurora refuses', () => {
    expect(() => make({ embeddingDimension: 4096 })).toThrow(/embeddingDimension must be a whole number from 1 to 2000.*received 4096/);
    expect(() => make({ hnsw: { m: 16, efConstruction: 8 } })).toThrow(/efConstruction must be at least 2 \* m \(32\), received 8/);
    expect(() => make({ minCapacityAcu: 0.3 })).toThrow(/minCapacityAcu must be 0 to 256 in steps of 0.5, received 0.3/);
    expect(() => make({ minCapacityAcu: 4, maxCapacityAcu: 2 })).toThrow(/maxCapacityAcu must be 1 to 256 in steps of 0.5 and at least minCapacityAcu \(4\), received 2/);
    expect(() => make({ readers: 16 })).toThrow(/readers must be a whole number from 0 to 15, received 16/);
  });
});
