/**
 * `cdk destroy --all` and a rebuild, played over the synthesized templates of both stages
 * (lib/app/destroy-plan.ts): nothing kept points at something the destroy deletes, and the rebuild
 * does not collide with a kept name. The pilot redeploys with a plain deploy; production rebuilds
 * with `npm run deploy -- --rebuild` (restore from a snapshot, adopt keys, import kept named
 * resources) synthesized for its account and region, which makes the kept names static.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { destroyPlan, formatDestroyFinding } from '../../lib/app/destroy-plan';
import { synthStage } from '../helpers';

const templates = (s: ReturnType<typeof synthStage>) => Object.fromEntries(Object.entries(s.templates).map(([n, t]) => [n, t.toJSON()]));
const ENV = { account: '111122223333', region: 'eu-west-1', alarmEmail: 'oncall@example.com' };
const KEY = (n: number) => `arn:aws:kms:eu-west-1:111122223333:key/${String(n).repeat(8)}-2222-3333-4444-555555555555`;

function configFile(value: unknown): string {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'destroy-')), 'stage.json');
  fs.writeFileSync(file, JSON.stringify(value));
  return file;
}

describe('the pilot: destroy, then a plain deploy', () => {
  const pilot = templates(synthStage('pilot'));
  const plan = destroyPlan(pilot);

  test('nothing kept references a deleted resource, and the redeploy collides with nothing', () => {
    expect(plan.findings.map(formatDestroyFinding)).toEqual([]);
  });

  test('the locked audit trail is kept under a name of this deployment, its access-log bucket under a generated one; users are not', () => {
    const data = pilot['docai-pilot-data'].Resources;
    const kept = (prefix: string, type: string) => Object.entries<any>(data).filter(([k, r]) => k.startsWith(prefix) && r.Type === type).map(([, r]) => r);
    const [audit] = kept('AuditBucket', 'AWS::S3::Bucket');
    expect({ deletion: audit.DeletionPolicy, lock: audit.Properties.ObjectLockConfiguration.Rule.DefaultRetention.Mode }).toEqual({ deletion: 'Retain', lock: 'GOVERNANCE' });
    expect(JSON.stringify(audit.Properties.BucketName)).toContain('"AWS::StackId"');
    const [logs] = kept('IntakeAccessLogs', 'AWS::S3::Bucket');
    expect({ deletion: logs.DeletionPolicy, name: logs.Properties.BucketName }).toEqual({ deletion: 'Retain', name: undefined });
    const pool = Object.values<any>(pilot['docai-pilot-app'].Resources).find((r) => r.Type === 'AWS::Cognito::UserPool');
    expect({ deletion: pool.DeletionPolicy ?? 'Delete', protection: pool.Properties.DeletionProtection }).toEqual({ deletion: 'Delete', protection: 'INACTIVE' });
  });
});

describe('production: destroy, then npm run deploy -- --rebuild', () => {
  const before = templates(synthStage('production', ENV));
  const rebuild = { restoreFromSnapshot: 'docai-production-final', keys: { database: KEY(1), intake: KEY(2), audit: KEY(3) } };
  const after = templates(synthStage('production', { ...ENV, configFile: configFile({ rebuild }) }));
  const plan = destroyPlan(before, { rebuild: after, rebuildImports: true });
  const data = before['docai-production-data'].Resources;

  test('nothing kept references a deleted resource, and every kept name is imported by the rebuild', () => {
    expect(plan.findings.map(formatDestroyFinding)).toEqual([]);
  });

  test('the database is kept with what it runs on: its instances, VPC, subnets, security group, cluster parameter group, monitoring role (the master secret is RDS\'s own)', () => {
    const keptTypes = new Set(plan.kept.filter((k) => k.startsWith('docai-production-data/')).map((k) => k.match(/\[(.+)\]$/)![1]));
    for (const t of ['AWS::RDS::DBCluster', 'AWS::RDS::DBInstance', 'AWS::RDS::DBSubnetGroup', 'AWS::EC2::VPC', 'AWS::EC2::Subnet', 'AWS::EC2::SecurityGroup', 'AWS::RDS::DBClusterParameterGroup', 'AWS::IAM::Role']) {
      expect({ t, kept: keptTypes.has(t) }).toEqual({ t, kept: true });
    }
    const instances = Object.values<any>(data).filter((r) => r.Type === 'AWS::RDS::DBInstance');
    expect(instances.map((r) => r.DeletionPolicy)).toEqual(['Retain', 'Retain']);
    // only the monitoring role: roles of deleted functions go with them
    const roles = Object.entries<any>(data).filter(([, r]) => r.Type === 'AWS::IAM::Role' && r.DeletionPolicy === 'Retain').map(([k]) => k);
    expect(roles).toEqual([expect.stringMatching(/^VectorDbClusterMonitoringRole/)]);
  });

  test('the app stack\'s evidence is kept: its key and every log group (API access, WAF, function and pipeline logs)', () => {
    const app = before['docai-production-app'].Resources;
    const evidence = Object.entries<any>(app).filter(([, r]) => ['AWS::KMS::Key', 'AWS::Logs::LogGroup'].includes(r.Type));
    expect(evidence.map(([k]) => k)).toEqual(expect.arrayContaining([expect.stringMatching(/^AppKey/), expect.stringMatching(/^QueryAccessLogs/), expect.stringMatching(/^QueryWafLogs/), expect.stringMatching(/^PipelineLogs/)]));
    for (const [k] of evidence) expect({ k, kept: plan.kept.includes(`docai-production-app/${k} [${app[k].Type}]`) }).toEqual({ k, kept: true });
  });

  test('the restored database gets its own identifier, so it does not collide with the kept one', () => {
    const ids = (t: Record<string, any>) => Object.values<any>(t['docai-production-data'].Resources).filter((r) => r.Type === 'AWS::RDS::DBCluster').map((r) => r.Properties.DBClusterIdentifier);
    const [kept] = ids(before);
    const [restored] = ids(after);
    expect(restored).not.toBe(kept);
    expect(restored).toMatch(new RegExp(`^${kept}-r[0-9a-f]{6}$`));
    // its log group follows the identifier
    const logNames = Object.values<any>(after['docai-production-data'].Resources).filter((r) => r.Type === 'AWS::Logs::LogGroup').map((r) => r.Properties.LogGroupName).filter(Boolean);
    expect(logNames).toEqual(expect.arrayContaining([`/aws/rds/cluster/${restored}/postgresql`]));
  });

  test('an environment-agnostic rebuild cannot import the kept buckets (their names are Fn::Join): the check sees it', () => {
    const agnostic = templates(synthStage('production'));
    const found = destroyPlan(agnostic, { rebuildImports: true }).findings.filter((f) => f.kind === 'rebuild collides with a kept name');
    // (no capture bucket: data capture is opt-in, issue 25)
    expect(found.map((f) => f.logicalId)).toEqual(expect.arrayContaining([expect.stringMatching(/^IntakeBucket/)]));
  });
});

describe('the README says what a destroy keeps', () => {
  test('its table lists exactly the kinds each stage keeps', () => {
    const readme = fs.readFileSync(path.join(__dirname, '..', '..', 'README.md'), 'utf8');
    const section = readme.split('## What a destroy keeps')[1].split('\n## ')[0];
    for (const stage of ['pilot', 'production']) {
      const row = section.split('\n').find((l) => l.startsWith(`| ${stage} |`))!;
      const documented = [...row.matchAll(/`([A-Za-z0-9:]+)`/g)].map((m) => m[1]).sort();
      const kept = [...new Set(destroyPlan(templates(synthStage(stage))).kept.map((k) => k.match(/\[(.+)\]$/)![1]))].sort();
      expect({ stage, documented }).toEqual({ stage, documented: kept });
    }
  });
});

describe('the check itself, on small templates', () => {
  const kept = (props: unknown, type = 'AWS::RDS::DBInstance') => ({ Type: type, DeletionPolicy: 'Retain', Properties: props });

  test('Ref, GetAtt, Sub and references through another stack\'s outputs are followed', () => {
    const plan = destroyPlan({
      data: {
        Resources: {
          Db: kept({ A: { Ref: 'Sg' }, B: { 'Fn::GetAtt': ['Role', 'Arn'] }, C: { 'Fn::Sub': 'x-${Secret}-${AWS::Region}' }, D: { 'Fn::Sub': ['${V}', { V: 'lit' }] } }),
          Sg: { Type: 'AWS::EC2::SecurityGroup' }, Role: { Type: 'AWS::IAM::Role' }, Secret: { Type: 'AWS::SecretsManager::Secret' },
        },
      },
      other: {
        Resources: { Topic: { Type: 'AWS::SNS::Topic' } },
        Outputs: { TopicArn: { Value: { Ref: 'Topic' }, Export: { Name: 'other:TopicArn' } }, Weak: { Value: { Ref: 'Topic' } } },
      },
      consumer: {
        Resources: {
          Alarm: kept({ Actions: [{ 'Fn::ImportValue': 'other:TopicArn' }] }, 'AWS::CloudWatch::Alarm'),
          Bucket: kept({ N: { 'Fn::GetStackOutput': { StackName: 'other', OutputName: 'Weak' } } }, 'AWS::S3::Bucket'),
        },
      },
    });
    expect(plan.findings.map((f) => `${f.logicalId} -> ${f.target?.stack}/${f.target?.logicalId}`).sort()).toEqual(['Alarm -> other/Topic', 'Bucket -> other/Topic', 'Db -> data/Role', 'Db -> data/Secret', 'Db -> data/Sg']);
  });

  test('a kept reference to a kept resource is fine; a kept custom name collides unless imported with a static name', () => {
    const t = { s: { Resources: { B: kept({ BucketName: 'acme-docs', LoggingConfiguration: { DestinationBucketName: { Ref: 'L' } } }, 'AWS::S3::Bucket'), L: kept({}, 'AWS::S3::Bucket') } } };
    expect(destroyPlan(t).findings.map((f) => f.kind)).toEqual(['rebuild collides with a kept name']);
    expect(destroyPlan(t, { rebuildImports: true }).findings).toEqual([]);
    const dynamic = { s: { Resources: { B: kept({ BucketName: { 'Fn::Join': ['', ['acme-', { Ref: 'AWS::AccountId' }]] } }, 'AWS::S3::Bucket') } } };
    expect(destroyPlan(dynamic, { rebuildImports: true }).findings.map((f) => f.kind)).toEqual(['rebuild collides with a kept name']);
  });

  test('a deleted bucket with a default Object Lock retention cannot be deleted; a guardrail version goes with its guardrail', () => {
    const locked = { s: { Resources: { B: { Type: 'AWS::S3::Bucket', Properties: { ObjectLockEnabled: true, ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: { Mode: 'GOVERNANCE', Days: 1 } } } } } } } };
    expect(destroyPlan(locked).findings.map((f) => f.kind)).toEqual(['deletion fails']);
    const guardrail = { s: { Resources: { V: kept({ GuardrailIdentifier: { Ref: 'G' } }, 'AWS::Bedrock::GuardrailVersion'), G: { Type: 'AWS::Bedrock::Guardrail' } } } };
    expect(destroyPlan(guardrail).findings).toEqual([]);
  });
});
