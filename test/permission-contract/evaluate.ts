import { runSimulation, Simulation } from '@cloud-copilot/iam-simulate';
import { AssemblyResource, ContractAssembly } from './assembly';
import { kmsRequirement, viaService } from './kms-requirements';

/** Who makes calls: a role of the assembly, or a principal with policies given directly (a reviewer). */
export interface ContractPrincipal {
  readonly label: string;
  readonly arn: string;
  readonly account: string;
  readonly identityPolicies: Array<{ name: string; policy: any }>;
}

/** One AWS request to evaluate. */
export interface ContractCall {
  readonly principal: ContractPrincipal;
  /** IAM service prefix (`s3`, `states`, `sagemaker`, `rds-db`, ...). */
  readonly service: string;
  /** API operation (for the KMS table) and the IAM action it is authorized as. */
  readonly operation: string;
  readonly action: string;
  readonly resource: string;
  /** The resource of the assembly the call touches: its resource policy and its key apply. */
  readonly target?: AssemblyResource;
  /** Extra request context (e.g. `s3:prefix`). */
  readonly context?: Record<string, string | string[]>;
  /** Where the call was seen (a test id, a state name), for the message. */
  readonly origin: string;
}

export interface Denial {
  readonly call: ContractCall;
  readonly action: string;
  readonly resource: string;
  readonly result: string;
  readonly missing: string;
}

export function describeDenial(d: Denial): string {
  return `${d.call.principal.label}: ${d.call.operation} (${d.call.origin}) needs ${d.action} on ${d.resource}: ${d.result}. Missing: ${d.missing}`;
}

const POLICY_TYPES = new Set(['AWS::IAM::Policy', 'AWS::IAM::ManagedPolicy']);

/** The role's identity policies: inline, attached customer managed ones in any stack of the assembly. */
export function rolePrincipal(assembly: ContractAssembly, role: AssemblyResource, label: string): ContractPrincipal {
  if (role.type !== 'AWS::IAM::Role') throw new Error(`${label}: ${role.stack}/${role.logicalId} is ${role.type}, not a role`);
  const roleName = assembly.ref(role);
  const policies: Array<{ name: string; policy: any }> = [];
  for (const p of role.properties.Policies ?? []) policies.push({ name: `${role.logicalId}/${p.PolicyName}`, policy: assembly.resolve(role.stack, p.PolicyDocument) });
  const attachedArns = new Set((assembly.resolve(role.stack, role.properties.ManagedPolicyArns ?? []) as string[]));
  for (const r of assembly.resources((x) => POLICY_TYPES.has(x.type))) {
    const roles = (assembly.resolve(r.stack, r.properties.Roles ?? []) as string[]);
    const attachedByArn = r.type === 'AWS::IAM::ManagedPolicy' && attachedArns.has(assembly.ref(r));
    if (roles.includes(roleName) || attachedByArn) policies.push({ name: `${r.stack}/${r.logicalId}`, policy: assembly.resolve(r.stack, r.properties.PolicyDocument) });
  }
  const { account } = assembly.env(role.stack);
  return { label, arn: assembly.arn(role), account, identityPolicies: policies };
}

/** The resource-based policy that applies to a target, if its type has one. */
export function resourcePolicy(assembly: ContractAssembly, target: AssemblyResource): any | undefined {
  const find = (type: string, prop: string, id: string, list: boolean) => {
    const hits = assembly.resources((r) => r.type === type).filter((r) => {
      const v = assembly.resolve(r.stack, r.properties[prop]);
      return list ? (v as string[]).includes(id) : v === id;
    });
    if (hits.length > 1) return { Version: '2012-10-17', Statement: hits.flatMap((h) => [assembly.resolve(h.stack, h.properties.PolicyDocument).Statement].flat()) };
    return hits[0] ? assembly.resolve(hits[0].stack, hits[0].properties.PolicyDocument) : undefined;
  };
  switch (target.type) {
    case 'AWS::S3::Bucket': return find('AWS::S3::BucketPolicy', 'Bucket', assembly.ref(target), false);
    case 'AWS::SQS::Queue': return find('AWS::SQS::QueuePolicy', 'Queues', assembly.ref(target), true);
    case 'AWS::SNS::Topic': return find('AWS::SNS::TopicPolicy', 'Topics', assembly.ref(target), true);
    case 'AWS::KMS::Key': return assembly.resolve(target.stack, target.properties.KeyPolicy);
    case 'AWS::SecretsManager::Secret': return find('AWS::SecretsManager::ResourcePolicy', 'SecretId', assembly.ref(target), false);
    default: return undefined;
  }
}

