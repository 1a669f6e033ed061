import { CfnResource, Stack } from 'aws-cdk-lib';
import { acknowledge } from './acknowledge';

/** CDK's own custom-resource handlers that a stack may contain, and what each does. */
const CDK_PROVIDERS: Record<string, string> = {
  'Custom::S3AutoDeleteObjectsCustomResourceProvider': 'empties, when the stack is deleted, the buckets deleted with it',
  'Custom::VpcRestrictDefaultSGCustomResourceProvider': "removes every rule from the VPC's default security group",
};

/**
 * Acknowledges the Control Tower "Lambda in a VPC" rule on CDK-provided custom-resource handlers.
 * Call at the end of a stack's constructor. They are CloudFormation-only helpers that CDK offers no
 * VPC placement for; they run only during deployment and call one AWS API.
 */
export function acknowledgeCdkProviders(stack: Stack): void {
  for (const [id, reason] of Object.entries(cdkProviderReasons(stack))) acknowledge(stack.node.findChild(id), ['cdk-validator-cfnguard::lambda_inside_vpc_check'], reason);
}

/** The acknowledgement reason of each CDK provider present in `stack`, by its construct id. */
export function cdkProviderReasons(stack: Stack): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [id, what] of Object.entries(CDK_PROVIDERS)) {
    if (!stack.node.tryFindChild(id)) continue;
    out[id] = `CDK-provided custom-resource handler that ${what}${id === 'Custom::S3AutoDeleteObjectsCustomResourceProvider' ? ` (${autoDeletedBuckets(stack).join(', ')})` : ''}. It runs only while CloudFormation deploys or deletes the stack, calls one AWS API ` +
      'with a role scoped to its resource, and CDK offers no VPC placement for it. No document or database traffic passes through it.';
  }
  return out;
}

/** Construct paths of the buckets of `stack` that CDK empties on deletion (the same handler serves all). */
function autoDeletedBuckets(stack: Stack): string[] {
  return stack.node.findAll()
    .filter((c): c is CfnResource => CfnResource.isCfnResource(c) && c.cfnResourceType === 'Custom::S3AutoDeleteObjects')
    .map((c) => c.node.scope!.node.path.replace(`${stack.node.path}/`, '').replace(/\/AutoDeleteObjectsCustomResource$/, ''));
}
