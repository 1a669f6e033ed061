/**
 * The Guard Rules Registry runner: findings per (rule, stack role, resource) over both stages,
 * compared with the exceptions file both ways, and a run without rules that says NOT RUN instead of
 * passing. The registry's own files are not on this machine, so the rules here are one written for
 * the test and the Control Tower rule files @cdklabs/cdk-validator-cfnguard ships (same format).
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { guardRuleFiles, runGuardRegistry } from '../../lib/review/guard-registry';

const ROOT = path.join(__dirname, '..', '..');
const TSX = path.join(ROOT, 'node_modules', '.bin', 'tsx');
const SHIPPED = path.join(path.dirname(require.resolve('@cdklabs/cdk-validator-cfnguard/package.json')), 'rules', 'control-tower', 'cfn-guard', 's3');

function fixture() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'guard-'));
  const rules = path.join(dir, 'rules');
  fs.mkdirSync(path.join(rules, 's3', 'tests'), { recursive: true });
  fs.writeFileSync(path.join(rules, 's3', 'bucket_versioning.guard'), [
    "let buckets = Resources.*[ Type == 'AWS::S3::Bucket' ]",
    'rule test_bucket_versioning when %buckets !empty {',
    "  %buckets.Properties.VersioningConfiguration.Status == 'Enabled'",
    '}',
  ].join('\n'));
  // The registry keeps rule tests beside the rules: never run as rules.
  fs.writeFileSync(path.join(rules, 's3', 'tests', 'broken.guard'), 'this is not a rule');
  const assemblies = ['pilot', 'production'].map((stage) => {
    const a = path.join(dir, `cdk.out.${stage}`);
    fs.mkdirSync(a);
    const stack = `docai-${stage}-data`;
    fs.writeFileSync(path.join(a, 'manifest.json'), JSON.stringify({ artifacts: { [stack]: { type: 'aws:cloudformation:stack', properties: { templateFile: `${stack}.template.json`, stackName: stack } } } }));
    fs.writeFileSync(path.join(a, `${stack}.template.json`), JSON.stringify({ Resources: {
      Unversioned: { Type: 'AWS::S3::Bucket', Properties: {} },
      Versioned: { Type: 'AWS::S3::Bucket', Properties: { VersioningConfiguration: { Status: 'Enabled' } } },
    } }));
    return a;
  });
  return { dir, rules, assemblies };
}

test('each failing resource is a finding per stage, keyed by the stack role both stages share; rule tests are not rules', () => {
  const f = fixture();
  expect(guardRuleFiles(f.rules).map((r) => path.basename(r))).toEqual(['bucket_versioning.guard']);
  const run = runGuardRegistry({ rulesDir: f.rules, assemblies: f.assemblies, exceptions: [] });
  expect(run.errors).toEqual([]);
  expect(run.findings.map((x) => [x.rule, x.stack, x.resource])).toEqual([['test_bucket_versioning', 'data', 'Unversioned'], ['test_bucket_versioning', 'data', 'Unversioned']]);
  expect(run.unexcepted).toHaveLength(2);
});

test('an exception covers the finding in both stages; one that matches nothing is reported as stale', () => {
  const f = fixture();
  const listed = { rule: 'test_bucket_versioning', stack: 'data', resource: 'Unversioned', reason: 'test' };
  expect(runGuardRegistry({ rulesDir: f.rules, assemblies: f.assemblies, exceptions: [listed] })).toMatchObject({ unexcepted: [], stale: [] });
  const stale = { ...listed, resource: 'Versioned' };
  expect(runGuardRegistry({ rulesDir: f.rules, assemblies: f.assemblies, exceptions: [listed, stale] }).stale).toEqual([stale]);
  expect(runGuardRegistry({ rulesDir: f.rules, assemblies: f.assemblies, exceptions: [{ ...listed, stack: 'app' }] }).unexcepted).toHaveLength(2);
});

test('rule files in the format AWS publishes run as they are (the Control Tower S3 rules the package ships)', () => {
  const f = fixture();
  const run = runGuardRegistry({ rulesDir: SHIPPED, assemblies: f.assemblies, exceptions: [] });
  expect(run.errors).toEqual([]);
  expect(run.ruleFiles).toBeGreaterThan(5);
  expect(run.findings.filter((x) => x.resource === 'Unversioned').map((x) => x.rule)).toContain('s3_bucket_versioning_enabled_check');
});

describe('the script', () => {
  const script = (env: Record<string, string | undefined>, ...args: string[]) => {
    const e = { ...process.env, ...env };
    if (env.DOCAI_GUARD_RULES_DIR === undefined) delete e.DOCAI_GUARD_RULES_DIR;
    return spawnSync(TSX, [path.join(ROOT, 'scripts', 'guard-registry.ts'), ...args], { cwd: ROOT, encoding: 'utf8', env: e });
  };

  test('without a rules directory it says NOT RUN, never a pass; --require makes that a failure', () => {
    const r = script({ DOCAI_GUARD_RULES_DIR: undefined });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^guard registry: NOT RUN \(this is not a pass\): DOCAI_GUARD_RULES_DIR is not set/);
    expect(r.stdout).not.toMatch(/\d+ findings/);
    expect(script({ DOCAI_GUARD_RULES_DIR: undefined }, '--require').status).toBe(3);
    expect(script({ DOCAI_GUARD_RULES_DIR: '/nonexistent/rules' }).stderr).toMatch(/is not a directory/);
  });

  test('an unlisted finding fails the run and says how to list it; listed, the run passes', () => {
    const f = fixture();
    const exceptions = path.join(f.dir, 'exceptions.json');
    fs.writeFileSync(exceptions, JSON.stringify({ exceptions: [] }));
    const args = ['--assembly', f.assemblies[0], '--assembly', f.assemblies[1], '--exceptions', exceptions];
    const fail = script({ DOCAI_GUARD_RULES_DIR: f.rules }, ...args);
    expect(fail.status).toBe(1);
    expect(fail.stdout).toContain('NOT LISTED: test_bucket_versioning on data/Unversioned');
    expect(fail.stdout).toContain('{"rule": "test_bucket_versioning", "stack": "data", "resource": "Unversioned", "reason": "..."}');
    fs.writeFileSync(exceptions, JSON.stringify({ exceptions: [{ rule: 'test_bucket_versioning', stack: 'data', resource: 'Unversioned', reason: 'a test bucket' }] }));
    const pass = script({ DOCAI_GUARD_RULES_DIR: f.rules }, ...args);
    expect(pass.stdout).toMatch(/1 rule files over 2 templates: 2 findings, 2 listed .* 0 not listed, 0 listed but no longer found, 0 errors/);
    expect(pass.status).toBe(0);
    fs.writeFileSync(exceptions, JSON.stringify({ exceptions: [{ rule: 'test_bucket_versioning', stack: 'data', resource: 'Unversioned', reason: '' }] }));
    expect(script({ DOCAI_GUARD_RULES_DIR: f.rules }, ...args).stderr).toMatch(/exceptions\[0\]\.reason is missing or empty/);
  });

  test('the committed exceptions file is well formed', () => {
    const doc = JSON.parse(fs.readFileSync(path.join(ROOT, 'docs', 'guard-registry-exceptions.json'), 'utf8'));
    expect(Array.isArray(doc.exceptions)).toBe(true);
    for (const e of doc.exceptions) for (const k of ['rule', 'stack', 'resource', 'reason']) expect(typeof e[k]).toBe('string');
  });
});
