import { nameProperties } from './promotion-plan';

/**
 * What `cdk destroy --all` leaves behind, and whether deploying the same templates again works,
 * played over synthesized templates (by stack name):
 *
 * - destroy: a resource is kept when its DeletionPolicy is Retain or RetainExceptOnCreate, deleted
 *   otherwise (Snapshot deletes the resource after a snapshot):
 *   https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-attribute-deletionpolicy.html
 *   A kept resource that references a deleted one (Ref, Fn::GetAtt, Fn::Sub, Fn::ImportValue,
 *   Fn::GetStackOutput, through other stacks' outputs too) is left pointing at nothing: a database
 *   whose subnets and security group are deleted (their deletion fails on its network interfaces),
 *   a key policy naming a deleted role, a bucket notifying a deleted queue or logging to a deleted bucket.
 *   A bucket under Object Lock whose policy is Delete cannot be emptied by CloudFormation, so its
 *   deletion fails while it holds a locked version.
 * - rebuild: deploying the same templates creates every resource again. A kept resource with a
 *   custom name collides (AlreadyExists) unless the deploy imports it, which CloudFormation does with
 *   `--import-existing-resources` only for a static name (no Ref or other function) on a resource
 *   whose DeletionPolicy is Retain:
 *   https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/import-resources-automatically.html
 */
type Templates = Record<string, any>;
interface Target { stack: string; logicalId: string }

export interface DestroyFinding {
  readonly kind: 'kept resource references a deleted one' | 'rebuild collides with a kept name' | 'deletion fails';
  readonly stack: string;
  readonly logicalId: string;
  readonly type: string;
  /** For a reference: where in the properties, and what it points at. */
  readonly property?: string;
  readonly target?: { readonly stack: string; readonly logicalId: string; readonly type: string };
  readonly detail: string;
}

export interface DestroyPlan {
  /** `stack/logicalId [type]` of every resource the destroy keeps. */
  readonly kept: string[];
  readonly findings: DestroyFinding[];
}

export interface DestroyPlanOptions {
  /** The rebuild deploys with `--import-existing-resources` (npm run deploy -- --rebuild). @default false */
  readonly rebuildImports?: boolean;
  /** The templates the rebuild deploys (a rebuild config restores and adopts). @default - the destroyed templates */
  readonly rebuild?: Templates;
}

/**
 * References from a kept resource to one whose deletion removes the kept one with it: not left
 * dangling. Each row cites the API that deletes the children.
 */
export const DELETED_WITH_PARENT: Array<{ child: string; parent: string; doc: string }> = [
  {
    child: 'AWS::Bedrock::GuardrailVersion', parent: 'AWS::Bedrock::Guardrail',
    // "If you don't specify a version, the guardrail and all of its versions will be deleted."
    doc: 'https://docs.aws.amazon.com/bedrock/latest/APIReference/API_DeleteGuardrail.html',
  },
];


const KEPT_POLICIES = new Set(['Retain', 'RetainExceptOnCreate']);

export function isKept(resource: any): boolean {
  return KEPT_POLICIES.has(resource?.DeletionPolicy);
}

/** The resources a value references, in its own stack and, through outputs, in others. */
export function references(templates: Templates, stack: string, value: unknown, path = ''): Array<Target & { property: string }> {
  const out: Array<Target & { property: string }> = [];
  const resources = templates[stack]?.Resources ?? {};
  const local = (id: string, property: string) => {
    if (resources[id]) out.push({ stack, logicalId: id, property });
  };
  const viaOutput = (producer: string | undefined, output: any, property: string) => {
    if (!producer || !output) return;
    for (const r of references(templates, producer, output.Value, property)) out.push(r);
  };
  const walk = (v: unknown, p: string, subVars: Set<string>) => {
    if (Array.isArray(v)) return v.forEach((x, i) => walk(x, `${p}[${i}]`, subVars));
    if (v === null || typeof v !== 'object') return;
    const o = v as Record<string, any>;
    const keys = Object.keys(o);
    if (keys.length === 1) {
      const [k] = keys;
      const arg = o[k];
      if (k === 'Ref' && typeof arg === 'string') return local(arg, p);
      if (k === 'Fn::GetAtt') {
        const id = Array.isArray(arg) ? arg[0] : typeof arg === 'string' ? arg.split('.')[0] : undefined;
        if (typeof id === 'string') local(id, p);
        return;
      }
      if (k === 'Fn::Sub') {
        const [text, vars] = Array.isArray(arg) ? arg : [arg, {}];
        const names = new Set(Object.keys(vars ?? {}));
        for (const m of String(text).matchAll(/\$\{([^}!]+)\}/g)) {
          const id = m[1].split('.')[0];
          if (!names.has(id)) local(id, p);
        }
        if (vars) walk(vars, p, names);
        return;
      }
      if (k === 'Fn::ImportValue') {
        if (typeof arg !== 'string') return walk(arg, p, subVars);
        for (const [name, t] of Object.entries<any>(templates)) {
          const o2 = Object.values<any>(t.Outputs ?? {}).find((x) => x.Export?.Name === arg);
          if (o2) viaOutput(name, o2, p);
        }
        return;
      }
      if (k === 'Fn::GetStackOutput') {
        const name = typeof arg?.StackName === 'string' ? arg.StackName : undefined;
        viaOutput(name, name ? templates[name]?.Outputs?.[arg.OutputName] : undefined, p);
        return;
      }
    }
    for (const k of keys) walk(o[k], p ? `${p}.${k}` : k, subVars);
  };
  walk(value, path, new Set());
  return out;
}

