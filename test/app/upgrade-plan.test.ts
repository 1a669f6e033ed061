/**
 * The upgrade comparison (npm run plan -- --from-assembly/--from-ref ... --to-assembly/--to-ref ...):
 * recorded cloud assemblies of two versions of one stack (test/app/fixtures/upgrade/) with a
 * stateful replacement, a custom name moved to a new logical id, lost grants and harmless changes.
 */
import { spawnSync } from 'child_process';
import * as path from 'path';
import { assemblyTemplates, grantsOf, lostGrants, movedNames, upgradeBlocked, upgradePlan } from '../../lib/app/upgrade-plan';

const ROOT = path.join(__dirname, '..', '..');
const FIXTURES = path.join(__dirname, 'fixtures', 'upgrade');
const oldT = assemblyTemplates(path.join(FIXTURES, 'old'));
const newT = assemblyTemplates(path.join(FIXTURES, 'new'));
const clone = <T>(v: T): T => JSON.parse(JSON.stringify(v));

describe('upgrade plan on recorded assemblies', () => {
  const plan = upgradePlan(oldT, newT);

  test('the stateful replacement is blocking; the in-place updates are fine', () => {
    expect(plan.entries.find((e) => e.logicalId === 'DocsBucket')).toMatchObject({ change: 'replaced', replacedBy: ['ObjectLockEnabled'], verdict: 'replaces or deletes state' });
    expect(plan.entries.find((e) => e.logicalId === 'Reader')).toMatchObject({ change: 'updated', verdict: 'fine' });
    expect(upgradeBlocked(plan)).toBe(true);
  });

  test('a custom name under a new logical id is reported', () => {
    expect(plan.movedNames).toEqual([{ stack: 'x-data', type: 'AWS::SNS::Topic', name: '"x-alerts"', fromLogicalId: 'AlertsTopicA', toLogicalId: 'AlertsTopicB' }]);
  });

  test('exactly the grants no longer given are lost: a role statement, an invoke permission, a queue policy bound to the renamed topic', () => {
    const lost = plan.lostGrants.map((g) => `${g.holder}: ${g.action}${g.principal ? ` for ${g.principal}` : ''}`).sort();
    expect(lost).toEqual([
      'AWS::SQS::QueuePolicy x-data/Jobs/Resource: sqs:sendmessage for Service:sns.amazonaws.com',
      'function x-data/Reader/Resource: lambda:invokefunction for "apigateway.amazonaws.com"',
      'role x-data/Reader/Role/Resource: sqs:sendmessage',
    ]);
    // the S3 statement moved to another policy of the same role: not lost
    expect(plan.lostGrants.some((g) => g.action.startsWith('s3:'))).toBe(false);
  });

  test('npm run plan prints it and exits 1', () => {
    const r = spawnSync(path.join(ROOT, 'node_modules', '.bin', 'tsx'), ['scripts/plan.ts', '--from-assembly', path.join(FIXTURES, 'old'), '--to-assembly', path.join(FIXTURES, 'new')], { cwd: ROOT, encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/!! replaces or deletes state +x-data x-data\/Docs\/Resource \[AWS::S3::Bucket\] replaced \(caused by ObjectLockEnabled\)/);
    expect(r.stdout).toContain('!!   x-data [AWS::SNS::Topic] "x-alerts": AlertsTopicA -> AlertsTopicB');
    expect(r.stdout).toContain('!! 3 grant(s) of the old templates that no statement of the new ones still gives:');
    expect(r.stdout).toContain('!!   x-data role x-data/Reader/Role/Resource: sqs:sendmessage on {"Fn::GetAtt":["JobsQueue","Arn"]} (gone)');
    expect(r.stdout).toContain('NOT a safe upgrade');
    expect(r.stdout).not.toContain('promotion');
  });

  test('the same version over itself is clean, and says so', () => {
    const same = upgradePlan(oldT, clone(oldT));
    expect(same).toEqual({ entries: [], lostGrants: [], movedNames: [] });
    const r = spawnSync(path.join(ROOT, 'node_modules', '.bin', 'tsx'), ['scripts/plan.ts', '--from-assembly', path.join(FIXTURES, 'old'), '--to-assembly', path.join(FIXTURES, 'old')], { cwd: ROOT, encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('Safe upgrade: no state or custom name replaced, no name moved, no grant lost.');
  });

  test('a bad side names the flag and the fix', () => {
    const r = spawnSync(path.join(ROOT, 'node_modules', '.bin', 'tsx'), ['scripts/plan.ts', '--from-assembly', path.join(FIXTURES, 'old')], { cwd: ROOT, encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--to-ref <git ref> or --to-assembly <dir>');
    const r2 = spawnSync(path.join(ROOT, 'node_modules', '.bin', 'tsx'), ['scripts/plan.ts', '--from-assembly', FIXTURES, '--to-assembly', path.join(FIXTURES, 'new')], { cwd: ROOT, encoding: 'utf8' });
    expect(r2.status).toBe(1);
    expect(r2.stderr).toContain('is not a cloud assembly (no manifest.json)');
  });
});

describe('what counts as a lost grant', () => {
  const withPolicy = (statements: unknown[], extra: Record<string, unknown> = {}) => {
    const t = clone(oldT);
    t['x-data'].Resources.ReaderPolicy.Properties.PolicyDocument.Statement = statements;
    Object.assign(t['x-data'].Resources, extra);
    return t;
  };
  const arn = (id: string) => ({ 'Fn::GetAtt': [id, 'Arn'] });
  const before = withPolicy([{ Effect: 'Allow', Action: ['s3:GetObject', 'sqs:SendMessage'], Resource: [arn('DocsBucket'), arn('JobsQueue')] }]);

  test('merged, split, reordered or widened statements lose nothing', () => {
    const split = withPolicy([
      { Effect: 'Allow', Action: 'sqs:SendMessage', Resource: [arn('JobsQueue'), arn('DocsBucket')] },
      { Effect: 'Allow', Action: 'S3:GetObject', Resource: [arn('JobsQueue'), arn('DocsBucket')] },
    ]);
    expect(lostGrants(before, split)).toEqual([]);
    expect(lostGrants(before, withPolicy([{ Effect: 'Allow', Action: ['s3:Get*', 'sqs:*'], Resource: '*' }]))).toEqual([]);
  });

  test('a narrower statement loses what it no longer covers: a condition added, a resource or action dropped', () => {
    const conditioned = withPolicy([{ Effect: 'Allow', Action: ['s3:GetObject', 'sqs:SendMessage'], Resource: [arn('DocsBucket'), arn('JobsQueue')], Condition: { Bool: { 'aws:SecureTransport': 'true' } } }]);
    const narrowed = lostGrants(before, conditioned);
    expect(narrowed).toHaveLength(4);
    // told apart from a removal: the condition under which it is still given
    expect(narrowed.every((g) => g.stillGivenWhen?.join() === '{"Bool":{"aws:SecureTransport":"true"}}')).toBe(true);
    const fewer = withPolicy([{ Effect: 'Allow', Action: ['s3:GetObject'], Resource: [arn('DocsBucket'), arn('JobsQueue')] }]);
    expect(lostGrants(before, fewer).map((g) => [g.action, g.stillGivenWhen])).toEqual([['sqs:sendmessage', undefined], ['sqs:sendmessage', undefined]]);
    // a Deny next to the Allow is not an Allow: the grant stays counted as given
    expect(grantsOf(withPolicy([{ Effect: 'Deny', Action: '*', Resource: '*' }])).filter((g) => g.holder.startsWith('role') && g.action === '*')).toEqual([]);
  });

  test('the same grant given to another role is still lost for this one', () => {
    const t = clone(before);
    const policy = t['x-data'].Resources.ReaderPolicy;
    t['x-data'].Resources.OtherRole = { ...clone(t['x-data'].Resources.ReaderRole), Metadata: { 'aws:cdk:path': 'x-data/Other/Role/Resource' } };
    policy.Properties.Roles = [{ Ref: 'OtherRole' }];
    expect(lostGrants(before, t)).toHaveLength(4);
  });

  test('a role attaching a managed policy from its own side holds its statements', () => {
    const t = clone(before);
    delete t['x-data'].Resources.ReaderPolicy.Properties.Roles;
    t['x-data'].Resources.ReaderRole.Properties.ManagedPolicyArns = [{ Ref: 'ReaderPolicy' }];
    expect(lostGrants(before, t)).toEqual([]);
  });

  test('a moved name is only a name that reappears under another logical id', () => {
    const renamed = clone(oldT);
    delete renamed['x-data'].Resources.JobsQueue;
    renamed['x-data'].Resources.JobsQueue2 = { Type: 'AWS::SQS::Queue', Properties: { QueueName: 'x-jobs-2' } };
    expect(movedNames(oldT, renamed)).toEqual([]);
  });
});
