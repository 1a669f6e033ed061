import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { reviewCloudAssembly, reviewStack, securityReviewMarkdown } from '../../lib/review';
import { synthStage, validationReport } from '../helpers';

const cell = (s: string) => s.replace(/\|/g, '\\|');

describe('security review of the synthesized pilot', () => {
  // What `cdk synth` writes, copied elsewhere: the review must need nothing but the assembly.
  const synthesized = synthStage('pilot', { alarmEmail: 'oncall@example.com', 'aws:cdk:enable-path-metadata': true }, { rulePacks: true });
  const assembly = fs.mkdtempSync(path.join(os.tmpdir(), 'assembly-'));
  fs.cpSync(synthesized.outdir, assembly, { recursive: true });
  const review = reviewCloudAssembly(assembly);
  const md = securityReviewMarkdown(review);
  const lines = md.split('\n');
  const templates = Object.values(synthesized.templates).map((t) => t.toJSON());

  test('covers every stack, with its resources by type', () => {
    expect(review.stacks.map((s) => s.name).sort()).toEqual(Object.keys(synthesized.templates).sort());
    for (const s of review.stacks) {
      expect(md).toContain(`## Stack ${s.name}`);
      expect(s.resourcesByType.reduce((n, [, c]) => n + c, 0)).toBe(s.resourceCount);
    }
  });

  test('names every IAM role in the templates, with its statements', () => {
    const roleIds = templates.flatMap((t) => Object.entries<any>(t.Resources).filter(([, r]) => r.Type === 'AWS::IAM::Role').map(([id]) => id));
    expect(roleIds.length).toBeGreaterThan(10);
    for (const id of roleIds) expect(md).toContain(`(logical ID \`${id}\`)`);
    // every statement of an attached managed policy shows up under its role
    const storeRole = review.stacks.flatMap((s) => s.roles).find((r) => r.path === 'Pipeline/Store/ServiceRole')!;
    expect(storeRole.statements.map((s) => s.actions.join(','))).toEqual(expect.arrayContaining(['rds-db:connect']));
  });

  test('flags every statement that allows a wildcard resource', () => {
    const statements = review.stacks.flatMap((s) => s.roles.flatMap((r) => r.statements));
    const wildcard = statements.filter((s) => s.effect === 'Allow' && s.resources.includes('*'));
    expect(wildcard.length).toBeGreaterThan(0);
    for (const s of wildcard) expect(s.flags).toContain('wildcard resource (*)');
    expect(lines.some((l) => l.includes('xray:PutTelemetryRecords') && l.includes('**wildcard resource (*)**'))).toBe(true);
  });

  test('names every acknowledgement with its reason and the construct it sits on', () => {
    const acks = validationReport(synthesized.outdir).pluginReports.filter((p) => p.pluginName !== 'CloudFormation-Validate').flatMap((p) => p.suppressedViolations ?? []);
    expect(acks.length).toBeGreaterThan(50);
    expect(review.acknowledgements).toHaveLength(acks.length);
    for (const a of acks) {
      const row = lines.find((l) => l.includes(cell(a.ruleName)) && l.includes(`\`${a.acknowledgedAt}\``) && l.includes(cell(a.reason)));
      expect({ ack: a.acknowledgedId, at: a.acknowledgedAt, listed: !!row }).toEqual({ ack: a.acknowledgedId, at: a.acknowledgedAt, listed: true });
    }
  });

  test('lists encryption at rest for every data store, with the key', () => {
    const stores = review.stacks.flatMap((s) => s.encryption);
    const intake = stores.find((e) => e.path === 'Intake/Bucket')!;
    expect(intake).toMatchObject({ encryption: 'SSE-KMS (aws:kms)', key: '{Intake/Key.Arn}', customerManaged: true });
    expect(stores.find((e) => e.type === 'AWS::RDS::DBInstance')).toMatchObject({ key: '{VectorDb/Key.Arn}', customerManaged: true });
    // Not on a customer key, both acknowledged: the access-log bucket (S3 log delivery needs SSE-S3) and
    // the GPU endpoint config (instance types with NVMe instance storage refuse a KMS volume key).
    expect(stores.filter((e) => !e.customerManaged).map((e) => e.path).sort()).toEqual(['Embedding/Config', 'Intake/AccessLogs']);
    const dataStores = templates.flatMap((t) => Object.values<any>(t.Resources).filter((r) => /^AWS::(S3::Bucket|SQS::Queue|SNS::Topic|RDS::DBInstance|Logs::LogGroup|SecretsManager::Secret)$/.test(r.Type)));
    expect(stores.filter((e) => e.type !== 'AWS::Lambda::Function' && e.type !== 'AWS::StepFunctions::StateMachine' && e.type !== 'AWS::SageMaker::EndpointConfig')).toHaveLength(dataStores.length);
  });

  test('shows the network exposure: no internet path, ingress only from inside', () => {
    const net = review.stacks.find((s) => s.name === 'docai-pilot-data')!.network;
    expect(net).toMatchObject({ internetGateways: [], natGateways: [], publicSubnets: [], publicEndpoints: [] });
    expect(net.ingress.length).toBeGreaterThan(0);
    expect(net.ingress.filter((i) => i.open)).toEqual([]);
    expect(md).toMatch(/- internet gateways: none/);
  });

  test('includes the guard results and the readiness summary', () => {
    expect(review.guard).toMatchObject({ conclusion: 'success', open: [] });
    expect(md).toContain('## Control Tower guard results');
    expect(md).toMatch(/\| data \| \*\*partially ready\*\* \| DatabaseBackupsProduction \(warning\), DatabaseMultiAz \(warning\) \|/);
    expect(md).toMatch(/\| security-and-cost \| \*\*ready\*\* \| - \|/);
  });
});

