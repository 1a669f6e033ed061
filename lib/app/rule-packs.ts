import { CfnGuardValidator } from '@cdklabs/cdk-validator-cfnguard';
import { IPolicyValidationContextBeta1, IPolicyValidationPluginBeta1, PolicyValidationPluginReportBeta1, Stage, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, HIPAASecurityChecks, NagPack, NIST80053R5Checks, PCIDSS321Checks, ServerlessChecks } from 'cdk-nag';
import { IConstruct } from 'constructs';
import { guardRulesFor, templateResourceTypes } from './guard-rules';

/**
 * The cdk-nag packs run on every synth. `writeSuppressionsToCloudFormation` copies each
 * acknowledgement (rule id + reason) into the resource's template Metadata, so a reviewer reading
 * `cdk.out/` sees the reason next to the resource.
 */
export function nagPacks(scope?: IConstruct): NagPack[] {
  const props = { verbose: true, writeSuppressionsToCloudFormation: true };
  return [
    new AwsSolutionsChecks(scope, props),
    new HIPAASecurityChecks(scope, props),
    new NIST80053R5Checks(scope, props),
    new PCIDSS321Checks(scope, props),
    new ServerlessChecks(scope, props),
  ];
}

export interface ControlTowerGuardProps {
  /**
   * The largest cfn-guard output read, in bytes (its JSON report grows with the templates).
   * @default 64 MiB
   */
  readonly maxBuffer?: number;
}

/**
 * AWS Control Tower proactive controls, run by the cfn-guard binary shipped in the package. Same
 * plugin name, rule ids and findings as `CfnGuardValidator`; each template is given only the rule
 * files that name a resource type the template has. A rule file selects its resources by the types
 * it names (`Resources.*[ Type == "AWS::..." ]`), so on a template without them it only skips
 * (scenario 1 of every rule: "does not contain any ... resources: SKIP"); aws-cdk-lib's built-in
 * CloudFormationValidatePlugin selects its rules by resource type the same way. All 237 rules on
 * every template cost ~19 s of CPU per synth here (the binary's allocator maps and unmaps memory
 * about a million times), the selected ones ~5 s (npm run bench:synth); test/app/guard.test.ts
 * proves the findings equal on both stages.
 */
export class ControlTowerGuard implements IPolicyValidationPluginBeta1 {
  public readonly name: string;
  public readonly version?: string;
  public readonly ruleIds?: string[];
  private readonly maxBuffer: number;

  constructor(props: ControlTowerGuardProps = {}) {
    this.maxBuffer = props.maxBuffer ?? 64 * 1024 * 1024;
    const all = new CfnGuardValidator({ maxBuffer: this.maxBuffer });
    // Acknowledgements are `cdk-validator-cfnguard::<rule>`: the name must stay the package's.
    this.name = all.name;
    this.version = all.version;
    this.ruleIds = all.ruleIds;
  }

  public validate(context: IPolicyValidationContextBeta1): PolicyValidationPluginReportBeta1 {
    const violations: PolicyValidationPluginReportBeta1['violations'] = [];
    let success = true;
    for (const templatePath of context.templatePaths) {
      const rules = guardRulesFor(templateResourceTypes(templatePath));
      if (!rules.length) continue;
      const report = new CfnGuardValidator({ controlTowerRulesEnabled: false, rules, maxBuffer: this.maxBuffer }).validate({ ...context, templatePaths: [templatePath] });
      violations.push(...report.violations);
      success &&= report.success;
    }
    return { success, violations };
  }
}

/** AWS Control Tower proactive controls (cfn-guard), as registered on every synth. */
export function controlTowerGuard(): ControlTowerGuard {
  return new ControlTowerGuard({ maxBuffer: 64 * 1024 * 1024 });
}

/**
 * Registers every rule pack once, on the app (or a Stage): the synth fails on any unacknowledged
 * finding and writes `validation-report.json` into the cloud assembly.
 */
export function addRulePacks(app: Stage, extra: NagPack[] = []): void {
  Validations.of(app).addPlugins(...nagPacks(app), controlTowerGuard(), ...extra);
}
