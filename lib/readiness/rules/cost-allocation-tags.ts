import { TagManager } from 'aws-cdk-lib';
import { NagMessageLevel } from 'cdk-nag';
import { TAG_KEYS } from '../../contract';
import { COMPLIANT, NON_COMPLIANT, NOT_APPLICABLE, ReadinessRule } from '../rule';

export const REQUIRED_TAGS = [TAG_KEYS.project, TAG_KEYS.environment, TAG_KEYS.workload, TAG_KEYS.costCenter, TAG_KEYS.businessUnit, TAG_KEYS.owner];

export const CostAllocationTags: ReadinessRule = {
  name: 'CostAllocationTags',
  category: 'security-and-cost',
  level: NagMessageLevel.ERROR,
  info: `A taggable resource lacks one of the cost-allocation tags (${REQUIRED_TAGS.join(', ')}).`,
  explanation: 'Budgets and cost reports filter on these tags: an untagged resource is spend nobody owns.',
  check: (node) => {
    if (!TagManager.isTaggable(node)) return NOT_APPLICABLE;
    const rendered = (node as any).tags.renderTags();
    const keys = new Set<string>(Array.isArray(rendered) ? rendered.map((t: any) => t.key ?? t.Key) : Object.keys(rendered ?? {}));
    return REQUIRED_TAGS.every((k) => keys.has(k)) ? COMPLIANT : NON_COMPLIANT;
  },
};
