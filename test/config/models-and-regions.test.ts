import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { chainModelIds, invocationFor, MODEL_CATALOG, missingInRegion, PILOT, PRESETS, PRODUCTION, REGION_AVAILABILITY, resolveStageConfig, StageConfigError, stageSupportedRegions } from '../../lib/config';
import { synthStage } from '../helpers';

const ROOT = path.join(__dirname, '..', '..');

function problemsOf(ctx: Record<string, unknown>): string[] {
  try {
    resolveStageConfig((k) => ctx[k], { onWarning: () => undefined });
  } catch (e) {
    expect(e).toBeInstanceOf(StageConfigError);
    return (e as StageConfigError).problems;
  }
  throw new Error('expected the config to be rejected');
}

function configFile(content: unknown): string {
  const f = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'models-')), 'config.json');
  fs.writeFileSync(f, JSON.stringify(content));
  return f;
}

describe('model catalogue', () => {
  test('no preset names an EOL or Legacy model, and every preset price is the catalogue\'s', () => {
    for (const preset of [PILOT, PRODUCTION]) {
      const ids = chainModelIds(preset);
      expect(ids.length).toBeGreaterThan(0);
      for (const id of ids) expect({ id, lifecycle: MODEL_CATALOG[id]?.lifecycle }).toEqual({ id, lifecycle: 'ACTIVE' });
      for (const m of Object.values(preset.gateway.models)) {
        if (m.provider !== 'bedrock') continue;
        expect([m.usdPerMillionInputTokens, m.usdPerMillionOutputTokens]).toEqual([MODEL_CATALOG[m.modelId].usdPerMillionInputTokens, MODEL_CATALOG[m.modelId].usdPerMillionOutputTokens]);
      }
    }
  });

  test('every entry names its sources and the date they were read', () => {
    for (const m of Object.values(MODEL_CATALOG)) {
      expect(m.sources.length).toBeGreaterThan(0);
      expect(m.read).toMatch(/^\d{4}-\d\d-\d\d$/);
      for (const p of m.profiles) for (const r of p.sourceRegions) expect(p.destinationRegions).toContain(r);
    }
  });

  test('in-region where Bedrock serves the model on demand, else the inference profile of the region, with its destination regions', () => {
    expect(invocationFor('amazon.nova-lite-v1:0', 'us-east-1')).toEqual({ invocationId: 'amazon.nova-lite-v1:0', foundationModelRegions: ['us-east-1'] });
    const eu = invocationFor('amazon.nova-lite-v1:0', 'eu-west-1')!;
    expect(eu.invocationId).toBe('eu.amazon.nova-lite-v1:0');
    expect(eu.foundationModelRegions).toEqual(['eu-central-1', 'eu-north-1', 'eu-south-1', 'eu-south-2', 'eu-west-1', 'eu-west-3']);
    expect(invocationFor('amazon.nova-lite-v1:0', 'us-west-1')).toBeUndefined();
    expect(invocationFor('anthropic.claude-3-haiku-20240307-v1:0', 'us-east-1')).toBeUndefined();
  });

  test('an end-of-life model is refused, naming the field, the value, the date and the replacement', () => {
    const problems = problemsOf({ configFile: configFile({ gateway: { models: { 'bedrock-nova-lite': { modelId: 'anthropic.claude-3-haiku-20240307-v1:0' } } } }) });
    expect(problems).toEqual([expect.stringMatching(/^gateway\.models\.bedrock-nova-lite\.modelId: "anthropic\.claude-3-haiku-20240307-v1:0" reached end of life on Bedrock on 2026-09-10: every call fails \(ResourceNotFoundException\)\. Fix: "modelId": "amazon\.nova-lite-v1:0"/)]);
  });

  test('a model the catalogue does not know is refused: its regions and profile would be guesses', () => {
    const problems = problemsOf({ configFile: configFile({ gateway: { models: { 'bedrock-nova-lite': { modelId: 'acme.unknown-model-v1:0' } } } }) });
    expect(problems).toEqual([expect.stringContaining('gateway.models.bedrock-nova-lite.modelId: "acme.unknown-model-v1:0" is not in the model catalogue')]);
  });

  test('a Legacy model deploys with a warning naming the field and the fix', () => {
    const catalog = MODEL_CATALOG as Record<string, (typeof MODEL_CATALOG)[string]>;
    catalog['amazon.legacy-test-v1:0'] = { ...MODEL_CATALOG['amazon.nova-lite-v1:0'], modelId: 'amazon.legacy-test-v1:0', lifecycle: 'LEGACY', legacySince: '2026-10-01', eolDate: '2027-04-01', successor: 'amazon.nova-lite-v1:0' };
    try {
      const warnings: string[] = [];
      const file = configFile({ gateway: { models: { 'bedrock-nova-lite': { modelId: 'amazon.legacy-test-v1:0' } } } });
      resolveStageConfig((k) => ({ configFile: file } as Record<string, unknown>)[k], { onWarning: (w) => warnings.push(w) });
      expect(warnings).toEqual([expect.stringMatching(/^gateway\.models\.bedrock-nova-lite\.modelId: "amazon\.legacy-test-v1:0" is Legacy on Bedrock since 2026-10-01, end of life 2027-04-01: .* Fix: "modelId": "amazon\.nova-lite-v1:0"/)]);
    } finally {
      delete catalog['amazon.legacy-test-v1:0'];
    }
  });
});

