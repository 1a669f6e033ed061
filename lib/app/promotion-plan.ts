import { fullDiff, ResourceDifference, ResourceImpact } from '@aws-cdk/cloudformation-diff';
import { resourceModel } from '../common/resource-spec';

/**
 * What deploying one synthesized stage over another does to each resource, per stack, computed
 * with `@aws-cdk/cloudformation-diff` (the library behind `cdk diff`) and judged for promotion:
 *
 * - `fine`: added, updated in place, or a stateless resource removed;
 * - `replaces stateless`: CloudFormation creates a new one and deletes the old; nothing is lost;
 * - `replaces or deletes state`: a data store (bucket, database, key, queue, log group, ...) would
 *   be replaced or removed, and its data with it;
 * - `fails: custom name needs replacement`: the resource has a name we set and the change needs a
 *   replacement, which CloudFormation refuses ("cannot update a stack when a custom-named resource
 *   requires replacing"): https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-name.html
 */
export type Verdict = 'fine' | 'replaces stateless' | 'replaces or deletes state' | 'fails: custom name needs replacement';
export const BLOCKING: readonly Verdict[] = ['replaces or deletes state', 'fails: custom name needs replacement'];

export interface PlanEntry {
  readonly stack: string;
  readonly logicalId: string;
  readonly path?: string;
  readonly type: string;
  readonly change: 'added' | 'removed' | 'replaced' | 'may be replaced' | 'updated';
  /** The properties whose change causes the replacement (or `Type` when the type changes). */
  readonly replacedBy: string[];
  /** Properties (and attributes such as DeletionPolicy) that change. */
  readonly updated: string[];
  readonly verdict: Verdict;
}

/**
 * Resource types whose replacement or removal loses data or something a person must redo: stored
 * objects, rows, messages, keys (data encrypted under them becomes unreadable), secrets, logs,
 * confirmed subscriptions.
 */
export const STATEFUL_TYPES = new Set([
  'AWS::S3::Bucket', 'AWS::RDS::DBInstance', 'AWS::RDS::DBCluster', 'AWS::KMS::Key', 'AWS::SQS::Queue', 'AWS::SNS::Topic',
  'AWS::SNS::Subscription', 'AWS::SecretsManager::Secret', 'AWS::Logs::LogGroup', 'AWS::DynamoDB::Table', 'AWS::EFS::FileSystem',
  'AWS::Cognito::UserPool', 'AWS::KinesisFirehose::DeliveryStream',
]);

/** Name properties nested in another property, which the spec's identifiers do not show. */
const NESTED_NAMES: Record<string, string[][]> = { 'AWS::Budgets::Budget': [['Budget', 'BudgetName']] };

/** The properties of a type that name it: its primary identifier and `<Resource>Name`, from AWS's resource spec. */
export function nameProperties(type: string): string[] {
  const model = resourceModel(type);
  if (!model) return [];
  const props = Object.keys(model.properties);
  const own = `${type.split('::')[2]}Name`;
  return [...new Set([...(model.primaryIdentifier ?? []), own].filter((p) => props.includes(p)))];
}

function customName(type: string, properties: Record<string, unknown> | undefined): string | undefined {
  if (!properties) return undefined;
  const direct = nameProperties(type).find((p) => properties[p] !== undefined);
  if (direct) return direct;
  for (const nested of NESTED_NAMES[type] ?? []) {
    let v: any = properties;
    for (const k of nested) v = v?.[k];
    if (v !== undefined) return nested.join('.');
  }
  return undefined;
}

/**
 * Properties the resource spec marks "may replace" (the replacement depends on other settings)
 * that AWS documents as in-place updates under the condition given. Each row cites its page.
 */