/** The customer managed key a target is encrypted with, if any (AWS managed and AWS owned keys need no grant). */
export function encryptionKeyOf(assembly: ContractAssembly, target: AssemblyResource): AssemblyResource | undefined {
  const p = target.properties;
  let keyRef: any;
  switch (target.type) {
    case 'AWS::S3::Bucket': {
      const rule = (p.BucketEncryption?.ServerSideEncryptionConfiguration ?? [])[0]?.ServerSideEncryptionByDefault;
      if (rule?.SSEAlgorithm === 'aws:kms' || rule?.SSEAlgorithm === 'aws:kms:dsse') keyRef = rule.KMSMasterKeyID;
      break;
    }
    case 'AWS::SQS::Queue': case 'AWS::SNS::Topic': keyRef = p.KmsMasterKeyId; break;
    case 'AWS::StepFunctions::StateMachine':
      if (p.EncryptionConfiguration?.Type === 'CUSTOMER_MANAGED_KMS_KEY') keyRef = p.EncryptionConfiguration.KmsKeyId;
      break;
    case 'AWS::SecretsManager::Secret': keyRef = p.KmsKeyId; break;
    // The target of a read of the cluster's RDS-managed master secret (recorded-calls.ts): that secret's key.
    case 'AWS::RDS::DBCluster': keyRef = p.MasterUserSecret?.KmsKeyId; break;
    default: return undefined;
  }
  if (keyRef === undefined) return undefined;
  const value = String(assembly.resolve(target.stack, keyRef));
  if (value.startsWith('alias/aws/')) return undefined;
  const key = assembly.resources((r) => r.type === 'AWS::KMS::Key').find((k) => [assembly.ref(k), assembly.arn(k)].includes(value));
  if (!key) throw new Error(`${target.stack}/${target.logicalId} is encrypted with ${value}, which is no key of the assembly`);
  return key;
}

/** The value the service puts in the encryption context for this target. */
function encryptionContextValue(assembly: ContractAssembly, target: AssemblyResource, resource: string): string {
  if (target.type === 'AWS::S3::Bucket') {
    const bucketKey = (target.properties.BucketEncryption?.ServerSideEncryptionConfiguration ?? [])[0]?.BucketKeyEnabled === true;
    return bucketKey ? assembly.arn(target) : resource;
  }
  if (target.type === 'AWS::SQS::Queue' || target.type === 'AWS::StepFunctions::StateMachine') return assembly.arn(target);
  if (target.type === 'AWS::RDS::DBCluster') return assembly.attribute(target, 'MasterUserSecret.SecretArn'); // SecretARN of the managed secret
  return assembly.ref(target);
}

const ENCRYPTION_CONTEXT = /^kms:encryptioncontext:(.+)$/i;

/**
 * iam-simulate (0.1.173) drops request context keys of the `kms:EncryptionContext:<key>` family (it
 * matches variable keys only in the `prefix/name` form), so a statement conditioned on them could
 * never match. We decide those conditions here, before evaluation, with the IAM string operators'
 * semantics, and hand iam-simulate the statements without them: a condition that holds is removed,
 * a statement whose condition fails is removed. Any other operator on such a key is an error.
 */
