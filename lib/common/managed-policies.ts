import { IAspect } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { IConstruct } from 'constructs';

/**
 * Turns every inline IAM policy (`AWS::IAM::Policy`, what CDK grants create) into a customer-managed
 * policy (`AWS::IAM::ManagedPolicy`) with the same document and attachments.
 *
 * HIPAA, NIST 800-53 and PCI DSS checks (IAMNoInlinePolicy) require managed policies: they are
 * versioned, reusable and visible on their own in IAM. CDK has no switch for it, and every L2 grant
 * goes through `Policy`, so the swap happens once here instead of in every construct. The new
 * resource takes the old one's place (same parent, same id, hence the same logical id), so
 * dependencies on the policy (a function waiting for its permissions) stay intact.
 */
export class InlinePoliciesToManaged implements IAspect {
  public visit(node: IConstruct): void {
    if (!(node instanceof iam.CfnPolicy)) return;
    const parent = node.node.scope;
    if (!parent) return;
    const id = node.node.id;
    const { policyDocument, roles, users, groups } = node;
    parent.node.tryRemoveChild(id);
    new iam.CfnManagedPolicy(parent, id, { policyDocument, roles, users, groups });
  }
}
