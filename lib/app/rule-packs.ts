import { CfnGuardValidator } from '@cdklabs/cdk-validator-cfnguard';
import { Stage, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, HIPAASecurityChecks, NagPack, NIST80053R5Checks, PCIDSS321Checks, ServerlessChecks } from 'cdk-nag';
import { IConstruct } from 'constructs';

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

/** AWS Control Tower proactive controls, run by the cfn-guard binary shipped in the package. */
export function controlTowerGuard(): CfnGuardValidator {
  return new CfnGuardValidator({ maxBuffer: 64 * 1024 * 1024 });
}

/**
 * Registers every rule pack once, on the app (or a Stage): the synth fails on any unacknowledged
 * finding and writes `validation-report.json` into the cloud assembly.
 */
export function addRulePacks(app: Stage, extra: NagPack[] = []): void {
  Validations.of(app).addPlugins(...nagPacks(app), controlTowerGuard(), ...extra);
}
