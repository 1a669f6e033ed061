import { CfnResource, IAspect } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';

/**
 * Where cfn-lint (AWS's CloudFormation linter, pinned in scripts/cfn-lint.sh) is wrong because its
 * bundled resource schemas are older than the ones aws-cdk-lib generates from: the property exists in
 * CloudFormation, cfn-lint does not know it yet. Each entry is ignored on those resources only (template
 * Metadata `cfn-lint.config.ignore_checks`), never for the whole template. Delete an entry when the
 * pinned cfn-lint knows the property (the cfn-lint test fails on an entry that is no longer needed).
 */
export const CFN_LINT_SCHEMA_LAG: ReadonlyArray<{ type: string; rule: string; property: string; reason: string }> = [
  {
    type: 'AWS::CloudWatch::Dashboard', rule: 'E3002', property: 'Tags',
    reason: 'Dashboards take Tags (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-cloudwatch-dashboard.html); cfn-lint 1.51.0\'s schema predates it.',
  },
  {
    type: 'AWS::ApplicationAutoScaling::ScalableTarget', rule: 'E3002', property: 'Tags',
    reason: 'Scalable targets take Tags (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-applicationautoscaling-scalabletarget.html); cfn-lint 1.51.0\'s schema predates it.',
  },
];

/** Adds the narrow cfn-lint ignores of CFN_LINT_SCHEMA_LAG to the resources that carry the property. */
export class CfnLintSchemaLag implements IAspect {
  visit(node: IConstruct): void {
    if (!CfnResource.isCfnResource(node)) return;
    const rules = CFN_LINT_SCHEMA_LAG.filter((e) => e.type === node.cfnResourceType).map((e) => e.rule);
    if (rules.length > 0) node.addMetadata('cfn-lint', { config: { ignore_checks: [...new Set(rules)] } });
  }
}
