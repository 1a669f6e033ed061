import { spawnSync } from 'child_process';
import * as path from 'path';

/** `npm run deploy` runs the quota preflight first and refuses when a blocking quota is short. */
const ROOT = path.join(__dirname, '..', '..');
const FIXTURES = path.join(ROOT, 'lambda', 'tests', 'fixtures', 'quotas');

function deploy(args: string[], fixture: string) {
  const r = spawnSync(path.join(ROOT, 'node_modules', '.bin', 'tsx'), [path.join(ROOT, 'scripts', 'deploy.ts'), ...args], {
    cwd: ROOT, encoding: 'utf8', env: { ...process.env, DOCAI_PREFLIGHT_RECORDED: path.join(FIXTURES, fixture), DOCAI_PREFLIGHT_MODEL_TABLE: path.join(FIXTURES, 'model-artifacts.json') },
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

  test('in a fresh account it also refuses once per missing account prerequisite: API Gateway role, CDK bootstrap, model access, an end-of-life model, unstaged model artifacts', () => {
    const r = deploy(['-c', 'stage=pilot', '--dry-run'], 'fresh-account.json');
    expect(r.status).toBe(1);
    const fails = r.out.split('\n').filter((l) => l.startsWith('FAIL '));
    expect(fails).toEqual([
      expect.stringMatching(/^FAIL SageMaker quota 'ml.g5.xlarge for endpoint usage'/), expect.stringMatching(/^FAIL API Gateway CloudWatch Logs role \(us-east-1\): none is set/),
      expect.stringMatching(/^FAIL CDK bootstrap \(us-east-1\): .* Fix: npx cdk bootstrap aws:\/\/111122223333\/us-east-1$/),
      expect.stringMatching(/^FAIL Bedrock model amazon.nova-lite-v1:0 .*model access is not granted/), expect.stringMatching(/^FAIL Bedrock model amazon.nova-micro-v1:0 .*end of its life/),
      expect.stringMatching(/^FAIL Model artifacts \(BAAI\/bge-base-en-v1.5@a5beb1e3e68b\): s3:\/\/docai-models-111122223333-us-east-1\/.* is not staged \(HeadObject: 404\).* Fix: python3 scripts\/stage_model.py/),
    ]);
    expect(r.out).toContain('refusing to deploy: the preflight found a blocking quota or account prerequisite');
  });

  test('a config error is said alone: no preflight, no refusal about quotas', () => {
    const r = deploy(['-c', 'stage=pilot', '-c', 'region=us-west-1', '--dry-run'], 'gpu-granted.json');
    expect(r.status).toBe(1);
    expect(r.out).toMatch(/^Invalid stage config \(1 problem\):\n {2}- region: received "us-west-1"; AWS does not offer there what this stage uses: resource type AWS::SageMaker::InferenceComponent;/);
    expect(r.out).not.toMatch(/preflight|quota|refusing/);
  });

  test('once the quota is granted and the account is ready it deploys every stack, with a deploy nonce', () => {
    const r = deploy(['-c', 'stage=pilot', '-c', 'alarmEmail=oncall@example.com', '--dry-run'], 'gpu-granted.json');
    expect(r.status).toBe(0);
    expect(r.out).toMatch(/npx cdk deploy --all -c stage=pilot -c alarmEmail=oncall@example.com -c deployNonce=\d{4}-\d\d-\d\dT/);
    // the budgets' tags were checked (the pilot has no workload budgets, so no Workload tag)
    expect(r.out).toContain("ok   Cost-allocation tags Project, Environment (the stage's budgets and daily growth alert filter on them): Active");
  });

  test('production also checks the Workload tag its workload budgets filter on', () => {
    const r = deploy(['-c', 'stage=production', '--dry-run'], 'gpu-granted.json');
    // the ready account's recorded answer knows Project and Environment only
    expect(r.out).toContain("warn Cost-allocation tags Project, Environment, Workload (the stage's budgets and daily growth alert filter on them): AWS billing does not know Workload yet");
  });

  test('in a fresh stage the tags billing has not seen yet are a warning (activate after the first deploy), not a refusal', () => {
    const r = deploy(['-c', 'stage=pilot', '--dry-run'], 'fresh-account.json');
    expect(r.out).toContain("warn Cost-allocation tags Project, Environment (the stage's budgets and daily growth alert filter on them): AWS billing does not know Project, Environment yet");
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
