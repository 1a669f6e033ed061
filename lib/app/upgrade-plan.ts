import * as fs from 'fs';
import * as path from 'path';
import { BLOCKING, formatPlan, PlanEntry, promotionPlan } from './promotion-plan';

/**
 * Upgrading a deployed stage from one version of this project (or of the library under a
 * consumer's app) to another: the promotion plan's verdicts on every resource change, plus what a
 * resource diff does not show by itself:
 *
 * - a grant lost: an Allow (an action on a resource, for a principal, under a condition) present in
 *   the old templates that no statement of the new ones still gives the same role, user, group or
 *   resource policy. Statements may be merged, split or moved between policies: only what is no
 *   longer covered counts (a wildcard action or resource covers what it matches; a statement
 *   without condition covers one with a condition). Deny statements are not compared.
 * - a custom name moved: a named resource removed under one logical id and its name added under
 *   another (a renamed construct id). CloudFormation creates the new resource before it deletes the
 *   old, so the name is still taken and the update fails.
 */

export interface Grant {
  readonly stack: string;
  /** Who holds it: `role <path>`, `user ...`, `group ...`, or `<Type> <path>` for a resource policy. */
  readonly holder: string;
  readonly principal?: string;
  readonly action: string;
  readonly resource: string;
  readonly condition?: string;
  /**
   * For a lost grant: the conditions under which the new templates still give it (the grant was
   * narrowed, e.g. a source condition added to a service principal's), none when it is gone.
   */
  readonly stillGivenWhen?: string[];
}

export interface MovedName {
  readonly stack: string;
  readonly type: string;
  readonly name: string;
  readonly fromLogicalId: string;
  readonly toLogicalId: string;
}

export interface UpgradePlan {
  readonly entries: PlanEntry[];
  readonly lostGrants: Grant[];
  readonly movedNames: MovedName[];
}

/** Templates of a cloud assembly (a `cdk.out` directory), by stack name, nested assemblies included. */
export function assemblyTemplates(dir: string): Record<string, any> {
  const manifestFile = path.join(dir, 'manifest.json');
  if (!fs.existsSync(manifestFile)) throw new Error(`${dir} is not a cloud assembly (no manifest.json): give the directory cdk synth wrote (-o), e.g. cdk.out`);
  const manifest = JSON.parse(fs.readFileSync(manifestFile, 'utf8'));
  const out: Record<string, any> = {};
  for (const [id, a] of Object.entries<any>(manifest.artifacts ?? {})) {
    if (a.type === 'aws:cloudformation:stack') {
      const name = a.properties?.stackName ?? id;
      out[name] = JSON.parse(fs.readFileSync(path.join(dir, a.properties?.templateFile ?? `${id}.template.json`), 'utf8'));
    } else if (a.type === 'cdk:cloud-assembly') {
      Object.assign(out, assemblyTemplates(path.join(dir, a.properties.directoryName)));
    }
  }
  if (!Object.keys(out).length) throw new Error(`${dir}: the cloud assembly holds no stack`);
  return out;
}

/** JSON with sorted keys, so equal values compare equal as strings. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical((v as any)[k])}`).join(',')}}`;
  return JSON.stringify(v);
}

const list = (v: unknown): unknown[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** The logical id a `Ref` / `Fn::GetAtt` points at, if it is one. */
function refId(v: any): string | undefined {
  if (v && typeof v === 'object') {
    if (typeof v.Ref === 'string') return v.Ref;
    if (Array.isArray(v['Fn::GetAtt'])) return v['Fn::GetAtt'][0];
  }
  return undefined;
}

/**
 * Where policy documents live: the property holding the document and the properties naming what
 * it is attached to (identity policies) or protects (resource policies).
 */
const IDENTITY_POLICIES: Record<string, { doc: string }> = {
  'AWS::IAM::Policy': { doc: 'PolicyDocument' },
  'AWS::IAM::ManagedPolicy': { doc: 'PolicyDocument' },
  'AWS::IAM::RolePolicy': { doc: 'PolicyDocument' },
  'AWS::IAM::UserPolicy': { doc: 'PolicyDocument' },
  'AWS::IAM::GroupPolicy': { doc: 'PolicyDocument' },
};
const RESOURCE_POLICIES: Record<string, { doc: string; targets?: string }> = {
  'AWS::S3::BucketPolicy': { doc: 'PolicyDocument', targets: 'Bucket' },
  'AWS::SQS::QueuePolicy': { doc: 'PolicyDocument', targets: 'Queues' },
  'AWS::SNS::TopicPolicy': { doc: 'PolicyDocument', targets: 'Topics' },
  'AWS::SecretsManager::ResourcePolicy': { doc: 'ResourcePolicy', targets: 'SecretId' },
  'AWS::KMS::Key': { doc: 'KeyPolicy' },
  'AWS::ApiGateway::RestApi': { doc: 'Policy' },
  'AWS::ECR::Repository': { doc: 'RepositoryPolicyText' },
  'AWS::Logs::ResourcePolicy': { doc: 'PolicyDocument' },
};