describe('security review flags what a reviewer must look at', () => {
  const template = {
    Resources: {
      Role: { Type: 'AWS::IAM::Role', Properties: { AssumeRolePolicyDocument: { Statement: [{ Effect: 'Allow', Action: 'sts:AssumeRole', Principal: { Service: 'lambda.amazonaws.com' } }] } } },
      Policy: { Type: 'AWS::IAM::Policy', Properties: { Roles: [{ Ref: 'Role' }], PolicyDocument: { Statement: [
        { Effect: 'Allow', Action: 's3:*', Resource: '*' },
        { Effect: 'Allow', Action: 's3:GetObject', Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': ['Bucket', 'Arn'] }, '/*']] } },
        { Effect: 'Allow', Action: 'sqs:SendMessage', Resource: { 'Fn::GetAtt': ['Queue', 'Arn'] }, Condition: { Bool: { 'aws:SecureTransport': 'true' } } },
      ] } } },
      Bucket: { Type: 'AWS::S3::Bucket', Properties: {} },
      Queue: { Type: 'AWS::SQS::Queue', Properties: { KmsMasterKeyId: 'alias/aws/sqs' } },
      Igw: { Type: 'AWS::EC2::InternetGateway', Properties: {} },
      PublicSubnet: { Type: 'AWS::EC2::Subnet', Properties: { MapPublicIpOnLaunch: true } },
      Sg: { Type: 'AWS::EC2::SecurityGroup', Properties: { GroupDescription: 'web', SecurityGroupIngress: [{ IpProtocol: 'tcp', FromPort: 22, ToPort: 22, CidrIp: '0.0.0.0/0' }] } },
      Db: { Type: 'AWS::RDS::DBInstance', Properties: { PubliclyAccessible: true, StorageEncrypted: false } },
    },
  };
  const s = reviewStack('fixture', 'fixture.template.json', template);

  test('wildcard actions and resources are flagged; scoped statements are not', () => {
    const [all, objects, send] = s.roles[0].statements;
    expect(all.flags).toEqual(['wildcard action', 'wildcard resource (*)']);
    expect(objects).toMatchObject({ resources: ['{Bucket.Arn}/*'], flags: ['wildcard in resource'] });
    expect(send).toMatchObject({ flags: [], conditions: 'Bool aws:SecureTransport = true' });
  });

  test('data stores without a customer-managed key are marked', () => {
    expect(s.encryption.map((e) => [e.logicalId, e.customerManaged])).toEqual([['Bucket', false], ['Queue', false], ['Db', false]]);
  });

  test('internet gateways, public subnets, open ingress and public databases are listed', () => {
    expect(s.network.internetGateways).toEqual(['Igw']);
    expect(s.network.publicSubnets).toEqual(['PublicSubnet']);
    expect(s.network.ingress).toEqual([{ group: 'Sg', protocol: 'tcp', ports: '22', source: '0.0.0.0/0', description: undefined, open: true }]);
    expect(s.network.publicEndpoints).toEqual(['publicly accessible database Db']);
  });

  test('a directory that is not a cloud assembly is refused with the fix', () => {
    expect(() => reviewCloudAssembly(fs.mkdtempSync(path.join(os.tmpdir(), 'empty-')))).toThrow(/not a cloud assembly \(no manifest.json\): run "npx cdk synth" first/);
  });
});
