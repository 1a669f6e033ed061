import { Aspects, CfnResource, IAspect, Tag, TagManager, Tags } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';
import { resourceModel } from '../common/resource-spec';
import { StageConfig } from '../config';
import { MANAGED_BY, TAG_KEYS } from '../contract';

// The tag keys are shared with the budgets and readiness rules (lib/contract); workload tags are
// applied by the stacks (lib/common/tags.ts). Re-exported: this module was their home.
export { MANAGED_BY, TAG_KEYS } from '../contract';
export { tagWorkload } from '../common/tags';

/** Applies the stage-wide cost-allocation tags once, at the app (or stage) level. */
export function applyCostAllocationTags(scope: IConstruct, config: StageConfig): void {
  const t = Tags.of(scope);
  t.add(TAG_KEYS.project, config.projectName);
  t.add(TAG_KEYS.environment, config.stage);
  t.add(TAG_KEYS.costCenter, config.tags.costCenter);
  t.add(TAG_KEYS.businessUnit, config.tags.businessUnit);
  t.add(TAG_KEYS.owner, config.tags.owner);
  t.add(TAG_KEYS.managedBy, MANAGED_BY);
}

/**
 * The tags `Tags.of(...)` applies to a construct, read from the Tag aspects on it and its scopes
 * (the nearer scope wins, as in CDK).
 */
export function inheritedTags(node: IConstruct): Record<string, string> {
  const tags: Record<string, string> = {};
  for (const scope of node.node.scopes) {
    for (const a of Aspects.of(scope).all) if (a instanceof Tag) tags[a.key] = a.value;
  }
  return tags;
}

/**
 * CDK's own custom-resource providers (bucket auto-delete, default security group restriction)
 * create their function and role as raw `CfnResource`s, which `Tags.of` does not reach: untagged,
 * they escape cost allocation and the budgets that filter on tags. This aspect gives every raw
 * resource of a taggable type the tags its scope carries, in the type's tag format (list or map,
 * from AWS's resource spec).
 */
export class TagRawResources implements IAspect {
  public visit(node: IConstruct): void {
    if (!CfnResource.isCfnResource(node) || TagManager.isTaggable(node)) return;
    const info = resourceModel(node.cfnResourceType)?.tagInformation;
    if (!info) return;
    const tags = inheritedTags(node);
    if (!Object.keys(tags).length) return;
    const sorted = Object.entries(tags).sort(([a], [b]) => a.localeCompare(b));
    node.addPropertyOverride(info.tagPropertyName, info.variant === 'map' ? Object.fromEntries(sorted) : sorted.map(([Key, Value]) => ({ Key, Value })));
  }
}
