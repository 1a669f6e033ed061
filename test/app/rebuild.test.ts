/**
 * Rebuilding production after its data stack is lost: restore the database from a snapshot, adopt
 * the retained keys, import the retained fixed-name resources, and make every consumer stack read
 * the rebuilt producer's outputs again.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { configFor, synthStage } from '../helpers';

const ROOT = path.join(__dirname, '..', '..');
const KEY = (n: number) => `arn:aws:kms:eu-west-1:111122223333:key/${String(n).repeat(8)}-2222-3333-4444-555555555555`;
const IDENTITY = { alarmEmail: 'oncall@example.com' };

function configFile(value: unknown): string {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'rebuild-')), 'stage.json');
  fs.writeFileSync(file, JSON.stringify(value));
  return file;
}

describe('restore from snapshot and adopt retained keys', () => {
  const rebuild = { restoreFromSnapshot: 'docai-production-final', keys: { database: KEY(1), intake: KEY(2), operations: KEY(3) } };
  // every rule pack: a restored database must still pass them, with reasons where the template cannot say
  const rebuilt = synthStage('production', { ...IDENTITY, configFile: configFile({ rebuild }) }, { rulePacks: true });
  const fresh = synthStage('production', IDENTITY);
  const data = (s: typeof fresh) => s.templates['docai-production-data'].toJSON();

  test('the cluster is created from the snapshot, under the same logical ids, with the RDS-managed secret on the adopted key', () => {
    const of = (s: typeof fresh, type: string) => Object.entries<any>(data(s).Resources).filter(([, r]) => r.Type === type);
    const [[id, db]] = of(rebuilt, 'AWS::RDS::DBCluster');
    expect(of(fresh, 'AWS::RDS::DBCluster')[0][0]).toBe(id);
    expect(of(rebuilt, 'AWS::RDS::DBInstance').map(([k]) => k).sort()).toEqual(of(fresh, 'AWS::RDS::DBInstance').map(([k]) => k).sort());
    expect(db.Properties).toMatchObject({ SnapshotIdentifier: 'docai-production-final', DeletionProtection: true, ManageMasterUserPassword: true, MasterUserSecret: { KmsKeyId: KEY(1) }, EnableHttpEndpoint: true });
    // name, storage encryption and its key come from the snapshot
    for (const inherited of ['DatabaseName', 'StorageEncrypted', 'KmsKeyId', 'MasterUserPassword']) expect(db.Properties[inherited]).toBeUndefined();
    expect(of(rebuilt, 'AWS::SecretsManager::Secret')).toEqual([]);
    expect(db.Properties.PerformanceInsightsKmsKeyId).toBe(KEY(1));
  });

  test('adopted keys are used, not created; the keys not named are created as before', () => {
    const keys = (s: typeof fresh) => Object.keys(data(s).Resources).filter((k) => data(s).Resources[k].Type === 'AWS::KMS::Key').sort();
    expect(keys(fresh)).toEqual(expect.arrayContaining(['IntakeKey85B4ACCD', 'VectorDbKeyEBE59E18', 'OperationsKey2329F47A']));
    expect(keys(rebuilt)).toEqual(keys(fresh).filter((k) => !['IntakeKey85B4ACCD', 'VectorDbKeyEBE59E18', 'OperationsKey2329F47A'].includes(k)));
    // the adopted logs key encrypts the flow logs and the migrations function's logs
    const logGroups = Object.entries<any>(data(rebuilt).Resources).filter(([k, r]) => r.Type === 'AWS::Logs::LogGroup' && /^(NetworkFlowLogs|VectorDbMigrationsLogs)/.test(k));
    expect(logGroups).toHaveLength(2);
    for (const [, g] of logGroups) expect(g.Properties.KmsKeyId).toBe(KEY(3));
    const bucket = Object.entries<any>(data(rebuilt).Resources).find(([k]) => k.startsWith('IntakeBucket') && data(rebuilt).Resources[k].Type === 'AWS::S3::Bucket')![1];
    expect(JSON.stringify(bucket.Properties.BucketEncryption)).toContain(KEY(2));
    // the fixed names the import matches on are unchanged, but for the restored database's: the kept
    // cluster may still hold its identifier (test/app/destroy-rebuild.test.ts)
    const names = (s: typeof fresh) => Object.values<any>(data(s).Resources).map((r) => r.Properties?.BucketName ?? r.Properties?.LogGroupName ?? r.Properties?.DBClusterIdentifier).filter(Boolean)
      .map((n) => JSON.stringify(n).replace(/-r[0-9a-f]{6}(?=[/"])/, ''));
    expect(names(rebuilt)).toEqual(names(fresh));
  });

  test('the restored database is acknowledged for the encryption the snapshot carries, with the snapshot named in the reason', () => {
    const pack = JSON.parse(fs.readFileSync(path.join(rebuilt.outdir, 'validation-report.json'), 'utf8')).pluginReports as any[];
    const onDb = pack.flatMap((p) => p.suppressedViolations ?? []).filter((v: any) => v.acknowledgedAt.endsWith('VectorDb/Cluster') || v.acknowledgedAt.endsWith('VectorDb/Cluster/Resource'));
    expect(onDb.map((v: any) => v.reason)).toEqual(expect.arrayContaining([expect.stringContaining('Restored from snapshot docai-production-final')]));
  });

  test('a restore without the snapshot key, a bad ARN or an unknown key name fails with the fix', () => {
    const problems = (rb: unknown) => {
      try {
        configFor('production', { configFile: configFile({ rebuild: rb }) });
      } catch (e) {
        return (e as Error).message;
      }
      return '';
    };
    expect(problems({ restoreFromSnapshot: 'docai-production-final' })).toMatch(/set rebuild\.keys\.database to the KMS key the snapshot is encrypted with/);
    expect(problems({ keys: { database: 'alias/docai' } })).toMatch(/rebuild\.keys\.database: received "alias\/docai"; expected a KMS key ARN/);
    expect(problems({ keys: { intakeBucket: KEY(1) } })).toMatch(/rebuild\.keys: unknown key "intakeBucket"; did you mean "intake"\?/);
    // an older version's name for the flow-log key, now the data stack's logs key
    expect(problems({ keys: { flowLogs: KEY(1) } })).toMatch(/rebuild\.keys\.flowLogs: .*adopted as rebuild\.keys\.operations/);
    expect(problems({ restoreFromSnapshot: '--bad' })).toMatch(/rebuild\.restoreFromSnapshot: received "--bad"; expected an Aurora DB cluster snapshot identifier or ARN/);
    // from the former RDS instance (README "Upgrading"): its DB snapshot by ARN; or an Aurora cluster snapshot by ARN
    for (const arn of ['arn:aws:rds:eu-west-1:111111111111:snapshot:docai-rds-before-aurora', 'arn:aws:rds:eu-west-1:111111111111:cluster-snapshot:docai-production-final']) {
      expect(problems({ restoreFromSnapshot: arn, keys: { database: KEY(1) } })).toBe('');
    }
    expect(problems({ restoreFromSnapshot: 'arn:aws:rds:eu-west-1:111111111111:db:docai-db', keys: { database: KEY(1) } })).toMatch(/rebuild\.restoreFromSnapshot: received "arn:aws:rds:eu-west-1:111111111111:db:docai-db"/);
  });
});

describe('the rebuild deploy updates every consumer stack', () => {
  test('a rebuild id changes the template of every stack that reads the data stack, and no resource', () => {
    const before = synthStage('production', IDENTITY);
    const after = synthStage('production', { ...IDENTITY, rebuildId: '2026-11-22T10:00:00.000Z' });
    for (const [name, t] of Object.entries(after.templates)) {
      const json = t.toJSON();
      const old = before.templates[name].toJSON();
      expect({ name, resources: json.Resources }).toEqual({ name, resources: old.Resources });
      const consumer = JSON.stringify(old).includes('Fn::GetStackOutput');
      expect({ name, consumer, rebuildId: json.Outputs?.RebuildId?.Value }).toEqual({ name, consumer, rebuildId: consumer ? '2026-11-22T10:00:00.000Z' : undefined });
    }
  });

  test('npm run deploy -- --rebuild without a pinned account and region is refused before any AWS call, naming both', () => {
    const r = spawnSync(path.join(ROOT, 'node_modules', '.bin', 'tsx'), ['scripts/deploy.ts', '-c', 'stage=production', '--skip-preflight', '--rebuild', '--dry-run'], { cwd: ROOT, encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/--rebuild needs -c account=\.\.\. and -c region=\.\.\./);
    expect(r.stdout).toBe('');
  });

  test('npm run deploy -- --rebuild imports retained fixed-name resources and passes a new rebuild id', () => {
    const r = spawnSync(path.join(ROOT, 'node_modules', '.bin', 'tsx'), ['scripts/deploy.ts', '-c', 'stage=production', '-c', 'account=111122223333', '-c', 'region=eu-west-1', '--skip-preflight', '--rebuild', '--dry-run'], { cwd: ROOT, encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^npx cdk deploy --all -c stage=production -c account=111122223333 -c region=eu-west-1 --import-existing-resources -c rebuildId=(\S+) -c deployNonce=\1$/m);
  });
});

describe('the audit trail survives its stack', () => {
  test('its bucket is retained in every stage with a name of its deployment, and a rebuild adopts its key', () => {
    for (const stage of ['pilot', 'production']) {
      const t = synthStage(stage).templates[`docai-${stage}-data`].toJSON();
      const [, bucket] = Object.entries<any>(t.Resources).find(([k, r]) => k.startsWith('AuditBucket') && r.Type === 'AWS::S3::Bucket')!;
      expect({ stage, deletion: bucket.DeletionPolicy, perDeployment: JSON.stringify(bucket.Properties.BucketName).includes('"AWS::StackId"') }).toEqual({ stage, deletion: 'Retain', perDeployment: true });
    }
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'rebuild-audit-')), 'rebuild.json');
    fs.writeFileSync(file, JSON.stringify({ rebuild: { keys: { audit: KEY(7) } } }));
    const t = synthStage('pilot', { configFile: file }).templates['docai-pilot-data'].toJSON();
    const [, bucket] = Object.entries<any>(t.Resources).find(([k, r]) => k.startsWith('AuditBucket') && r.Type === 'AWS::S3::Bucket')!;
    expect(JSON.stringify(bucket.Properties.BucketEncryption)).toContain(KEY(7));
    expect(Object.keys(t.Resources).filter((k) => k.startsWith('AuditKey'))).toEqual([]);
  });
});
