/**
 * Every script has --help, and a typo in a flag fails with one line naming the flag and the
 * nearest valid one, instead of being ignored (`--asembly DIR` used to review cdk.out).
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

const ROOT = path.join(__dirname, '..', '..');
const TSX = path.join(ROOT, 'node_modules', '.bin', 'tsx');
const PYTHON = path.join(ROOT, '.venv', 'bin', 'python');

function run(cmd: string, args: string[]) {
  const r = spawnSync(cmd, args, { cwd: ROOT, encoding: 'utf8', env: { ...process.env, DOCAI_PREFLIGHT_RECORDED: path.join(ROOT, 'lambda', 'tests', 'fixtures', 'quotas', 'gpu-granted.json') } });
  return { status: r.status, out: r.stdout, err: r.stderr };
}
const script = (name: string, ...args: string[]) => run(TSX, [path.join(ROOT, 'scripts', `${name}.ts`), ...args]);

// Modules the scripts import, not commands.
const SCRIPT_MODULES = ['cli.ts', 'synth.ts', 'cli_args.py', 'preflight_account.py', 'model_artifacts.py'];

describe('--help', () => {
  test.each(fs.readdirSync(path.join(ROOT, 'scripts')).filter((f) => /\.(ts|py|sh)$/.test(f) && !SCRIPT_MODULES.includes(f)))('every script answers: scripts/%s', (file) => {
    const full = path.join(ROOT, 'scripts', file);
    const r = file.endsWith('.ts') ? run(TSX, [full, '--help']) : file.endsWith('.py') ? run(PYTHON, [full, '--help']) : run('bash', [full, '--help']);
    expect(r.status).toBe(0);
    expect(r.out).toMatch(/^usage: /i);
  });

  test.each(['cost', 'review', 'preflight', 'deploy'])('scripts/%s.ts', (name) => {
    const r = script(name, '--help');
    expect(r.status).toBe(0);
    expect(r.out).toMatch(/^Usage: npm run /);
    expect(r.out).toMatch(/-h, --help +this text/);
  });

  test.each(['bench/pipeline.py', 'bench/vector_db.py', 'scripts/preflight_quotas.py'])('%s', (file) => {
    const r = run(PYTHON, [file, '--help']);
    expect(r.status).toBe(0);
    expect(r.out).toMatch(/^usage: /);
  });
});

describe('unknown flags', () => {
  test.each([
    ['review', ['--asembly', 'cdk.out.production'], 'npm run review: unknown flag --asembly; did you mean --assembly?'],
    ['cost', ['--docs', '1000'], 'npm run cost: unknown flag --docs; did you mean --docs-per-day?'],
    ['deploy', ['-c', 'stage=pilot', '--dry-rn'], "npm run deploy: unknown flag --dry-rn (neither this script's nor cdk deploy's); did you mean --dry-run?"],
  ])('%s %j', (name, args, message) => {
    const r = script(name, ...args);
    expect(r.status).toBe(2);
    expect(r.err.trim().split('\n')).toEqual([expect.stringContaining(message)]);
    expect(r.out).toBe('');
  });

  test('a bench script names the nearest flag too', () => {
    const r = run(PYTHON, ['bench/pipeline.py', '--dcs', '3']);
    expect(r.status).toBe(2);
    expect(r.err).toContain('unknown argument --dcs; did you mean --docs?');
  });

  test('context typos in a script fail as they do in cdk synth', () => {
    const r = script('preflight', '-c', 'stag=production');
    expect(r.status).toBe(1);
    expect(r.err).toContain('stag: not a context key of this app; did you mean "stage"?');
  });

  test('deploy passes real cdk deploy flags on, and refuses to deploy on a typo of its own', () => {
    const r = script('deploy', '-c', 'stage=pilot', '--skip-preflight', '--dry-run', '--require-approval', 'never', '-e', '--no-rollback');
    expect(r.status).toBe(0);
    expect(r.out).toMatch(/^npx cdk deploy --all -c stage=pilot --require-approval never -e --no-rollback -c deployNonce=/);
  });
});

describe('npm run cost', () => {
  test('every assumption flag is validated, all problems in one line', () => {
    const r = script('cost', '--chunks-per-doc', '-3', '--active-hours', '0', '--docs-per-day', '1000');
    expect(r.status).toBe(2);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).toContain('--chunks-per-doc: received -3; expected chunks per document, a number from 1');
    expect(r.err).toContain('--active-hours: received 0; expected hours a day documents arrive, a number above 0 up to 24');
    expect(script('cost', '--doc-mb', 'big').err).toContain('--doc-mb: received "big", which is not a number');
  });

  test('the read side: question flags are validated and the cost per 1,000 questions is printed', () => {
    expect(script('cost', '--cache-hit-percent', '120').err).toContain('--cache-hit-percent: received 120; expected percent of questions answered from the cache, a number from 0 to 100');
    const r = script('cost', '--queries-per-day', '2000', '--prompt-tokens', '1000');
    expect(r.status).toBe(0);
    expect(r.out).toMatch(/Cost per 1,000 questions \(read side: .*\): \d+\.\d\d USD at 2,000 questions\/day\./);
    expect(r.out).toContain('amazon.nova-lite-v1:0: 1000 + 300 tokens per answer, 10% from cache');
  });

  test('prints the assumptions it really used and compares each total with the stage budget', () => {
    const r = script('cost', '--docs-per-day', '500', '--chunks-per-doc', '12', '--active-hours', '4', '--doc-mb', '2', '-c', 'monthlyBudgetUsd=50');
    expect(r.status).toBe(0);
    expect(r.out).toContain('Assumptions used: 2 MB and 12 chunks per document, documents arriving 4 hours a day, 200 chunks/s per GPU instance, 6 min cold start and 15 min until scale-in is detected; ' +
      '500 questions a day over 8 hours, 2800 prompt + 300 answer tokens, 10% cache hits.');
    expect(r.out).toContain('Latency this costs: a document waits up to 12 h 6 min (one window and the cold start) before it is searchable.');
    const budget = r.out.split('\n').find((l) => l.startsWith('Budget of stage "pilot": 50.00 USD/month'))!;
    expect(budget).toBeDefined();
    const total = (col: number) => Number(r.out.split('\n').find((l) => l.startsWith('TOTAL'))!.trim().split(/\s+/)[col].replace(/,/g, ''));
    // The comparison quotes the table's own totals, and flags the ones above the budget.
    expect(budget).toContain(`at 10x ${total(3).toLocaleString('en-US', { minimumFractionDigits: 2 })} USD = ${Math.round((100 * total(3)) / 50)}% OVER BUDGET`);
    expect(r.out).toContain("exceeds the stage's budget");
  });
});

describe('npm run review', () => {
  test('--assembly without a directory is refused', () => {
    const r = script('review', '--assembly');
    expect(r.status).toBe(2);
    expect(r.err).toContain('--assembly needs a value <dir>');
  });
});
