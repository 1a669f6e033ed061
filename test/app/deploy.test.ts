import { spawnSync } from 'child_process';
import * as path from 'path';

/** `npm run deploy` runs the quota preflight first and refuses when a blocking quota is short. */
const ROOT = path.join(__dirname, '..', '..');
const FIXTURES = path.join(ROOT, 'lambda', 'tests', 'fixtures', 'quotas');

function deploy(args: string[], fixture: string) {
  const r = spawnSync(path.join(ROOT, 'node_modules', '.bin', 'tsx'), [path.join(ROOT, 'scripts', 'deploy.ts'), ...args], {
    cwd: ROOT, encoding: 'utf8', env: { ...process.env, DOCAI_PREFLIGHT_RECORDED: path.join(FIXTURES, fixture) },
  });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

describe('npm run deploy', () => {
  test('in a fresh account (GPU endpoint quota 0) it refuses before any AWS change, naming the quota, the values and the increase request', () => {
    const r = deploy(['-c', 'stage=pilot', '--dry-run'], 'fresh-account.json');
    expect(r.status).toBe(1);
    expect(r.out).toContain("FAIL SageMaker quota 'ml.g5.xlarge for endpoint usage' (L-1928E07B) is 0, the stage needs 1. Raise it: aws service-quotas request-service-quota-increase --service-code sagemaker --quota-code L-1928E07B --desired-value 1");
    expect(r.out).toContain('refusing to deploy');
    expect(r.out).not.toContain('cdk deploy');
  });

  test('once the quota is granted it deploys every stack, with a deploy nonce', () => {
    const r = deploy(['-c', 'stage=pilot', '-c', 'alarmEmail=oncall@example.com', '--dry-run'], 'gpu-granted.json');
    expect(r.status).toBe(0);
    expect(r.out).toMatch(/npx cdk deploy --all -c stage=pilot -c alarmEmail=oncall@example.com -c deployNonce=\d{4}-\d\d-\d\dT/);
  });

  test('--skip-preflight deploys without asking, and says so', () => {
    const r = deploy(['-c', 'stage=pilot', '--skip-preflight', '--dry-run'], 'fresh-account.json');
    expect(r.status).toBe(0);
    expect(r.out).toContain('deploying without the quota check');
    expect(r.out).toContain('npx cdk deploy --all -c stage=pilot');
  });

  test('without a stage it stops with the usage', () => {
    const r = deploy(['--dry-run'], 'fresh-account.json');
    expect(r.status).toBe(1);
    expect(r.out).toContain('name the stage to deploy');
  });
});
