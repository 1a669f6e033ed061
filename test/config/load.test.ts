import { LOG_RETENTION_VALUES, PILOT, PRODUCTION, resolveStageConfig, StageConfigError, validateStageConfig } from '../../lib/config';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const resolve = (ctx: Record<string, unknown>) => resolveStageConfig((k) => ctx[k]);

function problemsOf(ctx: Record<string, unknown>): string[] {
  try {
    resolve(ctx);
  } catch (e) {
    expect(e).toBeInstanceOf(StageConfigError);
    return (e as StageConfigError).problems;
  }
  throw new Error('expected the config to be rejected');
}

describe('stage config', () => {
  test('defaults to the pilot preset', () => {
    expect(resolve({})).toEqual(PILOT);
  });

  test('both presets are valid', () => {
    expect(validateStageConfig(PILOT)).toEqual([]);
    expect(validateStageConfig(PRODUCTION)).toEqual([]);
  });

  test('production differs from pilot only in data, and is the bigger size', () => {
    const p = resolve({ stage: 'production' });
    // Aurora Serverless v2 in both: production never pauses and has a reader; the pilot pauses and has none.
    expect(p.database.minCapacityAcu).toBeGreaterThan(0);
    expect(p.database.readers).toBe(1);
    expect(p.database.deletionProtection).toBe(true);
    expect(p.database.backupRetentionDays).toBe(35);
    expect(p.retainData).toBe(true);
    expect(p.terminationProtection).toBe(true);
    expect(p.embedding.minInstances).toBeGreaterThanOrEqual(1);
    const pilot = resolve({ stage: 'pilot' });
    expect(pilot.embedding.scaling).toBe('scale-to-zero');
    expect(pilot.database.backupRetentionDays).toBe(7);
    expect(pilot.database).toEqual(expect.objectContaining({ minCapacityAcu: 0, autoPauseSeconds: 600, readers: 0 }));
  });

  test('an unknown stage names the value and the valid choices', () => {
    const [msg] = problemsOf({ stage: 'prod' });
    expect(msg).toMatch(/^stage: received "prod"; did you mean "production"\? Valid choices: pilot, production/);
  });

  test('a negative budget is rejected with field, value and fix', () => {
    const [msg] = problemsOf({ monthlyBudgetUsd: '-5' });
    expect(msg).toMatch(/budget\.monthlyLimitUsd: received -5; expected a number from 1/);
    expect(msg).toMatch(/-c monthlyBudgetUsd=/);
  });

  test('a budget that is not a number is rejected', () => {
    expect(problemsOf({ monthlyBudgetUsd: 'lots' })[0]).toMatch(/monthlyBudgetUsd: received "lots", which is not a number/);
  });

  test('a malformed e-mail is rejected', () => {
    expect(problemsOf({ alarmEmail: 'oncall-at-example.com' })[0]).toMatch(/alarmEmail: received "oncall-at-example.com"; expected an e-mail address/);
  });

  test('capacities Aurora Serverless v2 refuses are rejected with field, value and the range', () => {
    expect(problemsOf({ databaseMinCapacityAcu: '0.3' })[0]).toMatch(/^database\.minCapacityAcu: received 0\.3; expected Aurora capacity units from 0 to 256 in steps of 0\.5/);
    expect(problemsOf({ databaseMaxCapacityAcu: '300' })[0]).toMatch(/^database\.maxCapacityAcu: received 300; expected Aurora capacity units from 1 to 256/);
    expect(problemsOf({ databaseMinCapacityAcu: '8', databaseMaxCapacityAcu: '4' })[0]).toMatch(/^database\.maxCapacityAcu: received 4; must be at least database\.minCapacityAcu \(8\)/);
    expect(resolve({ databaseMinCapacityAcu: '1', databaseMaxCapacityAcu: '8.5' }).database).toEqual(expect.objectContaining({ minCapacityAcu: 1, maxCapacityAcu: 8.5 }));
  });

  test('an auto-pause delay or reader count Aurora refuses is rejected', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cfg-'));
    const file = path.join(dir, 'c.json');
    fs.writeFileSync(file, JSON.stringify({ database: { autoPauseSeconds: 60, readers: 16 } }));
    expect(problemsOf({ configFile: file })).toEqual([
      expect.stringMatching(/^database\.autoPauseSeconds: received 60; expected a whole number from 300 to 86400/),
      expect.stringMatching(/^database\.readers: received 16; expected a whole number from 0 to 15/),
    ]);
  });

  test('a SageMaker instance type from another service is rejected', () => {
    // A real EC2 type, but not a SageMaker hosting type (those start with ml.)
    expect(problemsOf({ embeddingInstanceType: 'g5.xlarge' })[0]).toMatch(/embedding\.instanceType: received "g5\.xlarge"; valid choices: ml\.g5\.xlarge/);
  });

  test('an instance type without a GPU for the GPU container is rejected', () => {
    expect(problemsOf({ embeddingInstanceType: 'ml.c7i.xlarge' })[0]).toMatch(/embedding\.instanceType: received "ml\.c7i\.xlarge" has no GPU.*valid choices: ml\.g5\.xlarge/);
  });

  test('every problem is reported at once', () => {
    expect(problemsOf({ alarmEmail: 'x', monthlyBudgetUsd: '-1', projectName: 'Bad Name' })).toHaveLength(3);
  });

  test('overrides apply: project, tags, account and region', () => {
    const c = resolve({ projectName: 'acme-rag', costCenter: 'CC-42', businessUnit: 'Legal', owner: 'ml@acme.io', account: '123456789012', region: 'eu-west-1', alarmEmail: 'oncall@acme.io', monthlyBudgetUsd: '750' });
    expect(c.projectName).toBe('acme-rag');
    expect(c.tags).toEqual({ costCenter: 'CC-42', businessUnit: 'Legal', owner: 'ml@acme.io' });
    expect(c.account).toBe('123456789012');
    expect(c.region).toBe('eu-west-1');
    expect(c.budget.monthlyLimitUsd).toBe(750);
  });

  test('a malformed account id is rejected', () => {
    expect(problemsOf({ account: '1234' })[0]).toMatch(/account: received "1234"; expected a 12-digit AWS account id/);
  });

  test('a config file deep-merges over the preset and is validated too', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cfg-'));
    const file = path.join(dir, 'c.json');
    fs.writeFileSync(file, JSON.stringify({ database: { backupRetentionDays: 14 } }));
    const c = resolve({ stage: 'pilot', configFile: file });
    expect(c.database.backupRetentionDays).toBe(14);
    expect(c.database.maxCapacityAcu).toBe(PILOT.database.maxCapacityAcu);
    fs.writeFileSync(file, JSON.stringify({ embedding: { scaling: 'scale-to-zero', minInstances: 2, maxInstances: 3 } }));
    expect(problemsOf({ stage: 'pilot', configFile: file })[0]).toMatch(/embedding\.minInstances: received 2; must be 0 when embedding\.scaling is scale-to-zero/);
  });

  describe('typos fail with the key and the nearest valid one', () => {
    const withKeys = (ctx: Record<string, unknown>) => () => resolveStageConfig((k) => ctx[k], { contextKeys: Object.keys(ctx) });
    const problems = (ctx: Record<string, unknown>) => {
      try {
        withKeys(ctx)();
      } catch (e) {
        return (e as StageConfigError).problems;
      }
      throw new Error('expected the config to be rejected');
    };

    test.each([
      ['stag', 'production', 'stage'],
      ['alarmEmal', 'oncall@example.com', 'alarmEmail'],
      ['monthlyBudget', '50', 'monthlyBudgetUsd'],
      ['embedingInstanceType', 'ml.g5.xlarge', 'embeddingInstanceType'],
    ])('-c %s=%s names "%s"', (key, value, near) => {
      const ps = problems({ [key]: value });
      expect(ps).toHaveLength(1);
      expect(ps[0]).toMatch(new RegExp(`^${key}: not a context key of this app; did you mean "${near}"\\?`));
      expect(ps[0].split('\n')).toHaveLength(1);
    });

    test('the renamed -c databaseInstanceClass names its replacement and why', () => {
      const ps = problems({ databaseInstanceClass: 'db.t4g.micro' });
      expect(ps).toHaveLength(1);
      expect(ps[0]).toMatch(/^databaseInstanceClass: no longer read: the database is Aurora PostgreSQL Serverless v2, sized in Aurora capacity units \(ACUs\).*did you mean "databaseMaxCapacityAcu"\? Fix: -c databaseMaxCapacityAcu=<ACUs>/);
    });

    test("CDK's own context keys (feature flags, aws:cdk settings, lookups) are not the app's to judge", () => {
      expect(withKeys({ '@aws-cdk/core:checkSecretUsage': true, 'aws:cdk:bundling-stacks': [], 'availability-zones:account=1:region=x': [], stage: 'pilot', deployNonce: 'x' })).not.toThrow();
    });

    test('unknown keys of a configFile, at any depth, with the nearest key at that level', () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cfg-'));
      const file = path.join(dir, 'c.json');
      fs.writeFileSync(file, JSON.stringify({ embeding: { instanceType: 'ml.g5.xlarge' }, database: { readerCount: 1, backupRetentionDays: 14 }, budget: { workloadLimitsUsd: { pipeline: 20 } } }));
      const ps = problems({ configFile: file });
      expect(ps).toEqual([
        expect.stringMatching(/^configFile .*c\.json: unknown key "embeding"; did you mean "embedding"\?/),
        expect.stringMatching(/^configFile .*c\.json: unknown key "database\.readerCount"; did you mean "database\.readers"\?/),
      ]);
    });

    test('a configFile may set every field the presets have, and the optional ones', () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cfg-'));
      const file = path.join(dir, 'c.json');
      const { stage: _stage, ...rest } = PRODUCTION;
      fs.writeFileSync(file, JSON.stringify({ ...rest, account: '111122223333', region: 'eu-west-1', alarmEmail: 'oncall@example.com' }));
      expect(withKeys({ stage: 'production', configFile: file })).not.toThrow();
    });

    test('an accepted readiness difference must name a rule and give a reason', () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cfg-'));
      const file = path.join(dir, 'c.json');
      fs.writeFileSync(file, JSON.stringify({ acceptedReadinessDifferences: { DatabaseMultiAZ: 'single AZ halves the pilot database cost', LogRetentionSet: '' } }));
      const ps = problems({ configFile: file });
      expect(ps).toContainEqual(expect.stringMatching(/unknown readiness rule "DatabaseMultiAZ"; did you mean "DatabaseMultiAz"\?/));
      expect(ps).toContainEqual(expect.stringMatching(/acceptedReadinessDifferences\.LogRetentionSet: received ""; expected the reason/));
    });
  });

  test('the embedding window must divide a day and is only for scale-to-zero endpoints', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cfg-'));
    const file = path.join(dir, 'c.json');
    fs.writeFileSync(file, JSON.stringify({ embedding: { batchWindowMinutes: 500 } }));
    expect(problemsOf({ configFile: file })).toEqual([expect.stringMatching(/^embedding\.batchWindowMinutes: received 500; must divide a day/)]);
    expect(problemsOf({ stage: 'production', configFile: file }).join('\n')).toMatch(/an always-on endpoint gains nothing from a window/);
  });
});

test('the listed log retention values are the ones aws-cdk-lib offers (RetentionDays, without INFINITE)', () => {
  const cdk = Object.values(RetentionDays).filter((v) => typeof v === 'number' && v > 0 && v !== RetentionDays.INFINITE);
  expect([...LOG_RETENTION_VALUES].sort((a, b) => a - b)).toEqual((cdk as number[]).sort((a, b) => a - b));
});
