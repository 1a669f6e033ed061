import type { TemplateView } from './sections';

/**
 * The audience of a customer-managed KMS key: who its key policy names, and under which condition.
 *
 * A key costs 1 USD a month (more after each yearly rotation), so each one must earn its place by
 * serving an audience no other key of its stack serves. Precisely:
 *
 * - Every key-policy statement but the account-root default (`Allow` the account root, no
 *   condition: the delegation to IAM every key has) contributes one member per principal:
 *   `<Effect> <principal> [if <conditions>]`. A Deny counts: a key whose policy denies the key
 *   administrator (or everyone but one reader) is a different audience from one that does not.
 * - Conditions count whole and exactly: operator, key (case-insensitive, as IAM compares them) and
 *   the set of values, with references rendered as construct paths. The same service with another
 *   source ARN or encryption context is another member, because that condition is what confines
 *   the service to one resource.
 * - Actions do not count: merging two keys unions what each member may do; it is who, and under
 *   which condition, that a merge would widen.
 * - IAM grants (roles allowed kms:* on the key by their own policies) are listed but do not count:
 *   every key here delegates to the account, so IAM decides those in any case; they show whose
 *   access a merge would widen (the "who can decrypt" tables above them).
 *
 * Two keys of one stack with the same audience are one key's worth of separation paid twice: the
 * security review lists them and test/review/key-audience.test.ts fails on them.
 */
export interface KeyAudience {
  readonly stack: string;
  readonly key: string;
  readonly logicalId: string;
  readonly description: string;
  /** Sorted members; empty when the policy names no one but the account (IAM policies decide). */
  readonly audience: string[];
  /** Resources (not IAM policies) whose properties name the key, in its stack or through an output in another. */
  readonly usedBy: string[];
}

type Json = any;
const asArray = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** The text of an audience, for tables: the members, or what an empty audience means. */
export const audienceText = (a: KeyAudience) => (a.audience.length ? a.audience.join('; ') : 'the account only (IAM policies decide)');

const isAccountRoot = (p: string) => /^AWS: arn:(<Partition>|aws[a-z-]*):iam::<AccountId>:root$/.test(p) || p === 'AWS: <AccountId>';

/** A condition block as canonical text: operators and keys sorted, keys lower-cased, values sorted. */
export function canonicalConditions(condition: Json, show: (v: unknown) => string): string {
  if (!condition || typeof condition !== 'object') return '';
  return Object.keys(condition).sort().flatMap((op) => Object.entries<Json>(condition[op])
    .map(([k, v]) => [k.toLowerCase(), asArray(v).map(show).sort().join(' | ')] as const)
    .sort((a, b) => a[0].localeCompare(b[0]))
    .map(([k, v]) => `${op} ${k} = ${v}`)).join(', ');
}

/** The audience of one key policy (see KeyAudience). */
export function audienceOf(keyPolicy: Json, show: (v: unknown) => string): string[] {
  const members = new Set<string>();
  for (const st of asArray<Json>(keyPolicy?.Statement)) {
    const principals = st.Principal === undefined ? ['?'] : st.Principal === '*' ? ['AWS: *'] : Object.entries<Json>(st.Principal).flatMap(([kind, v]) => asArray(v).map((x) => `${kind}: ${show(x)}`));
    const conditions = canonicalConditions(st.Condition, show);
    for (const p of principals) {
      if (st.Effect === 'Allow' && isAccountRoot(p) && !conditions) continue;
      members.add(`${st.Effect} ${p}${conditions ? ` if ${conditions}` : ''}`);
    }
  }
  return [...members].sort();
}

const mentions = (value: unknown, logicalId: string): boolean => {
  if (Array.isArray(value)) return value.some((v) => mentions(v, logicalId));
  if (!value || typeof value !== 'object') return false;
  const o = value as Json;
  if (o.Ref === logicalId) return true;
  if (o['Fn::GetAtt'] && (Array.isArray(o['Fn::GetAtt']) ? o['Fn::GetAtt'][0] : String(o['Fn::GetAtt']).split('.')[0]) === logicalId) return true;
  if (o['Fn::Sub'] && String(asArray(o['Fn::Sub'])[0]).includes(`\${${logicalId}`)) return true;
  return Object.values(o).some((v) => mentions(v, logicalId));
};

const mentionsOutput = (value: unknown, stack: string, output: string, exportName?: string): boolean => {
  if (Array.isArray(value)) return value.some((v) => mentionsOutput(v, stack, output, exportName));
  if (!value || typeof value !== 'object') return false;
  const o = value as Json;
  const g = o['Fn::GetStackOutput'];
  if (g && g.StackName === stack && g.OutputName === output) return true;
  if (exportName !== undefined && o['Fn::ImportValue'] !== undefined && JSON.stringify(o['Fn::ImportValue']) === exportName) return true;
  return Object.values(o).some((v) => mentionsOutput(v, stack, output, exportName));
};

const isPolicy = (type: string) => type === 'AWS::IAM::Policy' || type === 'AWS::IAM::ManagedPolicy' || type === 'AWS::IAM::Role';

/** The audience of every key in every stack, with the resources that use each key. */
export function keyAudiences(views: TemplateView[]): KeyAudience[] {
  const out: KeyAudience[] = [];
  for (const v of views) {
    for (const [id, r] of Object.entries<Json>(v.resources)) {
      if (r.Type !== 'AWS::KMS::Key') continue;
      const usedBy = Object.entries<Json>(v.resources)
        .filter(([rid, x]) => rid !== id && !isPolicy(x.Type) && x.Type !== 'AWS::KMS::Alias' && mentions(x.Properties, id))
        .map(([rid, x]) => `${x.Type.replace(/^AWS::/, '')} ${v.pathOf(rid)}`);
      for (const [name, o] of Object.entries<Json>(v.outputs ?? {})) {
        if (!mentions(o.Value, id)) continue;
        const exportName = o.Export?.Name === undefined ? undefined : JSON.stringify(o.Export.Name);
        for (const other of views) {
          if (other === v) continue;
          for (const [rid, x] of Object.entries<Json>(other.resources)) {
            if (!isPolicy(x.Type) && mentionsOutput(x.Properties, v.stack, name, exportName)) usedBy.push(`${x.Type.replace(/^AWS::/, '')} ${other.stack}:${other.pathOf(rid)}`);
          }
        }
      }
      out.push({ stack: v.stack, key: v.pathOf(id), logicalId: id, description: v.show(r.Properties?.Description), audience: audienceOf(r.Properties?.KeyPolicy, v.show), usedBy });
    }
  }
  return out;
}

/** Groups of two or more keys of one stack with the same audience: each group should be one key. */
export function keysSharingAnAudience(audiences: KeyAudience[]): Array<{ stack: string; keys: string[]; audience: string }> {
  const groups = new Map<string, KeyAudience[]>();
  for (const a of audiences) {
    const k = JSON.stringify([a.stack, a.audience]);
    groups.set(k, [...(groups.get(k) ?? []), a]);
  }
  return [...groups.values()].filter((g) => g.length > 1).map((g) => ({ stack: g[0].stack, keys: g.map((a) => a.key), audience: audienceText(g[0]) }));
}
