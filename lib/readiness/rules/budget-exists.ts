import { NagMessageLevel } from 'cdk-nag';
import { CfnBudget } from 'aws-cdk-lib/aws-budgets';
import { CfnBucket } from 'aws-cdk-lib/aws-s3';
import { allResources, COMPLIANT, NON_COMPLIANT, NOT_APPLICABLE, ReadinessRule, resolve } from '../rule';

/**
 * Whether a budget's filter selects `Environment=<env>`: a `FilterExpression` tag expression at any
 * depth (And/Or/Not included) or a legacy `CostFilters.TagKeyValue` entry.
 */
export function budgetFiltersEnvironment(budget: unknown, env: string): boolean {
  const walk = (v: any): boolean => {
    if (!v || typeof v !== 'object') return false;
    if (Array.isArray(v)) return v.some(walk);
    const key = v.key ?? v.Key;
    const values = v.values ?? v.Values;
    if (key === 'Environment' && Array.isArray(values) && values.includes(env)) return true;
    const tkv = v.TagKeyValue ?? v.tagKeyValue;
    if (Array.isArray(tkv) && tkv.some((t) => t === `user:Environment$${env}` || t === `Environment$${env}`)) return true;
    return Object.values(v).some(walk);
  };
  return walk(budget);
}

/** Checked on the intake bucket, the resource that defines a stage: its Environment must have a budget. */
export const BudgetExists: ReadinessRule = {
  name: 'BudgetExists',
  category: 'security-and-cost',
  level: NagMessageLevel.ERROR,
  info: "No AWS Budget covers this stage's Environment tag.",
  explanation: 'A stage without a budget finds out about runaway GPU or storage spend from the invoice.',
  check: (node) => {
    if (!(node instanceof CfnBucket) || !resolve(node, node.notificationConfiguration)?.queueConfigurations?.length) return NOT_APPLICABLE;
    const tags = (node as any).tags.renderTags() as Array<{ key: string; value: string }> | undefined;
    const env = tags?.find((t) => t.key === 'Environment')?.value;
    const budgets = allResources(node).filter((r): r is CfnBudget => r instanceof CfnBudget);
    return env && budgets.some((b) => budgetFiltersEnvironment(resolve(b, b.budget), env)) ? COMPLIANT : NON_COMPLIANT;
  },
};