describe('supported regions', () => {
  test.each([
    ['us-west-1', 'resource type AWS::SageMaker::InferenceComponent'],
    ['ap-southeast-4', 'resource type AWS::SageMaker::Endpoint'],
    ['il-central-1', 'resource type AWS::SageMaker::Model'],
    ['af-south-1', 'resource type AWS::Bedrock::Guardrail'],
    ['ca-west-1', 'resource type AWS::SageMaker::InferenceComponent'],
    ['eu-west-2', 'Bedrock model amazon.nova-lite-v1:0'],
  ])('%s fails config validation, naming what is missing there (%s) and the regions that have everything', (region, missing) => {
    const [problem] = problemsOf({ region });
    expect(problem).toContain(`region: received "${region}"; AWS does not offer there what this stage uses: `);
    expect(problem).toContain(missing);
    expect(problem).toContain(`Regions that have everything: ${stageSupportedRegions(PILOT).join(', ')}. Fix: -c region=us-east-1`);
  });

  test('a region whose Aurora PostgreSQL has no db.serverless class is refused, naming it (every region of the table has it today)', () => {
    const table = REGION_AVAILABILITY.auroraPostgresServerlessV2 as string[];
    expect(table).toEqual(expect.arrayContaining(['us-east-1', 'eu-west-1']));
    const saved = [...table];
    table.splice(table.indexOf('eu-west-1'), 1);
    try {
      expect(missingInRegion(PILOT, 'eu-west-1')).toEqual(['Aurora PostgreSQL Serverless v2 (instance class db.serverless)']);
    } finally {
      table.splice(0, table.length, ...saved);
    }
    expect(missingInRegion(PILOT, 'eu-west-1')).toEqual([]);
  });

  test('every supported region resolves, for both stages', () => {
    for (const stage of ['pilot', 'production']) {
      const regions = stageSupportedRegions(PRESETS[stage]);
      expect(regions).toEqual(expect.arrayContaining(['us-east-1', 'us-east-2', 'us-west-2', 'eu-central-1', 'eu-west-1']));
      for (const region of regions) {
        expect(resolveStageConfig((k) => ({ stage, region } as Record<string, unknown>)[k]).region).toBe(region);
        expect(missingInRegion(PRESETS[stage], region)).toEqual([]);
      }
    }
  });

  test('the availability table covers every resource type both stages synthesize and matches the installed cfn-lint', () => {
    const dirs = ['pilot', 'production'].map((s) => synthStage(s).outdir);
    const r = spawnSync('python3', [path.join(ROOT, 'scripts', 'region_availability.py'), '--check', ...dirs], { encoding: 'utf8' });
    expect(`${r.stdout}${r.stderr}`).toContain(`is current (cfn-lint ${REGION_AVAILABILITY.cfnLintVersion}`);
    expect(r.status).toBe(0);
  }, 300_000);
});
