import { CfnResource, Stack, TagManager } from 'aws-cdk-lib';
import * as fs from 'fs';
import * as path from 'path';
import { TAG_KEYS, MANAGED_BY, STACK_PARTS } from '../../lib/blueprint';
import { resourceModel } from '../../lib/common';
import { ReadinessReport } from '../../lib/readiness';
import { allStacks, synthStage, taggableResources, validationReport } from '../helpers';

const STAGES = ['pilot', 'production'] as const;

/** The tags of one synthesized resource, whatever shape its type uses (list of Key/Value or map). */
function renderedTags(stack: Stack, r: CfnResource, template: any): Record<string, string> {
  const tm = (r as unknown as { tags: TagManager }).tags;
  const res = template.Resources[stack.resolve(r.logicalId)];
  const name = tm.tagPropertyName.charAt(0).toUpperCase() + tm.tagPropertyName.slice(1); // the L1 prop name, capitalised in CloudFormation
  const raw = res?.Properties?.[name];
  if (Array.isArray(raw)) return Object.fromEntries(raw.map((t: any) => [t.Key ?? t.key, t.Value ?? t.value]));
  return raw ?? {};
}

describe.each(STAGES)('%s stage', (stageName) => {
  const synth = () => synthStage(stageName, { alarmEmail: 'oncall@example.com', costCenter: 'CC-1', businessUnit: 'Research', owner: 'rag-team' }, { rulePacks: true });

  test('synthesizes with every rule pack and no unacknowledged finding', () => {
    // synthStage runs app.synth() with every pack registered: it throws on any finding.
    expect(() => synth()).not.toThrow();
  });

  test.each(STACK_PARTS.filter((p) => p !== 'monitoring'))('every rule pack reports zero unacknowledged findings on the %s stack', (part) => {
    const { outdir, config } = synth();
    const report = validationReport(outdir);
    const plugins = report.pluginReports.map((p) => p.pluginName).filter((n) => n !== 'CloudFormation-Validate').sort();
    // A pack appears in the report once it has a finding or an acknowledgement; the readiness pack
    // has neither in a fully ready production stage.
    expect(plugins.filter((n) => n !== 'ProductionReadiness')).toEqual(['AwsSolutions', 'HIPAA.Security', 'NIST.800.53.R5', 'PCI.DSS.321', 'Serverless', 'cdk-validator-cfnguard']);
    const accepted = Object.keys(config.acceptedReadinessDifferences).map((r) => `ProductionReadiness-${r}`);
    for (const p of report.pluginReports) {
      const inStack = p.violations.filter((v) => JSON.stringify(v).includes(`docai-${stageName}-${part}/`));
      // The readiness pack reports the stage's accepted differences from production as warnings (the
      // pilot's single-AZ database, scale-to-zero endpoint); anything else is a finding.
      const findings = p.pluginName === 'ProductionReadiness' ? inStack.filter((v) => !(v.severity === 'warning' && accepted.includes(v.ruleName))) : inStack;
      expect({ plugin: p.pluginName, violations: findings }).toEqual({ plugin: p.pluginName, violations: [] });
    }
  });

  test('every acknowledgement carries a reason of substance', () => {
    const { outdir } = synth();
    const acks = validationReport(outdir).pluginReports.flatMap((p) => p.suppressedViolations ?? []).filter((s) => !s.acknowledgedId.startsWith('CloudFormation-Validate'));
    expect(acks.length).toBeGreaterThan(0);
    for (const a of acks) expect({ id: a.acknowledgedId, at: a.acknowledgedAt, long: a.reason.length >= 80 }).toEqual({ id: a.acknowledgedId, at: a.acknowledgedAt, long: true });
  });

  test('the readiness report: production is ready everywhere; the pilot differs only where its config accepts it', () => {
    const { outdir, config } = synth();
    const report: ReadinessReport = JSON.parse(fs.readFileSync(path.join(outdir, 'readiness-report.json'), 'utf8'));
    const md = fs.readFileSync(path.join(outdir, 'readiness-report.md'), 'utf8');
    const statuses = Object.fromEntries(Object.entries(report.categories).map(([c, v]) => [c, v.status]));
    const all = Object.values(report.categories).flatMap((c) => c.findings);
    if (stageName === 'production') {
      expect(statuses).toEqual({ compute: 'ready', data: 'ready', 'security-and-cost': 'ready' });
      expect(all).toEqual([]);
    } else {
      expect(statuses).toEqual({ compute: 'partially ready', data: 'partially ready', 'security-and-cost': 'ready' });
      // every finding is a warning the stage config accepts, listed with its reason
      for (const f of all) expect({ rule: f.rule, severity: f.severity, because: f.acceptedBecause }).toEqual({ rule: f.rule, severity: 'warning', because: config.acceptedReadinessDifferences[f.rule] });
      expect(report.accepted.map((f) => f.rule).sort()).toEqual(Object.keys(config.acceptedReadinessDifferences).sort());
      for (const reason of Object.values(config.acceptedReadinessDifferences)) expect(md).toContain(reason);
      // The synth files them with the acknowledgements, as "accepted for this stage: <reason>", and
      // prints none of them as a warning to fix.
      const pack = validationReport(outdir).pluginReports.find((p) => p.pluginName === 'ProductionReadiness')!;
      const acks = Object.fromEntries((pack.suppressedViolations ?? []).map((v) => [v.ruleName.replace('ProductionReadiness-', ''), v.reason]));
      expect(acks).toEqual(Object.fromEntries(Object.entries(config.acceptedReadinessDifferences).map(([r, why]) => [r, `accepted for this stage: ${why}`])));
      expect(pack.violations.filter((v) => v.ruleName.replace('ProductionReadiness-', '') in config.acceptedReadinessDifferences)).toEqual([]);
    }
  });

  test('every resource of a taggable type carries the cost-allocation tags, CDK\'s own provider functions and roles included', () => {
    const { templates } = synth();
    const keys = [...Object.values(TAG_KEYS)].sort();
    let raw = 0;
    for (const [stackName, t] of Object.entries(templates)) {
      for (const [id, r] of Object.entries<any>(t.toJSON().Resources)) {
        const info = resourceModel(r.Type)?.tagInformation;
        if (!info) continue; // the type takes no tags (policies, associations, custom resources)
        const tags = r.Properties?.[info.tagPropertyName];
        const present = Array.isArray(tags) ? tags.map((x: any) => x.Key) : Object.keys(tags ?? {});
        expect({ stackName, id, type: r.Type, tags: present.filter((k) => keys.includes(k)).sort() }).toEqual({ stackName, id, type: r.Type, tags: keys });
        if (/CustomResourceProvider(Role|Handler)/.test(id)) raw++;
      }
    }
    expect(raw).toBeGreaterThanOrEqual(2); // the raw CfnResources Tags.of does not reach are in the check
  });

  test('stacks are named <project>-<stage>-<part>, and only the data stack is stateful', () => {
    const { stacks } = synth();
    expect(stacks.data.stackName).toBe(`docai-${stageName}-data`);
    expect(stacks.app.stackName).toBe(`docai-${stageName}-app`);
    // Keys are not listed: the app stack's key encrypts only that stack's own logs and state.
    const statefulTypes = /^AWS::(S3::Bucket|RDS::DBInstance|RDS::DBCluster|SQS::Queue|SecretsManager::Secret|SNS::Topic|EC2::VPC)$/;
    // The cost stack lives in us-east-1 and keeps its own alert topic (and that topic's DLQ) there.
    const costTypes = stacks.cost.node.findAll().filter((c): c is CfnResource => CfnResource.isCfnResource(c) && statefulTypes.test(c.cfnResourceType)).map((r) => r.cfnResourceType).sort();
    expect(costTypes).toEqual(['AWS::SNS::Topic', 'AWS::SQS::Queue']);
    for (const s of allStacks(stacks).filter((x) => x !== stacks.data && x !== stacks.cost)) {
      const stateful = s.node.findAll().filter((c): c is CfnResource => CfnResource.isCfnResource(c) && statefulTypes.test(c.cfnResourceType) && !/WorkBucket/.test(c.node.path));
      expect(stateful.map((r) => r.node.path)).toEqual([]);
    }
  });

  test('termination protection is on for the stateful stack and the app stack (which keeps its evidence) exactly when the stage retains data', () => {
    const { stacks, config } = synth();
    expect(stacks.data.terminationProtection).toBe(config.terminationProtection);
    expect(stacks.data.terminationProtection).toBe(stageName === 'production');
    expect(stacks.app.terminationProtection).toBe(stageName === 'production');
    expect(stacks.inference.terminationProtection).toBe(false);
  });

  test('every taggable resource carries the cost-allocation tags', () => {
    const { stacks, templates } = synth();
    let checked = 0;
    for (const stack of allStacks(stacks)) {
      const template = templates[stack.stackName].toJSON();
      for (const r of taggableResources(stack)) {
        const tags = renderedTags(stack, r, template);
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
