import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { CFN_LINT_SCHEMA_LAG } from '../../lib/app';
import { PRESETS, stageSupportedRegions } from '../../lib/config';
import { synthStage } from '../helpers';

const ROOT = path.join(__dirname, '..', '..');

/** AWS's template linter on every template of both stages (scripts/cfn-lint.sh pins the version). */
describe.each(['pilot', 'production'])('cfn-lint on the %s stage', (stage) => {
  test('zero errors (and zero warnings but W3005)', () => {
    const { outdir } = synthStage(stage);
    const r = spawnSync('bash', [path.join(ROOT, 'scripts', 'cfn-lint.sh'), outdir], { encoding: 'utf8' });
    expect(`${r.stdout}${r.stderr}`.trim()).toBe('');
    expect(r.status).toBe(0);
  });

  test('zero errors in every region of the supported list (cfn-lint --regions: resource types and properties per region)', () => {
    const { outdir } = synthStage(stage);
    const regions = stageSupportedRegions(PRESETS[stage]);
    expect(regions.length).toBeGreaterThanOrEqual(3);
    const r = spawnSync('bash', [path.join(ROOT, 'scripts', 'cfn-lint.sh'), '--regions', ...regions, '--', outdir], { encoding: 'utf8' });
    expect(`${r.stdout}${r.stderr}`.trim()).toBe('');
    expect(r.status).toBe(0);
  }, 600_000);

  test('every schema-lag ignore is still needed: without it, cfn-lint reports exactly that rule on that type', () => {
    const { outdir } = synthStage(stage);
    const stripped = fs.mkdtempSync(path.join(outdir, 'no-ignores-'));
    for (const f of fs.readdirSync(outdir).filter((x) => x.endsWith('.template.json'))) {
      const t = JSON.parse(fs.readFileSync(path.join(outdir, f), 'utf8'));
      for (const r of Object.values(t.Resources as Record<string, any>)) delete r.Metadata?.['cfn-lint'];
      fs.writeFileSync(path.join(stripped, f), JSON.stringify(t));
    }
    const r = spawnSync('cfn-lint', ['--ignore-checks', 'W3005', '--format', 'json', '--', ...fs.readdirSync(stripped).map((f) => path.join(stripped, f))], { encoding: 'utf8' });
    const findings: Array<{ Rule: { Id: string }; Filename: string; Location: { Path: string[] } }> = JSON.parse(r.stdout || '[]');
    const typeOf = (f: (typeof findings)[number]) => JSON.parse(fs.readFileSync(f.Filename, 'utf8')).Resources[f.Location.Path[1]].Type;
    const seen = new Set(findings.map((f) => `${f.Rule.Id} ${typeOf(f)}`));
    for (const lag of CFN_LINT_SCHEMA_LAG) expect(seen).toContain(`${lag.rule} ${lag.type}`);
    expect([...seen].every((s) => CFN_LINT_SCHEMA_LAG.some((l) => s === `${l.rule} ${l.type}`))).toBe(true);
  });
});

test('a region outside the supported list fails the same check, naming the missing resource type', () => {
  const { outdir } = synthStage('pilot');
  const r = spawnSync('bash', [path.join(ROOT, 'scripts', 'cfn-lint.sh'), '--regions', 'us-west-1', '--', outdir], { encoding: 'utf8' });
  expect(r.status).toBe(1);
  expect(r.stdout).toContain("E3006 Resource type 'AWS::SageMaker::InferenceComponent' does not exist in 'us-west-1'");
}, 600_000);

test('npm run lint:cfn -- --help answers with the usage', () => {
  const r = spawnSync('bash', [path.join(ROOT, 'scripts', 'cfn-lint.sh'), '--help'], { encoding: 'utf8' });
  expect(r.status).toBe(0);
  expect(r.stdout).toContain('Usage: npm run lint:cfn -- [--regions REGION ...]');
});
