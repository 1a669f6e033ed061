import { CfnOutput, CfnResource, Stack } from 'aws-cdk-lib';
import { NagMessageLevel, NagRuleCompliance } from 'cdk-nag';
import { IConstruct } from 'constructs';

export type ReadinessCategory = 'compute' | 'data' | 'security-and-cost';

/** One production-readiness rule: a small function over one L1 resource. */
export interface ReadinessRule {
  readonly name: string;
  readonly category: ReadinessCategory;
  readonly level: NagMessageLevel;
  readonly info: string;
  readonly explanation: string;
  readonly check: (node: CfnResource) => NagRuleCompliance;
}

export const { COMPLIANT, NON_COMPLIANT, NOT_APPLICABLE } = NagRuleCompliance;

export function resolve(node: CfnResource, value: unknown): any {
  return Stack.of(node).resolve(value);
}

/** Every L1 resource of the whole app (rules that look across stacks). */
export function allResources(node: IConstruct): CfnResource[] {
  return node.node.root.node.findAll().filter((c): c is CfnResource => CfnResource.isCfnResource(c));
}

/**
 * The resource a reference points to: `Ref` / `Fn::GetAtt` in the same stack, or a cross-stack
 * `Fn::GetStackOutput` / `Fn::ImportValue` followed to the producing stack's output.
 */
export function referencedResource(node: CfnResource, value: unknown): CfnResource | undefined {
  const v = resolve(node, value);
  if (!v || typeof v !== 'object') return undefined;
  const byLogicalId = (stack: Stack, id: string) => stack.node.findAll().find((c): c is CfnResource => CfnResource.isCfnResource(c) && stack.resolve(c.logicalId) === id);
  if (typeof v.Ref === 'string') return byLogicalId(Stack.of(node), v.Ref);
  if (Array.isArray(v['Fn::GetAtt'])) return byLogicalId(Stack.of(node), v['Fn::GetAtt'][0]);
  const out = v['Fn::GetStackOutput'];
  if (out && typeof out.StackName === 'string') {
    const producer = node.node.root.node.findAll().find((c): c is Stack => Stack.isStack(c) && c.stackName === out.StackName);
    if (!producer) return undefined;
    const output = producer.node.findAll().find((c): c is CfnOutput => c instanceof CfnOutput && producer.resolve(c.logicalId) === out.OutputName);
    const anchor = producer.node.findAll().find((c): c is CfnResource => CfnResource.isCfnResource(c));
    return output && anchor ? referencedResource(anchor, output.value) : undefined;
  }
  return undefined;
}
