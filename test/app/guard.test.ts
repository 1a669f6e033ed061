import { spawnSync } from 'child_process';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { CfnGuardValidator } from '@cdklabs/cdk-validator-cfnguard';
import { controlTowerGuard } from '../../lib/app';
import { guardRuleFiles, guardRulesFor, templateResourceTypes } from '../../lib/app/guard-rules';
import { allStacks, synthStage } from '../helpers';

/**
 * Proof behind every acknowledged Control Tower (cfn-guard) rule: runs the cfn-guard binary shipped
 * in @cdklabs/cdk-validator-cfnguard on each synthesized template and checks that each resource failing
 * a guard rule carries an acknowledgement of exactly that rule in its own metadata, and that the
 * failures of "Lambda in a VPC" are only CDK's deployment-time handlers or functions whose subnets
 * come from another stack. An acknowledgement can therefore never hide a new, unintended failure.
 */
const PKG = path.join(__dirname, '..', '..', 'node_modules', '@cdklabs', 'cdk-validator-cfnguard');
const GUARD = path.join(PKG, 'bin', 'ubuntu', process.arch === 'arm64' ? 'aarch64' : 'x86_64', 'cfn-guard');
const RULES = path.join(PKG, 'rules', 'control-tower', 'cfn-guard');

const rawRuns = new Map<string, any[]>();
/** cfn-guard's own report on one template, all rules or the rule files given. */
function guardRun(templateFile: string, rules: string[] = [RULES]): any[] {
  const key = JSON.stringify([templateFile, rules]);
  if (!rawRuns.has(key)) {
    const r = spawnSync(GUARD, ['validate', '-d', templateFile, ...rules.flatMap((f) => ['-r', f]), '--output-format', 'json', '--show-summary', 'none', '--structured'], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
    if (r.status !== 0 && r.status !== 19) throw new Error(`cfn-guard exited ${r.status}: ${r.stderr}`);
    rawRuns.set(key, JSON.parse(r.stdout));
  }
  return rawRuns.get(key)!;
}

/** rule name -> logical ids that fail it, for one template. */
function guardFailures(templateFile: string): Map<string, Set<string>> {
  const reports = guardRun(templateFile);
  const out = new Map<string, Set<string>>();
  for (const report of reports) {
    for (const nc of report.not_compliant ?? []) {
      const name = nc.Rule.name as string;
      const ids = new Set([...JSON.stringify(nc).matchAll(/"\/Resources\/([A-Za-z0-9]+)/g)].map((m) => m[1]));
      out.set(name, new Set([...(out.get(name) ?? []), ...ids]));
    }
  }
  return out;
}

describe.each(['pilot', 'production'])('Control Tower guard rules on the %s stage', (stage) => {
  test('every resource that fails a guard rule acknowledges exactly that rule, and the VPC rule fails only where expected', () => {
    const { outdir, stacks } = synthStage(stage, { alarmEmail: 'oncall@example.com' }, { rulePacks: true });
    let failuresSeen = 0;
    for (const stack of Object.values(stacks)) {
      const file = path.join(outdir, stack.templateFile);
      const template = JSON.parse(fs.readFileSync(file, 'utf8'));
      for (const [rule, ids] of guardFailures(file)) {
        for (const id of ids) {
          failuresSeen++;
          const res = template.Resources[id];
          const acked = (res.Metadata?.cdk_nag?.rules_to_suppress ?? []).map((s: any) => s.id);
          expect({ stack: stack.stackName, id, rule, acknowledged: acked.includes(`cdk-validator-cfnguard::${rule}`) }).toEqual({ stack: stack.stackName, id, rule, acknowledged: true });
          if (rule === 'lambda_inside_vpc_check') {
            const subnets = res.Properties.VpcConfig?.SubnetIds;
            // CDK's own handlers: custom-resource providers, and the AwsCustomResource singleton (fixed id AWS679f53fac002430cb0da5b7982bd2287)
            const cdkHandler = /^Custom[A-Za-z0-9]+CustomResourceProviderHandler/.test(id) || /^AWS679f53fac002430cb0da5b7982bd2287/.test(id);
            const crossStack = Array.isArray(subnets) && subnets.length > 0 && subnets.every((s: any) => 'Fn::GetStackOutput' in s || 'Fn::ImportValue' in s);
            // ingestion, Embed and the query function run outside the VPC unless the stage sets network.privateLinkForAwsApis
            const apiOnly = !subnets && /^(IngestionFunction|PipelineEmbed|Query)[A-F0-9]{8}$/.test(id);
            // in every stage: the deploy-time fetch of the user pool's public keys, which the isolated subnets cannot reach
            const publicFetch = !subnets && /^QueryJwks[A-F0-9]{8}$/.test(id);
            // in every stage: the database bootstrap, which calls only the RDS Data API (its public endpoint), so the VPC needs no Secrets Manager endpoint
            const dataApiOnly = !subnets && /^VectorDbBootstrap[A-F0-9]{8}$/.test(id);
            expect({ id, cdkHandler, crossStack, apiOnly: apiOnly || publicFetch || dataApiOnly }).toEqual({ id, cdkHandler, crossStack: !cdkHandler && !apiOnly && !publicFetch && !dataApiOnly, apiOnly: !cdkHandler && !crossStack });
          }
        }
      }
    }
    expect(failuresSeen).toBeGreaterThan(0); // the binary ran and found the known, acknowledged cases
  });

  test('the rule files the synth gives each template find exactly what all 237 rules find', () => {
    const { app, outdir, stacks } = synthStage(stage, { alarmEmail: 'oncall@example.com' }, { rulePacks: true });
    const files = allStacks(stacks).map((s) => path.join(outdir, s.templateFile));
    // cfn-guard's verdicts per template: every rule that passes and every failure, with its details
    // (failures named by rule and failing resources, plus a digest of their full details)
    const verdicts = (reports: any[]) => reports.map((r) => {
      const failures = (r.not_compliant ?? []).map((x: any) => JSON.stringify(x)).sort();
      return {
        file: r.name,
        compliant: [...(r.compliant ?? [])].sort(),
        failing: failures.map((f: string) => `${JSON.parse(f).Rule.name}: ${[...new Set([...f.matchAll(/"\/Resources\/([A-Za-z0-9]+)/g)].map((m) => m[1]))].sort().join(' ')}`),
        details: createHash('sha256').update(failures.join('\n')).digest('hex'),
      };
    });
    let skipped = 0;
    for (const file of files) {
      const selected = guardRulesFor(templateResourceTypes(file));
      skipped += guardRuleFiles().size - selected.length;
      expect(verdicts(guardRun(file, selected))).toEqual(verdicts(guardRun(file)));
    }
    expect(skipped).toBeGreaterThan(files.length * 100); // the selection does leave rules out
    // and the plugin the synth registers reports the same violations as the package's validator
    const context = { templatePaths: files, appConstruct: app };
    const violations = (v: any[]) => {
      const all = v.map((x) => JSON.stringify(x)).sort();
      return { named: v.map((x) => `${x.ruleName}: ${x.violatingResources.map((r: any) => r.resourceLogicalId).sort().join(' ')}`).sort(), details: createHash('sha256').update(all.join('\n')).digest('hex'), count: all.length };
    };
    const all = new CfnGuardValidator({ maxBuffer: 64 * 1024 * 1024 }).validate(context);
    const ours = controlTowerGuard().validate(context);
    expect(violations(all.violations).count).toBeGreaterThan(0);
    expect({ success: ours.success, violations: violations(ours.violations) }).toEqual({ success: all.success, violations: violations(all.violations) });
    expect(controlTowerGuard()).toMatchObject({ name: 'cdk-validator-cfnguard', ruleIds: new CfnGuardValidator().ruleIds });
  });
});