/** The custom name a resource sets, as `[property, value]`, or undefined for a generated name. */
function customName(type: string, properties: any): [string, unknown] | undefined {
  for (const p of nameProperties(type)) if (properties?.[p] !== undefined) return [p, properties[p]];
  return undefined;
}

/** Plays `cdk destroy --all` and a redeploy of the same templates. */
export function destroyPlan(templates: Templates, opts: DestroyPlanOptions = {}): DestroyPlan {
  const kept: string[] = [];
  const findings: DestroyFinding[] = [];
  const after = opts.rebuild ?? templates;
  const typeOf = (t: Target) => templates[t.stack].Resources[t.logicalId].Type as string;
  for (const [stack, template] of Object.entries<any>(templates)) {
    const resources = template.Resources ?? {};
    const autoDeleted = new Set(Object.values<any>(resources).filter((r) => r.Type === 'Custom::S3AutoDeleteObjects').flatMap((r) => references(templates, stack, r.Properties?.BucketName).map((t) => t.logicalId)));
    for (const [logicalId, r] of Object.entries<any>(resources)) {
      const type = r.Type as string;
      if (!isKept(r)) {
        // Without a default retention nothing is locked unless a writer asks (ours never do).
        if (type === 'AWS::S3::Bucket' && r.Properties?.ObjectLockConfiguration?.Rule?.DefaultRetention) {
          findings.push({ kind: 'deletion fails', stack, logicalId, type, detail: `an Object Lock bucket with DeletionPolicy ${r.DeletionPolicy ?? 'Delete'}: ${autoDeleted.has(logicalId) ? 'its auto-delete cannot remove locked versions' : 'CloudFormation does not empty a bucket'}, so the delete fails while a version is locked` });
        }
        continue;
      }
      kept.push(`${stack}/${logicalId} [${type}]`);
      for (const ref of references(templates, stack, r.Properties ?? {}, 'Properties')) {
        const target = templates[ref.stack].Resources[ref.logicalId];
        if (isKept(target) || DELETED_WITH_PARENT.some((d) => d.child === type && d.parent === target.Type)) continue;
        findings.push({
          kind: 'kept resource references a deleted one', stack, logicalId, type, property: ref.property,
          target: { stack: ref.stack, logicalId: ref.logicalId, type: typeOf(ref) },
          detail: `${ref.property} -> ${ref.stack === stack ? '' : `${ref.stack}/`}${ref.logicalId} [${typeOf(ref)}], deleted by the destroy`,
        });
      }
      const named = customName(type, r.Properties);
      if (!named) continue;
      const [prop, value] = named;
      const again = Object.entries<any>(after).flatMap(([st, t]) => Object.entries<any>(t.Resources ?? {}).map(([id, x]) => ({ st, id, x })))
        .find(({ x }) => x.Type === type && JSON.stringify(customName(type, x.Properties)?.[1]) === JSON.stringify(value));
      // A name built on AWS::StackId is new with every stack creation: the rebuild's differs.
      if (!again || JSON.stringify(value).includes('"AWS::StackId"')) continue;
      // Imported only with a static name and a Retain policy in the rebuilt template.
      const imported = opts.rebuildImports && typeof value === 'string' && isKept(again.x);
      if (!imported) {
        findings.push({
          kind: 'rebuild collides with a kept name', stack, logicalId, type, property: `Properties.${prop}`,
          detail: `${prop} ${typeof value === 'string' ? `"${value}"` : JSON.stringify(value)} stays behind and the rebuild creates ${again.st}/${again.id} with it: AlreadyExists` +
            (opts.rebuildImports && typeof value !== 'string' ? ' (a name built with a function is not imported automatically)' : ''),
        });
      }
    }
  }
  // The same dependency twice (a database key named in several statements) is one finding.
  const seen = new Set<string>();
  const unique = findings.filter((f) => {
    const k = `${f.kind} ${f.stack}/${f.logicalId} ${f.target ? `${f.target.stack}/${f.target.logicalId}` : f.property ?? ''}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
  return { kept, findings: unique };
}

/** One line per finding, for a test's failure message and `npm run plan`-style output. */
export function formatDestroyFinding(f: DestroyFinding): string {
  return `${f.kind}: ${f.stack}/${f.logicalId} [${f.type}] ${f.detail}`;
}
