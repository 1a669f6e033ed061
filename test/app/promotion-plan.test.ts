/**
 * The promise of the project: the pilot becomes production in place. The plan diffs the two
 * synthesized stages with @aws-cdk/cloudformation-diff and judges every change; these tests keep the
 * pilot -> production plan clean and check each verdict on small templates.
 */
import { spawnSync } from 'child_process';
import * as path from 'path';
import { BLOCKING, nameProperties, promotionPlan } from '../../lib/app';
import { synthStage } from '../helpers';

const ROOT = path.join(__dirname, '..', '..');
const templates = (s: ReturnType<typeof synthStage>) => Object.fromEntries(Object.entries(s.templates).map(([n, t]) => [n, t.toJSON()]));

describe('pilot -> production, in place', () => {
  const pilot = synthStage('pilot');
  const promoted = synthStage('production', { environmentName: 'pilot' });
  const plan = promotionPlan(templates(pilot), templates(promoted));

  test('the promoted stage keeps every stack and account-unique name of the pilot', () => {
    expect(Object.keys(promoted.templates).sort()).toEqual(Object.keys(pilot.templates).sort());
    expect(promoted.stacks.inference.embedding.endpointName).toBe('docai-pilot-embed');
  });

  test('no change replaces or deletes state, and none needs a custom-named replacement', () => {
    expect(plan.length).toBeGreaterThan(50); // the stages really differ
    expect(plan.filter((e) => BLOCKING.includes(e.verdict))).toEqual([]);
  });

  test('the changes that make it production are in-place updates', () => {
    // Aurora: the cluster's capacity, backups and protection change in place; the writer stays (same AZ,
    // same class db.serverless); production's reader is added beside it.
    const db = plan.find((e) => e.type === 'AWS::RDS::DBCluster')!;
    expect(db).toMatchObject({ change: 'updated', verdict: 'fine' });
    expect(db.updated).toEqual(expect.arrayContaining(['ServerlessV2ScalingConfiguration', 'BackupRetentionPeriod', 'DeletionProtection']));
    const instances = plan.filter((e) => e.type === 'AWS::RDS::DBInstance');
    expect(instances.map((e) => [e.logicalId.replace(/[0-9A-F]{8}$/, ''), e.change, e.verdict]).sort()).toEqual([
      ['VectorDbClusterReader1', 'added', 'fine'], ['VectorDbClusterWriter', 'updated', 'fine'],
    ]);
    expect(instances.find((e) => e.change === 'updated')!.updated).not.toEqual(expect.arrayContaining(['AvailabilityZone']));
    const gpu = (type: string) => plan.find((e) => e.type === type && e.logicalId.startsWith('Embedding'));
    expect(gpu('AWS::SageMaker::Endpoint')).toMatchObject({ change: 'updated', verdict: 'fine' });
    expect(gpu('AWS::SageMaker::EndpointConfig')).toMatchObject({ verdict: 'replaces stateless' });
    // Production embeds questions on its always-on GPU endpoint: the pilot's serverless one goes, nothing stateful with it.
    const question = plan.filter((e) => e.logicalId.startsWith('QuestionEmbedding'));
    expect(question.map((e) => e.type)).toEqual(expect.arrayContaining(['AWS::SageMaker::Endpoint', 'AWS::SageMaker::EndpointConfig', 'AWS::SageMaker::Model']));
    expect(question.every((e) => e.change === 'removed' && e.verdict === 'fine')).toBe(true);
    // retaining data is an attribute change on the same resources
    expect(plan.filter((e) => e.type === 'AWS::S3::Bucket' && e.change === 'updated').every((e) => e.verdict === 'fine')).toBe(true);
  });

  test('npm run plan prints the clean plan and exits 0', () => {
    const r = spawnSync(path.join(ROOT, 'node_modules', '.bin', 'tsx'), ['scripts/plan.ts', '--from', 'pilot', '--to', 'production'], { cwd: ROOT, encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('Promotion plan: docai-pilot deployed as stage "pilot", then as stage "production"');
    expect(r.stdout).toMatch(/0 fails: custom name needs replacement, 0 replaces or deletes state/);
    expect(r.stdout).toContain('Clean:');
  });
});

describe('verdicts', () => {
  const stack = (resources: Record<string, unknown>) => ({ 'x-data': { Resources: resources } });
  const plan = (from: Record<string, unknown>, to: Record<string, unknown>) => promotionPlan(stack(from), stack(to));

  test('a custom-named resource that must be replaced fails', () => {
    const [e] = plan(
      { B: { Type: 'AWS::S3::Bucket', Properties: { BucketName: 'acme-docs', ObjectLockEnabled: false } } },
      { B: { Type: 'AWS::S3::Bucket', Properties: { BucketName: 'acme-docs', ObjectLockEnabled: true } } },
    );
    expect(e).toMatchObject({ change: 'replaced', replacedBy: ['ObjectLockEnabled'], verdict: 'fails: custom name needs replacement' });
  });

  test('a data store replaced or removed loses state; a stateless one replaced does not', () => {
    expect(plan(
      { B: { Type: 'AWS::S3::Bucket', Properties: { ObjectLockEnabled: false } } },
      { B: { Type: 'AWS::S3::Bucket', Properties: { ObjectLockEnabled: true } } },
    )[0]).toMatchObject({ verdict: 'replaces or deletes state' });
    expect(plan({ Q: { Type: 'AWS::SQS::Queue', Properties: {} } }, {})[0]).toMatchObject({ change: 'removed', verdict: 'replaces or deletes state' });
    expect(plan(
      { F: { Type: 'AWS::Lambda::Function', Properties: { PackageType: 'Zip' } } },
      { F: { Type: 'AWS::Lambda::Function', Properties: { PackageType: 'Image' } } },
    )[0]).toMatchObject({ change: 'replaced', verdict: 'replaces stateless' });
  });

  test('RDS Multi-AZ and backup retention are in-place (doc-cited), a new engine is not', () => {
    const db = (p: Record<string, unknown>) => ({ D: { Type: 'AWS::RDS::DBInstance', Properties: { Engine: 'postgres', ...p } } });
    expect(plan(db({ MultiAZ: false, BackupRetentionPeriod: 7 }), db({ MultiAZ: true, BackupRetentionPeriod: 35 }))[0]).toMatchObject({ change: 'updated', verdict: 'fine' });
    expect(plan(db({ DBInstanceIdentifier: 'acme-db' }), db({ DBInstanceIdentifier: 'acme-db', Engine: 'mysql' }))[0]).toMatchObject({ verdict: 'fails: custom name needs replacement' });
  });

  test('RDS for PostgreSQL -> Aurora (this release) is no promotion: the instance is deleted, which the plan refuses (README "Upgrading")', () => {
    const before = { D: { Type: 'AWS::RDS::DBInstance', Properties: { Engine: 'postgres', DBInstanceIdentifier: 'acme-db' } } };
    const after = { C: { Type: 'AWS::RDS::DBCluster', Properties: { Engine: 'aurora-postgresql' } }, W: { Type: 'AWS::RDS::DBInstance', Properties: { Engine: 'aurora-postgresql', DBInstanceClass: 'db.serverless', DBClusterIdentifier: { Ref: 'C' } } } };
    expect(plan(before, after).find((e) => e.logicalId === 'D')).toMatchObject({ change: 'removed', verdict: 'replaces or deletes state' });
  });

  test('moving a live endpoint between a model variant and inference components is a replacement', () => {
    const endpoint = (variant: Record<string, unknown>) => ({
      C: { Type: 'AWS::SageMaker::EndpointConfig', Properties: { ProductionVariants: [{ VariantName: 'AllTraffic', InstanceType: 'ml.g5.xlarge', ...variant }] } },
      E: { Type: 'AWS::SageMaker::Endpoint', Properties: { EndpointName: 'acme-embed', EndpointConfigName: { 'Fn::GetAtt': ['C', 'EndpointConfigName'] } } },
    });
    const e = plan(endpoint({ ManagedInstanceScaling: { Status: 'ENABLED', MinInstanceCount: 0 } }), endpoint({ ModelName: 'm', InitialInstanceCount: 2 })).find((x) => x.logicalId === 'E');
    expect(e).toMatchObject({ change: 'replaced', replacedBy: ['EndpointConfigName (inference components -> model variant)'], verdict: 'fails: custom name needs replacement' });
  });

  test('name properties come from AWS resource spec', () => {
    expect(nameProperties('AWS::S3::Bucket')).toEqual(['BucketName']);
    expect(nameProperties('AWS::SageMaker::Endpoint')).toEqual(['EndpointName']);
    expect(nameProperties('AWS::RDS::DBInstance')).toEqual(['DBInstanceIdentifier']);
  });
});
