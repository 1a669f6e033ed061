import { CfnResource, Stack, TagManager } from 'aws-cdk-lib';
import { TAG_KEYS, MANAGED_BY, STACK_PARTS } from '../../lib';
import { allStacks, nagFindings, synthStage, taggableResources } from '../helpers';

const STAGES = ['pilot', 'production'] as const;

/** The tags of one synthesized resource, whatever shape its type uses (list of Key/Value or map). */
function renderedTags(stack: Stack, r: CfnResource): Record<string, string> {
  const tm = (r as unknown as { tags: TagManager }).tags;
  const json = stack.resolve((r as unknown as { _toCloudFormation(): any })._toCloudFormation());
  const props = Object.values(json.Resources as Record<string, any>)[0].Properties ?? {};
  const raw = props[tm.tagPropertyName];
  if (Array.isArray(raw)) return Object.fromEntries(raw.map((t: any) => [t.Key ?? t.key, t.Value ?? t.value]));
  return raw ?? {};
}

describe.each(STAGES)('%s stage', (stageName) => {
  const synth = () => synthStage(stageName, { alarmEmail: 'oncall@example.com', costCenter: 'CC-1', businessUnit: 'Research', owner: 'rag-team' });

  test('synthesizes with every rule pack and no unacknowledged finding', () => {
    // synthStage runs app.synth() with every pack registered: it throws on any finding.
    expect(() => synth()).not.toThrow();
  });

  test.each(STACK_PARTS.filter((p) => p === 'data' || p === 'app'))('each cdk-nag pack reports zero findings on the %s stack', (part) => {
    const { stacks } = synth();
    const stack = allStacks(stacks).find((s) => s.stackName.endsWith(`-${part}`))!;
    const findings = nagFindings(stack);
    expect(Object.keys(findings).sort()).toEqual(['AwsSolutions', 'HIPAA.Security', 'NIST.800.53.R5', 'PCI.DSS.321', 'Serverless']);
    for (const list of Object.values(findings)) expect(list).toEqual([]);
  });

  test('the Control Tower guard rules report no violation', () => {
    const { outdir } = synth();
    const report = require(`${outdir}/validation-report.json`);
    const guard = report.pluginReports.find((p: any) => /cfnguard/i.test(p.summary.pluginName));
    expect(guard).toBeDefined();
    expect(guard.summary.status).toBe('success');
    expect(guard.violations ?? []).toEqual([]);
  });

  test('stacks are named <project>-<stage>-<part>, and only the data stack is stateful', () => {
    const { stacks } = synth();
    expect(stacks.data.stackName).toBe(`docai-${stageName}-data`);
    expect(stacks.app.stackName).toBe(`docai-${stageName}-app`);
    const statefulTypes = /^AWS::(KMS::Key|S3::Bucket|RDS::DBInstance|RDS::DBCluster|SQS::Queue|SecretsManager::Secret|SNS::Topic|EC2::VPC)$/;
    for (const s of allStacks(stacks).filter((x) => x !== stacks.data)) {
      const stateful = s.node.findAll().filter((c): c is CfnResource => CfnResource.isCfnResource(c) && statefulTypes.test(c.cfnResourceType) && !/WorkBucket|Pipeline/.test(c.node.path));
      expect(stateful.map((r) => r.node.path)).toEqual([]);
    }
  });

  test('termination protection is on for the stateful stack exactly when the stage retains data', () => {
    const { stacks, config } = synth();
    expect(stacks.data.terminationProtection).toBe(config.terminationProtection);
    expect(stacks.data.terminationProtection).toBe(stageName === 'production');
    expect(stacks.app.terminationProtection).toBe(false);
  });

  test('every taggable resource carries the cost-allocation tags', () => {
    const { stacks } = synth();
    let checked = 0;
    for (const stack of allStacks(stacks)) {
      for (const r of taggableResources(stack)) {
        const tags = renderedTags(stack, r);
        expect({ path: r.node.path, tags }).toEqual({
          path: r.node.path,
          tags: expect.objectContaining({
            [TAG_KEYS.project]: 'docai',
            [TAG_KEYS.environment]: stageName,
            [TAG_KEYS.costCenter]: 'CC-1',
            [TAG_KEYS.businessUnit]: 'Research',
            [TAG_KEYS.owner]: 'rag-team',
            [TAG_KEYS.managedBy]: MANAGED_BY,
            [TAG_KEYS.workload]: expect.stringMatching(/^[a-z-]+$/),
          }),
        });
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(0);
  });
});
