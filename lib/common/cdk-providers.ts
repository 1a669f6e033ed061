import { Stack } from 'aws-cdk-lib';
import { acknowledge } from './acknowledge';

/** CDK's own custom-resource handlers that a stack may contain, and what each does. */
const CDK_PROVIDERS: Record<string, string> = {
  'Custom::S3AutoDeleteObjectsCustomResourceProvider': 'empties a removable bucket when the stack is deleted (pilot stages only)',
  'Custom::VpcRestrictDefaultSGCustomResourceProvider': "removes every rule from the VPC's default security group",
};

/**
 * Acknowledges the Control Tower "Lambda in a VPC" rule on CDK-provided custom-resource handlers.
 * Call at the end of a stack's constructor. They are CloudFormation-only helpers that CDK offers no
 * VPC placement for; they run only during deployment and call one AWS API.
 */
export function acknowledgeCdkProviders(stack: Stack): void {
  for (const [id, what] of Object.entries(CDK_PROVIDERS)) {
    const provider = stack.node.tryFindChild(id);
    if (!provider) continue;
    acknowledge(provider, ['cdk-validator-cfnguard::lambda_inside_vpc_check'],
      `CDK-provided custom-resource handler that ${what}. It runs only while CloudFormation deploys or deletes the stack, calls one AWS API ` +
        'with a role scoped to its resource, and CDK offers no VPC placement for it. No document or database traffic passes through it.');
  }
}