/** Every Allow in the templates, one grant per action x resource (x principal). */
export function grantsOf(templates: Record<string, any>): Grant[] {
  const grants: Grant[] = [];
  for (const [stack, template] of Object.entries(templates)) {
    const resources: Record<string, any> = template?.Resources ?? {};
    const pathOf = (id: string) => resources[id]?.Metadata?.['aws:cdk:path'] ?? id;
    const holderOf = (kind: string, v: unknown) => {
      const id = refId(v);
      return id && resources[id] ? `${kind} ${pathOf(id)}` : `${kind} ${canonical(v)}`;
    };
    const add = (holders: string[], doc: any, withPrincipal: boolean) => {
      if (typeof doc === 'string') {
        try { doc = JSON.parse(doc); } catch { return; }
      }
      for (const st of list(doc?.Statement) as any[]) {
        if (st?.Effect !== 'Allow') continue;
        const condition = st.Condition === undefined ? undefined : canonical(st.Condition);
        const actions = st.Action !== undefined ? list(st.Action).map((a) => (typeof a === 'string' ? a.toLowerCase() : canonical(a))) : [`not ${canonical(st.NotAction)}`];
        const targets = st.Resource !== undefined ? list(st.Resource).map((r) => (typeof r === 'string' ? r : canonical(r))) : st.NotResource !== undefined ? [`not ${canonical(st.NotResource)}`] : ['(the resource itself)'];
        const principals = withPrincipal ? (st.Principal !== undefined ? principalList(st.Principal) : [`not ${canonical(st.NotPrincipal)}`]) : [undefined];
        for (const holder of holders) for (const principal of principals) for (const action of actions) for (const resource of targets) {
          grants.push({ stack, holder, ...(principal !== undefined ? { principal } : {}), action, resource, ...(condition ? { condition } : {}) });
        }
      }
    };
    for (const [id, r] of Object.entries<any>(resources)) {
      const p = r?.Properties ?? {};
      const identity = IDENTITY_POLICIES[r?.Type];
      if (identity) {
        const holders = [
          ...list(p.Roles).map((v) => holderOf('role', v)), ...list(p.RoleName).map((v) => holderOf('role', v)),
          ...list(p.Users).map((v) => holderOf('user', v)), ...list(p.UserName).map((v) => holderOf('user', v)),
          ...list(p.Groups).map((v) => holderOf('group', v)), ...list(p.GroupName).map((v) => holderOf('group', v)),
        ];
        // A managed policy attached from the principal's side (ManagedPolicyArns: [{ Ref }]).
        for (const [pid, pr] of Object.entries<any>(resources)) {
          if (list(pr?.Properties?.ManagedPolicyArns).some((a) => refId(a) === id)) {
            holders.push(`${pr.Type === 'AWS::IAM::Role' ? 'role' : pr.Type === 'AWS::IAM::User' ? 'user' : 'group'} ${pathOf(pid)}`);
          }
        }
        add(holders.length ? holders : [`unattached ${pathOf(id)}`], p[identity.doc], false);
      }
      const resourcePolicy = RESOURCE_POLICIES[r?.Type];
      if (resourcePolicy) {
        const protectedOnes = resourcePolicy.targets ? list(p[resourcePolicy.targets]).map((v) => holderOf(r.Type, v)) : [`${r.Type} ${pathOf(id)}`];
        add(protectedOnes, p[resourcePolicy.doc], true);
      }
      if (['AWS::IAM::Role', 'AWS::IAM::User', 'AWS::IAM::Group'].includes(r?.Type)) {
        const kind = r.Type.split('::')[2].toLowerCase();
        const holder = `${kind} ${pathOf(id)}`;
        for (const inline of list(p.Policies) as any[]) add([holder], inline?.PolicyDocument, false);
        for (const arn of list(p.ManagedPolicyArns)) {
          // references to managed policies of the template are expanded above; AWS-managed ones are grants themselves
          if (!(refId(arn) && resources[refId(arn)!])) grants.push({ stack, holder, action: 'attached managed policy', resource: typeof arn === 'string' ? arn : canonical(arn) });
        }
        if (r.Type === 'AWS::IAM::Role') add([`trust of ${holder}`], p.AssumeRolePolicyDocument, true);
      }
      if (r?.Type === 'AWS::Lambda::Permission') {
        const { Action, FunctionName, Principal, ...rest } = p;
        const condition = Object.keys(rest).length ? canonical(rest) : undefined;
        grants.push({ stack, holder: holderOf('function', FunctionName), principal: canonical(Principal), action: String(Action).toLowerCase(), resource: '(the function)', ...(condition ? { condition } : {}) });
      }
    }
  }
  return grants;
}

function principalList(p: unknown): string[] {
  if (p === '*') return ['*'];
  if (p && typeof p === 'object' && !Array.isArray(p)) {
    return Object.entries(p as Record<string, unknown>).flatMap(([kind, v]) => list(v).map((x) => `${kind}:${typeof x === 'string' ? x : canonical(x)}`));
  }
  return [canonical(p)];
}