function bindEncryptionContext(policy: any, context: Record<string, string | string[]>): any {
  if (!policy) return policy;
  const known = new Map(Object.entries(context).filter(([k]) => ENCRYPTION_CONTEXT.test(k)).map(([k, v]) => [k.toLowerCase(), [v].flat()]));
  const like = (pattern: string, value: string) => new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`).test(value);
  const statements = [policy.Statement].flat().flatMap((st: any) => {
    if (!st?.Condition) return [st];
    const condition: Record<string, Record<string, unknown>> = {};
    let holds = true;
    for (const [op, entries] of Object.entries(st.Condition as Record<string, Record<string, unknown>>)) {
      for (const [key, expected] of Object.entries(entries)) {
        if (!ENCRYPTION_CONTEXT.test(key)) {
          (condition[op] ??= {})[key] = expected;
          continue;
        }
        const actual = known.get(key.toLowerCase());
        const wanted = [expected].flat().map(String);
        if (op === 'StringEquals') holds &&= !!actual && actual.some((a) => wanted.includes(String(a)));
        else if (op === 'StringLike' || op === 'ArnLike' || op === 'ArnEquals') holds &&= !!actual && actual.some((a) => wanted.some((w) => like(w, String(a))));
        else if (op === 'StringEqualsIgnoreCase') holds &&= !!actual && actual.some((a) => wanted.some((w) => w.toLowerCase() === String(a).toLowerCase()));
        else throw new Error(`The permission contract cannot evaluate ${op} on ${key} (statement ${JSON.stringify(st)})`);
      }
    }
    if (!holds) return [];
    const { Condition: _dropped, ...rest } = st;
    return [Object.keys(condition).length ? { ...rest, Condition: condition } : rest];
  });
  return { ...policy, Statement: statements };
}

async function simulate(principal: ContractPrincipal, action: string, resource: string, resourceAccount: string, resourcePolicyDoc: any, context: Record<string, string | string[]>): Promise<{ result: string; detail: string }> {
  const simulation: Simulation = {
    request: {
      principal: principal.arn,
      action,
      resource: { resource, accountId: resourceAccount },
      contextVariables: {
        'aws:SecureTransport': 'true',
        'aws:PrincipalArn': principal.arn,
        'aws:PrincipalAccount': principal.account,
        'aws:PrincipalType': 'AssumedRole',
        ...context,
      },
    },
    identityPolicies: principal.identityPolicies.map((p) => ({ ...p, policy: bindEncryptionContext(p.policy, context) })),
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    resourcePolicy: bindEncryptionContext(resourcePolicyDoc, context),
  };
  const response: any = await runSimulation(simulation, {});
  if (response.resultType === 'error') throw new Error(`iam-simulate rejected ${action} on ${resource} for ${principal.label}: ${JSON.stringify(response.errors)}`);
  const analysis = response.result?.analysis ?? response.results?.[0]?.analysis;
  const identity = analysis?.identityAnalysis?.result;
  const resourceResult = analysis?.resourceAnalysis?.result;
  return { result: response.overallResult, detail: `identity policies: ${identity ?? 'n/a'}; resource policy: ${resourceResult ?? 'none'}` };
}

/** Evaluates one call and, for a target on a customer managed key, the KMS calls the service makes for it. */
export async function evaluateCall(assembly: ContractAssembly, call: ContractCall): Promise<Denial[]> {
  const denials: Denial[] = [];
  const targetAccount = call.target ? assembly.env(call.target.stack).account : call.principal.account;
  const policy = call.target ? resourcePolicy(assembly, call.target) : undefined;
  const main = await simulate(call.principal, call.action, call.resource, targetAccount, policy, call.context ?? {});
  if (main.result !== 'Allowed') {
    denials.push({ call, action: call.action, resource: call.resource, result: main.result, missing: `an Allow for ${call.action} on ${call.resource} (${main.detail})` });
  }
  const key = call.target ? encryptionKeyOf(assembly, call.target) : undefined;
  if (key && call.target) {
    const req = kmsRequirement(call.service, call.operation);
    if (!req) throw new Error(`No KMS requirement known for ${call.service}:${call.operation} on a target encrypted with a customer managed key: add a row to test/permission-contract/kms-requirements.ts citing the AWS documentation`);
    const { region } = assembly.env(call.target.stack);
    const keyArn = assembly.arn(key);
    const ctx: Record<string, string | string[]> = { 'kms:ViaService': viaService(call.service === 'states' ? 'states' : call.service, region), 'kms:CallerAccount': call.principal.account };
    if (req.encryptionContextKey) {
      ctx[`kms:EncryptionContext:${req.encryptionContextKey}`] = encryptionContextValue(assembly, call.target, call.resource);
      ctx['kms:EncryptionContextKeys'] = [req.encryptionContextKey];
    }
    for (const kmsAction of req.kmsActions) {
      const r = await simulate(call.principal, kmsAction, keyArn, assembly.env(key.stack).account, resourcePolicy(assembly, key), ctx);
      if (r.result !== 'Allowed') {
        denials.push({
          call, action: kmsAction, resource: keyArn, result: r.result,
          missing: `${kmsAction} on the customer managed key ${key.stack}/${key.path || key.logicalId} that encrypts ${call.target.path || call.target.logicalId} (${r.detail}; required by ${req.source})`,
        });
      }
    }
  }
  return denials;
}
