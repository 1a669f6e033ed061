import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { decideBundling } from '../../lib/app';

const ROOT = path.join(__dirname, '..', '..');
const TSX = path.join(ROOT, 'node_modules', '.bin', 'tsx');

/** Runs bin/app.ts as the CDK CLI would, with context in CDK_CONTEXT_JSON. */
function runApp(context: Record<string, unknown>, extraEnv: Record<string, string> = {}) {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'bin-'));
  return spawnSync(TSX, ['bin/app.ts'], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, CDK_OUTDIR: outdir, CDK_CONTEXT_JSON: JSON.stringify(context), DOCAI_ASSUME_NO_DOCKER: '1', ...extraEnv },
  });
}

describe('bin/app.ts', () => {
  test('a bad stage exits non-zero with field, value and choices, before any stack exists', () => {
    const r = runApp({ stage: 'staging' });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/stage: received "staging"; did you mean "pilot"\? Valid choices: pilot, production/);
    expect(r.stderr).not.toMatch(/at .*\.ts:\d+/); // a message, not a stack trace
  });

  test('a context key the app does not read fails the synth with the nearest valid key', () => {
    const r = runApp({ stag: 'production', alarmEmal: 'oncall@example.com' });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/stag: not a context key of this app; did you mean "stage"\?/);
    expect(r.stderr).toMatch(/alarmEmal: not a context key of this app; did you mean "alarmEmail"\?/);
  });

  test('several bad overrides are reported together', () => {
    const r = runApp({ stage: 'pilot', alarmEmail: 'nope', monthlyBudgetUsd: '-10' });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/alarmEmail: received "nope"/);
    expect(r.stderr).toMatch(/budget\.monthlyLimitUsd: received -10/);
  });

  test('without Docker, deploy is refused before AWS is touched', () => {
    // A stand-in `cdk` process whose argv says "deploy", parent of the app process.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fakecdk-'));
    const fake = path.join(dir, 'cdk');
    fs.writeFileSync(fake, `#!/usr/bin/env node
const r = require('child_process').spawnSync(${JSON.stringify(TSX)}, ['bin/app.ts'], { cwd: ${JSON.stringify(ROOT)}, stdio: 'inherit' });
process.exit(r.status);
`, { mode: 0o755 });
    const r = spawnSync(fake, ['deploy', '--all', '-c', 'stage=pilot'], {
      encoding: 'utf8',
      env: { ...process.env, CDK_OUTDIR: fs.mkdtempSync(path.join(os.tmpdir(), 'bin-')), CDK_CONTEXT_JSON: '{}', DOCAI_ASSUME_NO_DOCKER: '1' },
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/refusing 'cdk deploy'.*Docker is needed to bundle the Python Lambdas/);
  });

  test('decideBundling: synth without Docker skips bundling with one notice; with Docker it bundles', () => {
    const synth = decideBundling({ dockerAvailable: false, cliCommand: 'synth' });
    expect(synth.skipBundling).toBe(true);
    expect(synth.refusal).toBeUndefined();
    expect(synth.notice!.split('\n')).toHaveLength(1);
    expect(decideBundling({ dockerAvailable: false, cliCommand: 'watch' }).refusal).toMatch(/Docker/);
    expect(decideBundling({ dockerAvailable: true, cliCommand: 'deploy' })).toEqual({ skipBundling: false });
  });
});