export const IN_PLACE_WHEN: Array<{ type: string; property: string; when: (props: Record<string, any>) => boolean; doc: string; why: string }> = [
  {
    type: 'AWS::RDS::DBInstance', property: 'MultiAZ', when: (p) => p.DBClusterIdentifier === undefined,
    doc: 'https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-rds-dbinstance.html#cfn-rds-dbinstance-multiaz',
    why: 'Update requires: No interruption, for an instance that is not an Aurora cluster member (RDS adds a standby in another AZ).',
  },
  {
    type: 'AWS::RDS::DBInstance', property: 'BackupRetentionPeriod', when: (p) => p.DBClusterIdentifier === undefined,
    doc: 'https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-rds-dbinstance.html#cfn-rds-dbinstance-backupretentionperiod',
    why: 'Update requires: Some interruptions (only between 0 and a positive value), never a replacement, for an instance that is not an Aurora cluster member.',
  },
];

/** The variant shape of an endpoint config: models hosted by variants, or inference components. */
function endpointShape(template: any, endpoint: any): 'model variant' | 'inference components' | undefined {
  const ref = endpoint?.Properties?.EndpointConfigName?.['Fn::GetAtt']?.[0];
  const variants = template?.Resources?.[ref]?.Properties?.ProductionVariants;
  if (!Array.isArray(variants)) return undefined;
  return variants.some((v: any) => v.ModelName !== undefined) ? 'model variant' : 'inference components';
}

/**
 * Updates the diff sees as in place but the service refuses on a live resource. SageMaker cannot
 * move an endpoint between hosting models in its variants and hosting inference components: an
 * endpoint with inference components only takes configs without a model in the variant, and the
 * components would have to be deleted first (CreateInferenceComponent / UpdateEndpoint:
 * https://docs.aws.amazon.com/sagemaker/latest/dg/inference-component-deploy.html). Such a change is
 * a replacement of the endpoint.
 */
function serviceReplacement(d: ResourceDifference, type: string, fromTemplate: any, toTemplate: any): string[] {
  if (type === 'AWS::SageMaker::Endpoint' && !d.isAddition && !d.isRemoval) {
    const before = endpointShape(fromTemplate, d.oldValue);
    const after = endpointShape(toTemplate, d.newValue);
    if (before && after && before !== after) return [`EndpointConfigName (${before} -> ${after})`];
  }
  return [];
}

function judge(d: ResourceDifference, type: string, fromTemplate: any, toTemplate: any): { change: PlanEntry['change']; replacedBy: string[]; verdict: Verdict } {
  const stateful = STATEFUL_TYPES.has(type) || STATEFUL_TYPES.has(d.oldResourceType ?? '');
  if (d.isAddition) return { change: 'added', replacedBy: [], verdict: 'fine' };
  if (d.isRemoval) return { change: 'removed', replacedBy: [], verdict: stateful ? 'replaces or deletes state' : 'fine' };
  const inPlace = (prop: string) => IN_PLACE_WHEN.some((r) => r.type === type && r.property === prop && r.when(d.newValue?.Properties ?? {}) && r.when(d.oldValue?.Properties ?? {}));
  const replacingProps = Object.entries(d.propertyUpdates)
    .filter(([k, p]) => p.changeImpact === ResourceImpact.WILL_REPLACE || (p.changeImpact === ResourceImpact.MAY_REPLACE && !inPlace(k)));
  const service = serviceReplacement(d, type, fromTemplate, toTemplate);
  const replacedBy = d.resourceTypeChanged ? ['Type'] : [...replacingProps.map(([k]) => k), ...service];
  if (!replacedBy.length) return { change: 'updated', replacedBy: [], verdict: 'fine' };
  const certain = d.resourceTypeChanged || service.length > 0 || replacingProps.some(([, p]) => p.changeImpact === ResourceImpact.WILL_REPLACE);
  const change = certain ? 'replaced' : 'may be replaced';
  // A type change is a delete and a create; either way the old physical resource goes.
  if (customName(type, d.newValue?.Properties) || customName(d.oldResourceType ?? type, d.oldValue?.Properties)) {
    return { change, replacedBy, verdict: 'fails: custom name needs replacement' };
  }
  return { change, replacedBy, verdict: stateful ? 'replaces or deletes state' : 'replaces stateless' };
}