/** IAM's wildcard match (`*` any run, `?` one character), case-insensitive for actions. */
function globMatch(pattern: string, value: string, ignoreCase: boolean): boolean {
  const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, ignoreCase ? 'i' : '');
  return re.test(value);
}

/** Whether `by` gives at least what `g` gave. */
function covers(by: Grant, g: Grant): boolean {
  if (by.stack !== g.stack || by.holder !== g.holder) return false;
  if ((by.principal ?? '') !== (g.principal ?? '') && by.principal !== '*' && by.principal !== 'AWS:*') return false;
  if (by.action !== g.action && !(/[*?]/.test(by.action) && globMatch(by.action, g.action, true))) return false;
  if (by.resource !== g.resource && by.resource !== '*' && !(by.resource.startsWith('arn:') && !g.resource.startsWith('{') && globMatch(by.resource, g.resource, false))) return false;
  return by.condition === undefined || by.condition === g.condition;
}

/** Grants of `from` that no grant of `to` covers. */
export function lostGrants(from: Record<string, any>, to: Record<string, any>): Grant[] {
  const after = grantsOf(to);
  const seen = new Set<string>();
  return grantsOf(from).filter((g) => {
    const key = canonical(g);
    if (seen.has(key)) return false;
    seen.add(key);
    return !after.some((a) => covers(a, g));
  }).map((g) => {
    const when = [...new Set(after.filter((a) => a.condition !== undefined && covers({ ...a, condition: undefined }, g)).map((a) => a.condition!))];
    return when.length ? { ...g, stillGivenWhen: when } : g;
  });
}

/** Name properties that are not `<Resource>Name`. */
const NAME_PROPERTY: Record<string, string> = { 'AWS::RDS::DBInstance': 'DBInstanceIdentifier', 'AWS::RDS::DBCluster': 'DBClusterIdentifier', 'AWS::SecretsManager::Secret': 'Name' };

/** The physical name set on a resource, if any. */
function setName(type: string, props: Record<string, unknown> | undefined): string | undefined {
  const v = props?.[NAME_PROPERTY[type] ?? `${type.split('::')[2]}Name`];
  return v === undefined ? undefined : canonical(v);
}

/** Custom names removed under one logical id and added under another, per stack. */
export function movedNames(from: Record<string, any>, to: Record<string, any>): MovedName[] {
  const out: MovedName[] = [];
  for (const stack of Object.keys(from)) {
    const before: Record<string, any> = from[stack]?.Resources ?? {};
    const after: Record<string, any> = to[stack]?.Resources ?? {};
    for (const [oldId, r] of Object.entries<any>(before)) {
      if (after[oldId]) continue;
      const name = setName(r.Type, r.Properties);
      if (!name) continue;
      for (const [newId, n] of Object.entries<any>(after)) {
        if (!before[newId] && n.Type === r.Type && setName(n.Type, n.Properties) === name) out.push({ stack, type: r.Type, name, fromLogicalId: oldId, toLogicalId: newId });
      }
    }
  }
  return out;
}

export function upgradePlan(from: Record<string, any>, to: Record<string, any>): UpgradePlan {
  return { entries: promotionPlan(from, to), lostGrants: lostGrants(from, to), movedNames: movedNames(from, to) };
}

/** Whether the upgrade must not be deployed as is. */
export function upgradeBlocked(plan: UpgradePlan): boolean {
  return plan.entries.some((e) => BLOCKING.includes(e.verdict)) || plan.lostGrants.length > 0 || plan.movedNames.length > 0;
}

export function formatUpgradePlan(plan: UpgradePlan, title: string): string {
  // formatPlan's last line judges a promotion; the upgrade's own verdict closes the report below
  const lines = [...formatPlan(plan.entries, title).split('\n').slice(0, -1), ''];
  if (plan.movedNames.length) {
    lines.push(`!! ${plan.movedNames.length} custom name(s) move to a new logical id (CloudFormation creates the new resource first: the name is taken, the update fails):`);
    for (const m of plan.movedNames) lines.push(`!!   ${m.stack} [${m.type}] ${m.name}: ${m.fromLogicalId} -> ${m.toLogicalId}`);
  } else {
    lines.push('No custom name moves to another logical id.');
  }
  if (plan.lostGrants.length) {
    lines.push(`!! ${plan.lostGrants.length} grant(s) of the old templates that no statement of the new ones still gives:`);
    for (const g of plan.lostGrants) {
      const now = g.stillGivenWhen ? ` (narrowed: now only when ${g.stillGivenWhen.join(' or ')})` : ' (gone)';
      lines.push(`!!   ${g.stack} ${g.holder}: ${g.action} on ${g.resource}${g.principal ? ` for ${g.principal}` : ''}${g.condition ? ` when ${g.condition}` : ''}${now}`);
    }
  } else {
    lines.push('No grant lost: every Allow of the old templates is still given to the same role, user, group or resource policy.');
  }
  lines.push(upgradeBlocked(plan) ? 'NOT a safe upgrade: see the lines marked !!.' : 'Safe upgrade: no state or custom name replaced, no name moved, no grant lost.');
  return lines.join('\n');
}
