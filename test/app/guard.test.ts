import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { synthStage } from '../helpers';

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

/** rule name -> logical ids that fail it, for one template. */
function guardFailures(templateFile: string): Map<string, Set<string>> {
  const r = spawnSync(GUARD, ['validate', '-d', templateFile, '-r', RULES, '--output-format', 'json', '--show-summary', 'none', '--structured'], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  const reports = JSON.parse(r.stdout);
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
            expect({ id, cdkHandler, crossStack, apiOnly: apiOnly || publicFetch }).toEqual({ id, cdkHandler, crossStack: !cdkHandler && !apiOnly && !publicFetch, apiOnly: !cdkHandler && !crossStack });
          }
        }
      }
    }
    expect(failuresSeen).toBeGreaterThan(0); // the binary ran and found the known, acknowledged cases
  });
});