/** The plan for every stack of `from` (templates by stack name) to become `to`'s. */
export function promotionPlan(from: Record<string, any>, to: Record<string, any>): PlanEntry[] {
  const entries: PlanEntry[] = [];
  for (const stack of [...new Set([...Object.keys(from), ...Object.keys(to)])].sort()) {
    const diff = fullDiff(from[stack] ?? {}, to[stack] ?? {});
    diff.resources.forEachDifference((logicalId, d) => {
      if (!d.isDifferent) return;
      const type = d.newResourceType ?? d.oldResourceType ?? '?';
      const res = d.newValue ?? d.oldValue;
      const updated = [...Object.keys(d.propertyUpdates), ...Object.keys(d.otherChanges).filter((k) => k !== 'Metadata' && k !== 'Properties')];
      // Metadata-only changes (acknowledgement reasons, asset paths) change nothing in AWS.
      if (!d.isAddition && !d.isRemoval && !d.resourceTypeChanged && updated.length === 0) return;
      entries.push({ stack, logicalId, path: res?.Metadata?.['aws:cdk:path'], type, updated, ...judge(d, type, from[stack], to[stack]) });
    });
    // An endpoint whose own properties are unchanged is still updated when its config is replaced
    // (the config's new name reaches it at deploy time): judge the shape rule for those too.
    for (const [logicalId, res] of Object.entries<any>(to[stack]?.Resources ?? {})) {
      const old = from[stack]?.Resources?.[logicalId];
      if (res.Type !== 'AWS::SageMaker::Endpoint' || !old || entries.some((e) => e.stack === stack && e.logicalId === logicalId)) continue;
      const before = endpointShape(from[stack], old);
      const after = endpointShape(to[stack], res);
      if (!before || !after || before === after) continue;
      const named = customName(res.Type, res.Properties);
      entries.push({ stack, logicalId, path: res.Metadata?.['aws:cdk:path'], type: res.Type, updated: ['EndpointConfigName'], change: 'replaced', replacedBy: [`EndpointConfigName (${before} -> ${after})`], verdict: named ? 'fails: custom name needs replacement' : 'replaces stateless' });
    }
  }
  return entries;
}

/** The plan as text: one line per resource change, blocking verdicts first, then a summary. */
export function formatPlan(entries: PlanEntry[], title: string): string {
  const order: Verdict[] = ['fails: custom name needs replacement', 'replaces or deletes state', 'replaces stateless', 'fine'];
  const sorted = [...entries].sort((a, b) => order.indexOf(a.verdict) - order.indexOf(b.verdict) || a.stack.localeCompare(b.stack) || a.logicalId.localeCompare(b.logicalId));
  const lines = [title, ''];
  for (const e of sorted) {
    const what = e.change === 'replaced' || e.change === 'may be replaced' ? `${e.change} (caused by ${e.replacedBy.join(', ') || '?'})` : e.change === 'updated' ? `updated (${e.updated.join(', ')})` : e.change;
    const mark = BLOCKING.includes(e.verdict) ? '!!' : '  ';
    lines.push(`${mark} ${e.verdict.padEnd(38)} ${e.stack} ${e.path ?? e.logicalId} [${e.type}] ${what}`);
  }
  const count = (v: Verdict) => entries.filter((e) => e.verdict === v).length;
  lines.push('', `${entries.length} resource changes: ${order.map((v) => `${count(v)} ${v}`).join(', ')}.`);
  const blocking = entries.filter((e) => BLOCKING.includes(e.verdict)).length;
  lines.push(blocking ? `NOT an in-place promotion: ${blocking} change(s) above marked !! would lose state or fail.` : 'Clean: every change is an in-place update, an addition, or replaces only stateless resources.');
  return lines.join('\n');
}
