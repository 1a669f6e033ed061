/**
 * A pinned environment (`-c account=... -c region=...`, the README's own example) synthesizes with
 * every rule pack, without credentials, in more than one region, for both stages; and it is the
 * same system as the environment-agnostic synth: the same resources, only concrete ARNs.
 */
import { supportedRegions, InferenceFramework } from '../../lib/gpu-inference/images';
import { synthStage, validationReport } from '../helpers';

const ACCOUNT = '111122223333';
const REGIONS = ['eu-west-1', 'us-west-2'] as const;
const IDENTITY = { alarmEmail: 'oncall@example.com', costCenter: 'CC-1', businessUnit: 'Research', owner: 'rag-team' };

test('the regions under test are in the published image table of both stages', () => {
  const both = supportedRegions([InferenceFramework.TEXT_EMBEDDINGS_INFERENCE, InferenceFramework.LARGE_MODEL_INFERENCE]);
  for (const r of REGIONS) expect(both).toContain(r);
});

describe.each(['pilot', 'production'] as const)('%s pinned', (stage) => {
  const agnostic = () => synthStage(stage, IDENTITY);

  test.each(REGIONS)('%s: every rule pack passes, no lookup is needed, and the resources are those of the agnostic synth', (region) => {
    // Throws on an unacknowledged finding, and on a context lookup (no credentials here).
    const pinned = synthStage(stage, { ...IDENTITY, account: ACCOUNT, region }, { rulePacks: true });
    const nagErrors = validationReport(pinned.outdir).pluginReports.flatMap((p) => p.violations.filter((v) => v.severity === 'error').map((v) => `${p.pluginName} ${v.ruleName}`));
    expect(nagErrors).toEqual([]);

    for (const [name, template] of Object.entries(pinned.templates)) {
      const stack = Object.values(pinned.stacks).find((s) => s.stackName === name)!;
      expect({ name, account: stack.account, region: stack.region }).toEqual({ name, account: ACCOUNT, region: name.endsWith('-cost') ? 'us-east-1' : region });
      // An API Gateway deployment's logical id ends in a hash of the API's resolved content (CDK: a changed
      // API makes a new deployment), which holds the account and region when they are pinned.
      const stableId = (id: string, type: string) => (type === 'AWS::ApiGateway::Deployment' ? id.replace(/[0-9a-f]{32}$/, '<content hash>') : id);
      const resources = (t: typeof template) => Object.fromEntries(Object.entries(t.toJSON().Resources as Record<string, { Type: string }>).map(([id, r]) => [stableId(id, r.Type), r.Type]));
      expect(resources(template)).toEqual(resources(agnostic().templates[name]));
    }

    // The endpoint's log-group grant (the acknowledgement that used to fail here) is concrete.
    const json = JSON.stringify(pinned.templates[`docai-${stage}-inference`].toJSON());
    expect(json).toContain(`arn:aws:logs:${region}:${ACCOUNT}:log-group:/aws/sagemaker/Endpoints/docai-${stage}-embed*`);
    // The VPC's subnets take their zones at deploy time, as in the agnostic synth.
    const subnets = Object.values(pinned.templates[`docai-${stage}-data`].findResources('AWS::EC2::Subnet'));
    expect(subnets.length).toBeGreaterThan(0);
    for (const s of subnets) expect(JSON.stringify(s.Properties.AvailabilityZone)).toContain('Fn::GetAZs');
  });
});
