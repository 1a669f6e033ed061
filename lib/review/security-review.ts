import * as fs from 'fs';
import * as path from 'path';
import { ClassificationRow, classifyStores, UNCLASSIFIED } from './data-classification';
import { audienceText, KeyAudience, keyAudiences, keysSharingAnAudience } from './key-audience';
import {
  ApiMethodReview, CognitoClientReview, ExternalCode, OutboundPath, RetentionReview, SecurityGroupReview, TemplateView, UserPoolReview, WatchedEvent, WebAclReview,
  apiOf, cognitoOf, externalCodeOf, outboundPathsOf, resourcePoliciesOf, retentionOf, securityGroupsOf, watchedEventsOf,
} from './sections';

/**
 * A security review of a synthesized CDK app, built from the cloud assembly (`cdk.out/`) alone:
 * the manifest, every stack template, `validation-report.json` (rule packs and the Control Tower
 * guard) and `readiness-report.json` when present. Nothing here needs the app's source, so a
 * reviewer can run it on any synthesized app.
 */

type Json = any;

export interface Statement {
  readonly effect: string;
  readonly actions: string[];
  readonly resources: string[];
  readonly principals?: string[];
  readonly conditions?: string;
  /** Why a reviewer should look closer: a wildcard action or resource, a `*` principal. */
  readonly flags: string[];
}

export interface RoleReview {
  readonly logicalId: string;
  readonly path: string;
  readonly trustedBy: string[];
  /** The trust policy's statements, with their conditions. */
  readonly trust: Statement[];
  readonly managedPolicies: string[];
  /** Statements from inline policies and from the policies of this template attached to the role. */
  readonly statements: Array<Statement & { policy: string }>;
}

export interface EncryptionReview {
  readonly logicalId: string;
  readonly path: string;
  readonly type: string;
  readonly encryption: string;
  readonly key: string;
  readonly customerManaged: boolean;
}

export interface NetworkReview {
  readonly internetGateways: string[];
  readonly natGateways: string[];
  readonly publicSubnets: string[];
  readonly privateSubnets: number;
  readonly routesToInternet: string[];
  readonly ingress: Array<{ group: string; protocol: string; ports: string; source: string; description?: string; open: boolean }>;
  readonly egress: Array<{ group: string; protocol: string; ports: string; destination: string; description?: string; open: boolean }>;
  /** Inbound from the internet: public databases, function URLs without auth, APIs, internet-facing load balancers. */
  readonly publicEndpoints: string[];
  readonly vpcEndpoints: string[];
  /** Every SageMaker model and Lambda function, with the network it runs in and whether that reaches the internet. */
  readonly outbound: OutboundPath[];
}

/** Who may use one KMS key, from its key policy and every IAM statement of the assembly that names it. */
export interface KeyReview {
  readonly stack: string;
  readonly key: string;
  readonly logicalId: string;
  readonly description: string;
  /** The key policy lets the account root use it: IAM policies then decide (listed as principals below). */
  readonly rootDelegation: boolean;
  readonly principals: KeyPrincipal[];
}

export interface KeyPrincipal {
  readonly principal: string;
  /** "key policy" or the IAM policy granting it. */
  readonly via: string;
  readonly effect: string;
  readonly decrypt: boolean;
  readonly createGrant: boolean;
  readonly changePolicy: boolean;
  readonly conditions?: string;
}

export interface BreakGlassPath {
  readonly path: string;
  readonly resource: string;
  readonly who: string[];
  readonly alarmedBy: string[];
}

export interface StackReview {
  readonly name: string;
  readonly templateFile: string;
  readonly terminationProtection: boolean;
  readonly resourceCount: number;
  readonly resourcesByType: Array<[string, number]>;
  readonly roles: RoleReview[];
  /** Policies in this template attached to roles defined elsewhere (imported or in another stack). */
  readonly otherPolicies: Array<{ policy: string; roles: string[]; statements: Statement[] }>;
  readonly resourcePolicies: Array<{ resource: string; type: string; statements: Statement[]; note?: string }>;
  readonly encryption: EncryptionReview[];
  readonly network: NetworkReview;
  readonly securityGroups: SecurityGroupReview[];
  readonly retention: RetentionReview[];
  readonly keys: KeyReview[];
  readonly cognitoClients: CognitoClientReview[];
  readonly userPools: UserPoolReview[];
  readonly apiMethods: ApiMethodReview[];
  readonly webAcls: WebAclReview[];
  readonly externalCode: ExternalCode[];
  readonly watchedEvents: WatchedEvent[];
  /** The stack's template as read, for the assembly-wide sections (classification, break glass). */
  readonly view: TemplateView;
}

export interface Acknowledgement {
  readonly plugin: string;
  readonly rule: string;
  readonly acknowledgedId: string;
  readonly reason: string;
  /** The construct the acknowledgement sits on (the narrowest scope that covers the finding). */
  readonly acknowledgedAt: string;
  readonly resources: string[];
}

export interface OpenFinding {
  readonly plugin: string;
  readonly rule: string;
  readonly severity: string;
  readonly resources: string[];
}

export interface SecurityReview {
  readonly assembly: string;
  readonly stacks: StackReview[];
  readonly plugins: Array<{ name: string; conclusion: string; open: number; acknowledged: number }>;
  readonly acknowledgements: Acknowledgement[];
  readonly openFindings: OpenFinding[];
  readonly guard?: { conclusion: string; version?: string; open: OpenFinding[]; acknowledged: Acknowledgement[] };
  readonly readiness?: Json;
  /** Access tiers, from the Cognito groups of the templates. */
  readonly tiers: string[];
  readonly dataClassification: ClassificationRow[];
  readonly breakGlass: BreakGlassPath[];
  /** Every customer-managed key's key-policy audience and the resources that use it (lib/review/key-audience.ts). */
  readonly keyAudiences: KeyAudience[];
  /** Keys of one stack with the same audience: each group should be one key. */
  readonly keysSharingAnAudience: Array<{ stack: string; keys: string[]; audience: string }>;
}

const GUARD_PLUGIN = 'cdk-validator-cfnguard';
const asArray = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** Reads a cloud assembly directory and reviews every stack in it. */
export function reviewCloudAssembly(dir: string): SecurityReview {
  const manifestFile = path.join(dir, 'manifest.json');
  if (!fs.existsSync(manifestFile)) throw new Error(`${dir} is not a cloud assembly (no manifest.json): run "npx cdk synth" first, or pass --assembly <dir>.`);
  const manifest = JSON.parse(fs.readFileSync(manifestFile, 'utf8'));
  const loaded = Object.entries<Json>(manifest.artifacts ?? {})
    .filter(([, a]) => a.type === 'aws:cloudformation:stack')
    .map(([id, a]) => ({ name: a.properties.stackName ?? a.displayName ?? id, templateFile: a.properties.templateFile as string, terminationProtection: !!a.properties.terminationProtection, template: JSON.parse(fs.readFileSync(path.join(dir, a.properties.templateFile), 'utf8')) }));
  // A cross-stack reference shows what it points to in the producing stack, not the export's name.
  const crossStack: CrossStackResolver = (stackName, outputName) => {
    const producer = loaded.find((l) => l.name === stackName);
    const value = producer?.template.Outputs?.[outputName]?.Value;
    if (value === undefined) return undefined;
    const res = producer!.template.Resources ?? {};
    return `${stackName}:${render(value, (id) => shortPath(stackName, res[id]?.Metadata?.['aws:cdk:path']) ?? id).replace(/^\{(.*)\}$/, '$1')}`;
  };
  const stacks = loaded.map((l) => reviewStack(l.name, l.templateFile, l.template, l.terminationProtection, crossStack));

  const reportFile = path.join(dir, 'validation-report.json');
  const report = fs.existsSync(reportFile) ? JSON.parse(fs.readFileSync(reportFile, 'utf8')) : { pluginReports: [] };
  const plugins: SecurityReview['plugins'] = [];
  const acknowledgements: Acknowledgement[] = [];
  const openFindings: OpenFinding[] = [];
  for (const p of report.pluginReports ?? []) {
    if (p.pluginName === 'CloudFormation-Validate') continue; // CDK's own schema check, not a security rule pack
    const open: OpenFinding[] = (p.violations ?? []).map((v: Json) => ({ plugin: p.pluginName, rule: v.ruleName, severity: v.severity ?? 'error', resources: constructsOf(v) }));
    const acks: Acknowledgement[] = (p.suppressedViolations ?? []).map((s: Json) => ({
      plugin: p.pluginName, rule: s.ruleName, acknowledgedId: s.acknowledgedId, reason: s.reason, acknowledgedAt: s.acknowledgedAt, resources: constructsOf(s),
    }));
    plugins.push({ name: p.pluginName, conclusion: p.conclusion, open: open.length, acknowledged: acks.length });
    openFindings.push(...open);
    acknowledgements.push(...acks);
  }
  // Without a validation report (an app synthesized without the packs registered as validation
  // plugins), fall back to the acknowledgements cdk-nag copied into template metadata. Those are
  // written on every resource under the acknowledged construct, so they over-state: the report is
  // the source of truth when present.
  if (!fs.existsSync(reportFile)) for (const s of stacks) acknowledgements.push(...templateAcknowledgements(dir, s));
  const guardReport = (report.pluginReports ?? []).find((p: Json) => p.pluginName === GUARD_PLUGIN);
  const guard = guardReport ? {
    conclusion: guardReport.conclusion,
    version: guardReport.pluginVersion,
    open: openFindings.filter((f) => f.plugin === GUARD_PLUGIN),
    acknowledged: acknowledgements.filter((a) => a.plugin === GUARD_PLUGIN),
  } : undefined;

  const readinessFile = path.join(dir, 'readiness-report.json');
  const readiness = fs.existsSync(readinessFile) ? JSON.parse(fs.readFileSync(readinessFile, 'utf8')) : undefined;
  return { assembly: dir, stacks, plugins, acknowledgements, openFindings, guard, readiness, ...assemblyWide(stacks) };
}

function constructsOf(v: Json): string[] {
  return (v.violatingConstructs ?? v.violatingResources ?? []).map((c: Json) => c.constructPath ?? c.cloudFormationResource?.logicalId ?? c.resourceLogicalId ?? '?');
}

function templateAcknowledgements(dir: string, s: StackReview): Acknowledgement[] {
  const template = JSON.parse(fs.readFileSync(path.join(dir, s.templateFile), 'utf8'));
  const out: Acknowledgement[] = [];
  for (const [logicalId, r] of Object.entries<Json>(template.Resources ?? {})) {
    for (const rule of r.Metadata?.cdk_nag?.rules_to_suppress ?? []) {
      if (String(rule.id).startsWith('CloudFormation-Validate')) continue;
      const where = r.Metadata?.['aws:cdk:path'] ?? `${s.name}/${logicalId}`;
      const id = String(rule.id);
      const plugin = id.includes('::') ? id.split('::')[0] : id.split('-')[0];
      out.push({ plugin, rule: id.split('::').pop()!, acknowledgedId: id, reason: rule.reason, acknowledgedAt: where, resources: [where] });
    }
  }
  return out;
}

/** What a stack's output refers to, as `<stack>:<path>.<attribute>`; undefined when unknown. */
export type CrossStackResolver = (stackName: string, outputName: string) => string | undefined;

/** One stack template, reviewed. */
export function reviewStack(name: string, templateFile: string, template: Json, terminationProtection = false, crossStack?: CrossStackResolver): StackReview {
  const resources: Record<string, Json> = template.Resources ?? {};
  const pathOf = (id: string) => shortPath(name, resources[id]?.Metadata?.['aws:cdk:path']) ?? id;
  const label = (id: string) => (pathOf(id) === id ? id : `${pathOf(id)} (${id})`);
  const show = (v: unknown) => render(v, pathOf, crossStack);

  const counts = new Map<string, number>();
  for (const r of Object.values(resources)) counts.set(r.Type, (counts.get(r.Type) ?? 0) + 1);
  const resourcesByType = [...counts.entries()].sort((a, b) => a[0].localeCompare(b[0]));

  // IAM roles, with every policy of this template that names them
  const roles: RoleReview[] = [];
  const roleIds = Object.keys(resources).filter((id) => resources[id].Type === 'AWS::IAM::Role');
  const attached = new Set<string>();
  for (const id of roleIds) {
    const p = resources[id].Properties ?? {};
    const statements: RoleReview['statements'] = [];
    for (const inline of p.Policies ?? []) for (const st of statementsOf(inline.PolicyDocument, show)) statements.push({ ...st, policy: `inline ${inline.PolicyName}` });
    for (const [pid, pr] of Object.entries<Json>(resources)) {
      if (pr.Type !== 'AWS::IAM::Policy' && pr.Type !== 'AWS::IAM::ManagedPolicy') continue;
      if (!asArray(pr.Properties?.Roles).some((r: Json) => r?.Ref === id)) continue;
      attached.add(pid);
      for (const st of statementsOf(pr.Properties.PolicyDocument, show)) statements.push({ ...st, policy: pathOf(pid) });
    }
    roles.push({
      logicalId: id,
      path: pathOf(id),
      trustedBy: statementsOf(p.AssumeRolePolicyDocument, show).flatMap((s) => s.principals ?? []),
      trust: statementsOf(p.AssumeRolePolicyDocument, show, true),
      managedPolicies: asArray(p.ManagedPolicyArns).map(show),
      statements,
    });
  }
  const otherPolicies: StackReview['otherPolicies'] = Object.entries<Json>(resources)
    .filter(([pid, pr]) => (pr.Type === 'AWS::IAM::Policy' || pr.Type === 'AWS::IAM::ManagedPolicy') && !attached.has(pid))
    .map(([pid, pr]) => ({ policy: label(pid), roles: asArray(pr.Properties?.Roles).map(show), statements: statementsOf(pr.Properties?.PolicyDocument, show) }));

  const view: TemplateView = { stack: name, resources, mappings: template.Mappings ?? {}, outputs: template.Outputs ?? {}, pathOf, label, show };
  const resourcePolicies: StackReview['resourcePolicies'] = resourcePoliciesOf(view).map((rp) => ({
    resource: rp.target, type: rp.type, note: rp.note, statements: statementsOf(rp.document, show, true),
  }));
  for (const r of Object.values<Json>(resources)) {
    if (r.Type !== 'AWS::Lambda::Permission' && r.Type !== 'AWS::Lambda::LayerVersionPermission') continue;
    const p = r.Properties;
    const flags = p.Principal === '*' && !p.SourceArn && !p.SourceAccount && !p.OrganizationId && !p.PrincipalOrgID ? ['any principal, no condition'] : [];
    const conditions = [
      p.SourceArn ? `SourceArn = ${show(p.SourceArn)}` : '', p.SourceAccount ? `SourceAccount = ${show(p.SourceAccount)}` : '',
      p.PrincipalOrgID ? `PrincipalOrgID = ${show(p.PrincipalOrgID)}` : '', p.OrganizationId ? `OrganizationId = ${show(p.OrganizationId)}` : '',
      p.FunctionUrlAuthType ? `FunctionUrlAuthType = ${p.FunctionUrlAuthType}` : '',
    ].filter(Boolean).join('; ');
    const target = show(p.FunctionName ?? p.LayerVersionArn);
    resourcePolicies.push({ resource: target, type: r.Type, statements: [{ effect: 'Allow', actions: [show(p.Action)], resources: [target], principals: [show(p.Principal)], conditions: conditions || undefined, flags }] });
  }

  const network = networkOf(resources, label, show);
  const securityGroups = securityGroupsOf(view);
  network.outbound.push(...outboundPathsOf(view, securityGroups, network.routesToInternet.length));
  for (const g of securityGroups) {
    for (const e of g.egress) network.egress.push({ group: g.group, protocol: e.protocol, ports: e.ports, destination: e.peer, description: e.description, open: e.open });
    if (g.allOutbound && !g.egress.some((e) => e.open && e.protocol === 'all')) network.egress.push({ group: g.group, protocol: 'all', ports: 'all', destination: '0.0.0.0/0', description: 'EC2 default (the group declares no egress)', open: true });
  }
  const cognito = cognitoOf(view);
  const api = apiOf(view);

  return {
    name,
    templateFile,
    terminationProtection,
    resourceCount: Object.keys(resources).length,
    resourcesByType,
    roles,
    otherPolicies,
    resourcePolicies,
    encryption: encryptionOf(resources, pathOf, show),
    network,
    securityGroups,
    retention: retentionOf(view),
    keys: keysOf(view),
    cognitoClients: cognito.clients,
    userPools: cognito.pools,
    apiMethods: api.methods,
    webAcls: api.webAcls,
    externalCode: externalCodeOf(view),
    watchedEvents: watchedEventsOf(view),
    view,
  };
}

// ---------------------------------------------------------------------------------------------
// Who may use each key, read each secret, change a user pool's groups: across the whole assembly

const globToRegex = (pattern: string) => new RegExp(`^${pattern.split('*').map((x) => x.replace(/[.+?^${}()|[\]\\<>]/g, '\\$&')).join('.*')}$`, 'i');
/** Whether a statement's action list covers `action` (wildcards; NotAction inverts). */
function coversAction(st: Statement, action: string): boolean {
  const hit = st.actions.some((a) => globToRegex(a).test(action));
  return st.flags.includes('NotAction') ? !hit : hit;
}
/**
 * Whether a statement's resources cover one resource: by reference (`{Path.Arn}` in its own stack,
 * `{stack:Path.Arn}` from another) or by a wildcard that matches the resource's ARN shape.
 */
function coversResource(st: Statement, refs: string[], arnShape: string): boolean {
  if (st.flags.includes('NotResource')) return true; // over-reports on purpose: a reviewer reads NotResource by hand
  return st.resources.some((r) => r === '*' || refs.includes(r) || (r.includes('*') && globToRegex(r.replace(/<[A-Za-z:]+>/g, '*')).test(arnShape)));
}

const isAccountRoot = (p: string) => /^AWS: arn:<Partition>:iam::<AccountId>:root$/.test(p) || p === 'AWS: <AccountId>';

function keysOf(v: TemplateView): KeyReview[] {
  return Object.entries<Json>(v.resources).filter(([, r]) => r.Type === 'AWS::KMS::Key').map(([id, r]) => {
    const statements = statementsOf(r.Properties?.KeyPolicy, v.show, true);
    const principals: KeyPrincipal[] = [];
    for (const st of statements) {
      const row = { decrypt: coversAction(st, 'kms:Decrypt'), createGrant: coversAction(st, 'kms:CreateGrant'), changePolicy: coversAction(st, 'kms:PutKeyPolicy') };
      if (!row.decrypt && !row.createGrant && !row.changePolicy) continue;
      for (const p of st.principals ?? ['?']) principals.push({ principal: isAccountRoot(p) ? `${p} (the account: IAM policies decide)` : p, via: 'key policy', effect: st.effect, ...row, conditions: st.conditions });
    }
    const rootDelegation = statements.some((st) => st.effect === 'Allow' && coversAction(st, 'kms:Decrypt') && (st.principals ?? []).some(isAccountRoot) && !st.conditions);
    return { stack: v.stack, key: v.pathOf(id), logicalId: id, description: v.show(r.Properties?.Description), rootDelegation, principals };
  });
}

interface IdentityStatement { principal: string; via: string; statement: Statement }

/** Every IAM statement of the assembly, with the principal it applies to. */
function identityStatements(stacks: StackReview[]): IdentityStatement[] {
  return stacks.flatMap((s) => [
    ...s.roles.flatMap((r) => r.statements.map((st) => ({ principal: `role ${s.name}:${r.path}`, via: `${s.name}:${st.policy}`, statement: st }))),
    ...s.otherPolicies.flatMap((p) => p.statements.map((st) => ({ principal: p.roles.length ? p.roles.map((x) => `role ${x.replace(/^\{(.*)\}$/, '$1')}`).join(', ') : `whoever ${s.name}:${p.policy} is attached to`, via: `${s.name}:${p.policy}`, statement: st }))),
  ]);
}

const refsOf = (owner: string, stack: string, p: string, attr?: string) => {
  const suffix = attr ? `.${attr}` : '';
  return owner === stack ? [`{${p}${suffix}}`, `{${p}}`] : [`{${owner}:${p}${suffix}}`, `{${owner}:${p}}`];
};

/**
 * The sections that need every stack: IAM principals of other stacks on each key, the data
 * classification, and the break-glass paths with the alarms that watch them.
 */
export function assemblyWide(stacks: StackReview[]): Pick<SecurityReview, 'tiers' | 'dataClassification' | 'breakGlass' | 'keyAudiences' | 'keysSharingAnAudience'> {
  const identity = identityStatements(stacks);
  const stackOf = (st: IdentityStatement) => st.via.split(':')[0];
  for (const s of stacks) {
    for (const k of s.keys) {
      for (const st of identity) {
        const refs = refsOf(s.name, stackOf(st), k.key, 'Arn');
        if (!coversResource(st.statement, refs, 'arn:aws:kms:r:a:key/x')) continue;
        const row = { decrypt: coversAction(st.statement, 'kms:Decrypt'), createGrant: coversAction(st.statement, 'kms:CreateGrant'), changePolicy: coversAction(st.statement, 'kms:PutKeyPolicy') };
        if (!row.decrypt && !row.createGrant && !row.changePolicy) continue;
        const wildcard = !st.statement.resources.some((r) => refs.includes(r));
        k.principals.push({ principal: st.principal, via: `IAM ${st.via}${wildcard ? ` (resource ${st.statement.resources.join(', ')})` : ''}`, effect: st.statement.effect, ...row, conditions: st.statement.conditions });
      }
    }
  }
  const views = stacks.map((s) => s.view);
  const tiers = [...new Set(views.flatMap((v) => Object.values<Json>(v.resources).filter((r) => r.Type === 'AWS::Cognito::UserPoolGroup').map((r) => v.show(r.Properties?.GroupName))))];
  const watched = stacks.flatMap((s) => s.watchedEvents.map((w) => ({ ...w, by: `${s.name}: ${w.by}` })));
  const alarmsFor = (...events: string[]) => watched.filter((w) => w.events.some((e) => events.includes(e))).map((w) => `${w.by} (${w.events.filter((e) => events.includes(e)).join(', ')})`);
  const who = (refs: (stack: string) => string[], shape: string, actions: string[]) => identity
    .filter((st) => st.statement.effect === 'Allow' && actions.some((a) => coversAction(st.statement, a)) && coversResource(st.statement, refs(stackOf(st)), shape))
    .map((st) => `${st.principal} (${actions.filter((a) => coversAction(st.statement, a)).join(', ')}${st.statement.conditions ? `; if ${st.statement.conditions}` : ''})`);
  const breakGlass: BreakGlassPath[] = [];
  for (const s of stacks) {
    const v = s.view;
    for (const [id, r] of Object.entries<Json>(v.resources)) {
      if (r.Type === 'AWS::SecretsManager::Secret') {
        const p = v.pathOf(id);
        const keyRef = v.show(r.Properties?.KmsKeyId);
        const key = s.keys.find((k) => keyRef === `{${k.key}.Arn}` || keyRef === `{${k.key}}`);
        // A SecretTargetAttachment's Ref is the secret's ARN: grants and rotation often name it instead.
        const aliases = [p, ...Object.entries<Json>(v.resources).filter(([, x]) => x.Type === 'AWS::SecretsManager::SecretTargetAttachment' && v.show(x.Properties?.SecretId) === `{${p}}`).map(([aid]) => v.pathOf(aid))];
        const readers = who((st) => aliases.flatMap((a) => refsOf(s.name, st, a)), 'arn:aws:secretsmanager:r:a:secret:x', ['secretsmanager:GetSecretValue']);
        const policy = s.resourcePolicies.filter((rp) => rp.type === 'AWS::SecretsManager::ResourcePolicy' && aliases.some((a) => rp.resource === `{${a}}`)).flatMap((rp) => rp.statements.filter((st) => coversAction(st, 'secretsmanager:GetSecretValue')).map((st) => `resource policy: ${st.effect} ${(st.principals ?? []).join(', ')}${st.conditions ? ` if ${st.conditions}` : ''}`));
        const rotation = Object.values<Json>(v.resources).filter((x) => x.Type === 'AWS::SecretsManager::RotationSchedule' && aliases.some((a) => v.show(x.Properties?.SecretId) === `{${a}}`)).map((x) => `the rotation function ${v.show(x.Properties?.RotationLambdaARN)} (its role is in the application's own nested stack, not in these templates)`);
        breakGlass.push({
          path: 'read the secret',
          resource: `${s.name}:${p}${key ? ` (key ${key.key}${key.rootDelegation ? ', whose policy delegates to the account' : ''})` : ''}`,
          who: [...readers, ...policy, ...rotation, ...(key?.rootDelegation ? ['any principal the account\'s IAM policies allow secretsmanager:GetSecretValue on it and kms:Decrypt on its key (administrators)'] : [])],
          alarmedBy: alarmsFor('GetSecretValue'),
        });
      }
      if (r.Type === 'AWS::RDS::DBCluster' && r.Properties?.ManageMasterUserPassword === true) {
        // The RDS-managed master secret: no resource of the template, an attribute of the cluster
        // (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/rds-secrets-manager.html); RDS rotates it.
        const p = v.pathOf(id);
        const keyRef = v.show(r.Properties?.MasterUserSecret?.KmsKeyId);
        const key = s.keys.find((k) => keyRef === `{${k.key}.Arn}` || keyRef === `{${k.key}}`);
        const attr = 'MasterUserSecret.SecretArn';
        const readers = who((st) => (st === s.name ? [`{${p}.${attr}}`] : [`{${s.name}:${p}.${attr}}`]), 'arn:aws:secretsmanager:r:a:secret:x', ['secretsmanager:GetSecretValue']);
        breakGlass.push({
          path: 'read the secret',
          resource: `${s.name}:${p} (RDS-managed master secret${key ? `, key ${key.key}${key.rootDelegation ? ', whose policy delegates to the account' : ''}` : `, key ${keyRef || 'aws/secretsmanager'}`}; rotated by RDS)`,
          who: [...readers, ...(key?.rootDelegation ? ['any principal the account\'s IAM policies allow secretsmanager:GetSecretValue on it and kms:Decrypt on its key (administrators)'] : [])],
          alarmedBy: alarmsFor('GetSecretValue'),
        });
      }
      if (r.Type === 'AWS::Cognito::UserPool') {
        const p = v.pathOf(id);
        const groups = s.userPools.find((u) => u.pool.startsWith(p))?.groups ?? [];
        const triggers = s.userPools.find((u) => u.pool.startsWith(p))?.triggers ?? [];
        const actions = ['cognito-idp:AdminAddUserToGroup', 'cognito-idp:AdminRemoveUserFromGroup', 'cognito-idp:CreateGroup', 'cognito-idp:UpdateGroup', 'cognito-idp:UpdateUserPool', 'cognito-idp:AdminSetUserPassword', 'cognito-idp:AdminCreateUser'];
        breakGlass.push({
          path: `change tier group membership (groups ${groups.join(', ') || '-'}: the most restricted tier's group is the break-glass one)`,
          resource: `${s.name}:${p}`,
          who: [...who((st) => refsOf(s.name, st, p, 'Arn'), 'arn:aws:cognito-idp:r:a:userpool/x', actions), ...triggers.map((t) => `the pool's trigger ${t} (can rewrite tokens)`), 'any principal the account\'s IAM policies allow cognito-idp:AdminAddUserToGroup on the pool (administrators)'],
          alarmedBy: alarmsFor('AdminAddUserToGroup', 'AdminRemoveUserFromGroup', 'CreateGroup', 'UpdateGroup'),
        });
      }
    }
    for (const k of s.keys) {
      const changers = k.principals.filter((x) => x.effect === 'Allow' && x.changePolicy).map((x) => `${x.principal} via ${x.via}${x.conditions ? ` if ${x.conditions}` : ''}`);
      breakGlass.push({
        path: k.rootDelegation ? 'change the key policy; root delegation: the account\'s IAM policies may use the key' : 'change the key policy',
        resource: `${s.name}:${k.key}`,
        who: changers,
        alarmedBy: alarmsFor('PutKeyPolicy', 'ScheduleKeyDeletion', 'DisableKey', 'CreateGrant'),
      });
    }
  }
  const audiences = keyAudiences(views);
  return { tiers, dataClassification: classifyStores(views, tiers), breakGlass, keyAudiences: audiences, keysSharingAnAudience: keysSharingAnAudience(audiences) };
}

function shortPath(stack: string, p?: string): string | undefined {
  if (!p) return undefined;
  return p.replace(new RegExp(`^/?${stack.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/`), '').replace(/\/Resource$/, '');
}

/** A CloudFormation value as text a person can read: references become construct paths. */
export function render(v: unknown, pathOf: (logicalId: string) => string = (x) => x, crossStack?: CrossStackResolver): string {
  const again = (x: unknown) => render(x, pathOf, crossStack);
  if (v === undefined || v === null) return '';
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return v.map((x) => again(x)).join(', ');
  const o = v as Json;
  if (typeof o.Ref === 'string') return o.Ref.startsWith('AWS::') ? `<${o.Ref.slice(5)}>` : `{${pathOf(o.Ref)}}`;
  if (o['Fn::GetAtt']) {
    const [id, attr] = Array.isArray(o['Fn::GetAtt']) ? o['Fn::GetAtt'] : String(o['Fn::GetAtt']).split('.');
    return `{${pathOf(id)}.${attr}}`;
  }
  if (o['Fn::Join']) return (o['Fn::Join'][1] as unknown[]).map((x) => again(x)).join(o['Fn::Join'][0]);
  if (o['Fn::Sub']) {
    const [text, vars] = Array.isArray(o['Fn::Sub']) ? o['Fn::Sub'] : [o['Fn::Sub'], {}];
    return String(text).replace(/\$\{([^}]+)\}/g, (_m: string, name: string) => {
      if (vars?.[name] !== undefined) return again(vars[name]);
      if (name.startsWith('AWS::')) return `<${name.slice(5)}>`;
      const [id, attr] = name.split('.');
      return attr ? `{${pathOf(id)}.${attr}}` : `{${pathOf(id)}}`;
    });
  }
  if (o['Fn::ImportValue']) return `{import ${again(o['Fn::ImportValue'])}}`;
  if (o['Fn::GetStackOutput']) {
    const { StackName, OutputName } = o['Fn::GetStackOutput'];
    return `{${crossStack?.(StackName, OutputName) ?? `${StackName}.${OutputName}`}}`;
  }
  if (o['Fn::Select']) return `{select ${render(o['Fn::Select'][0])} of ${again(o['Fn::Select'][1])}}`;
  if (o['Fn::FindInMap']) return `{${o['Fn::FindInMap'].map((x: unknown) => again(x)).join('.')}}`;
  if (o['Fn::Split']) return `{split ${again(o['Fn::Split'][1])}}`;
  if (o['Fn::If']) return `{if ${o['Fn::If'][0]}: ${again(o['Fn::If'][1])} else ${again(o['Fn::If'][2])}}`;
  return JSON.stringify(o);
}

const isWildcard = (s: string) => s.includes('*');

/**
 * The statements of a policy document, flagged. In a resource policy (`resourcePolicy`) the
 * resource is the resource the policy is attached to (a key policy's `*` means "this key"), so only
 * wildcard actions and open principals are flagged there.
 */
function statementsOf(doc: Json, show: (v: unknown) => string, resourcePolicy = false): Statement[] {
  return asArray(doc?.Statement).map((s: Json) => {
    const actions = asArray(s.Action ?? s.NotAction).map(show);
    const resources = asArray(s.Resource ?? s.NotResource).map(show);
    const principals = s.Principal === undefined ? undefined : s.Principal === '*' ? ['*'] : Object.entries<Json>(s.Principal).flatMap(([k, v]) => asArray(v).map((x) => `${k}: ${show(x)}`));
    const flags: string[] = [];
    if (s.NotAction) flags.push('NotAction');
    if (s.NotResource) flags.push('NotResource');
    if (s.Effect === 'Allow' && actions.some(isWildcard)) flags.push('wildcard action');
    if (s.Effect === 'Allow' && !resourcePolicy && resources.some((r) => r === '*')) flags.push('wildcard resource (*)');
    else if (s.Effect === 'Allow' && !resourcePolicy && resources.some(isWildcard)) flags.push('wildcard in resource');
    if (s.Effect === 'Allow' && principals?.some((p) => p === '*' || p.endsWith(': *')) && !s.Condition) flags.push('any principal, no condition');
    return { effect: s.Effect, actions, resources, principals, conditions: s.Condition ? conditionText(s.Condition, show) : undefined, flags };
  });
}

function conditionText(c: Json, show: (v: unknown) => string): string {
  return Object.entries<Json>(c).flatMap(([op, kv]) => Object.entries<Json>(kv).map(([k, v]) => `${op} ${k} = ${asArray(v).map(show).join(' | ')}`)).join('; ');
}

function encryptionOf(resources: Record<string, Json>, pathOf: (id: string) => string, show: (v: unknown) => string): EncryptionReview[] {
  const out: EncryptionReview[] = [];
  const keyOf = (v: unknown): { key: string; cmk: boolean } => {
    if (v === undefined) return { key: '', cmk: false };
    const text = show(v);
    return { key: text, cmk: !/alias\/aws\//.test(text) };
  };
  const add = (id: string, encryption: string, key: unknown, cmkOverride?: boolean) => {
    const k = keyOf(key);
    out.push({ logicalId: id, path: pathOf(id), type: resources[id].Type, encryption, key: k.key || '-', customerManaged: cmkOverride ?? k.cmk });
  };
  for (const [id, r] of Object.entries<Json>(resources)) {
    const p = r.Properties ?? {};
    switch (r.Type) {
      case 'AWS::S3::Bucket': {
        const sse = p.BucketEncryption?.ServerSideEncryptionConfiguration?.[0]?.ServerSideEncryptionByDefault;
        if (!sse) add(id, 'SSE-S3 (S3 default)', undefined, false);
        else if (sse.SSEAlgorithm === 'AES256') add(id, 'SSE-S3 (AES256)', undefined, false);
        else add(id, `SSE-KMS (${sse.SSEAlgorithm})`, sse.KMSMasterKeyID ?? 'alias/aws/s3');
        break;
      }
      case 'AWS::SQS::Queue':
        if (p.KmsMasterKeyId) add(id, 'SSE-KMS', p.KmsMasterKeyId);
        else add(id, p.SqsManagedSseEnabled === false ? 'NONE' : 'SSE-SQS (SQS-managed)', undefined, false);
        break;
      case 'AWS::SNS::Topic':
        if (p.KmsMasterKeyId) add(id, 'SSE-KMS', p.KmsMasterKeyId);
        else add(id, 'NONE', undefined, false);
        break;
      case 'AWS::RDS::DBInstance':
      case 'AWS::RDS::DBCluster':
        // An Aurora instance stores nothing of its own: its cluster's volume is the data store.
        if (r.Type === 'AWS::RDS::DBInstance' && p.DBClusterIdentifier) break;
        if (p.StorageEncrypted) add(id, 'storage encrypted (KMS)', p.KmsKeyId ?? 'alias/aws/rds');
        else add(id, 'NONE', undefined, false);
        break;
      case 'AWS::Logs::LogGroup':
        if (p.KmsKeyId) add(id, 'KMS', p.KmsKeyId);
        else add(id, 'CloudWatch Logs default', undefined, false);
        break;
      case 'AWS::SecretsManager::Secret':
        add(id, 'KMS', p.KmsKeyId ?? 'alias/aws/secretsmanager');
        break;
      case 'AWS::StepFunctions::StateMachine': {
        const e = p.EncryptionConfiguration;
        if (e?.Type === 'CUSTOMER_MANAGED_KMS_KEY') add(id, 'KMS', e.KmsKeyId);
        else add(id, 'AWS-owned key', undefined, false);
        break;
      }
      case 'AWS::SageMaker::EndpointConfig':
        if (p.KmsKeyId) add(id, 'KMS (ML storage volume)', p.KmsKeyId);
        else add(id, 'AWS-managed (instance storage)', undefined, false);
        break;
      case 'AWS::DynamoDB::Table':
      case 'AWS::DynamoDB::GlobalTable':
        if (p.SSESpecification?.SSEEnabled) add(id, 'KMS', p.SSESpecification.KMSMasterKeyId ?? 'alias/aws/dynamodb');
        else add(id, 'AWS-owned key', undefined, false);
        break;
      case 'AWS::Lambda::Function':
        if (p.Environment) add(id, 'environment variables', p.KmsKeyArn ?? 'alias/aws/lambda');
        break;
      default:
    }
  }
  return out;
}

function networkOf(resources: Record<string, Json>, label: (id: string) => string, show: (v: unknown) => string): NetworkReview {
  const ofType = (t: string) => Object.entries<Json>(resources).filter(([, r]) => r.Type === t);
  const subnets = ofType('AWS::EC2::Subnet');
  const ingress: NetworkReview['ingress'] = [];
  const addRule = (group: string, rule: Json) => {
    const source = rule.CidrIp ?? rule.CidrIpv6 ?? rule.SourcePrefixListId ?? rule.SourceSecurityGroupId;
    const text = show(source);
    const ports = rule.IpProtocol === '-1' ? 'all' : rule.FromPort === rule.ToPort ? String(rule.FromPort) : `${rule.FromPort}-${rule.ToPort}`;
    ingress.push({ group, protocol: String(rule.IpProtocol), ports, source: text, description: rule.Description, open: text === '0.0.0.0/0' || text === '::/0' });
  };
  for (const [id, r] of ofType('AWS::EC2::SecurityGroup')) for (const rule of r.Properties?.SecurityGroupIngress ?? []) addRule(label(id), rule);
  for (const [, r] of ofType('AWS::EC2::SecurityGroupIngress')) addRule(show(r.Properties.GroupId).replace(/\.GroupId}$/, '}'), r.Properties);
  const publicEndpoints = [
    ...ofType('AWS::RDS::DBInstance').filter(([, r]) => r.Properties?.PubliclyAccessible === true).map(([id]) => `publicly accessible database ${label(id)}`),
    ...ofType('AWS::Lambda::Url').filter(([, r]) => r.Properties?.AuthType === 'NONE').map(([id]) => `function URL without auth ${label(id)}`),
    ...ofType('AWS::ApiGateway::RestApi').map(([id]) => `API Gateway REST API ${label(id)}`),
    ...ofType('AWS::ApiGatewayV2::Api').map(([id]) => `API Gateway HTTP API ${label(id)}`),
    ...ofType('AWS::ElasticLoadBalancingV2::LoadBalancer').filter(([, r]) => r.Properties?.Scheme !== 'internal').map(([id]) => `internet-facing load balancer ${label(id)}`),
  ];
  return {
    internetGateways: ofType('AWS::EC2::InternetGateway').map(([id]) => label(id)),
    natGateways: ofType('AWS::EC2::NatGateway').map(([id]) => label(id)),
    publicSubnets: subnets.filter(([, r]) => r.Properties?.MapPublicIpOnLaunch === true).map(([id]) => label(id)),
    privateSubnets: subnets.filter(([, r]) => r.Properties?.MapPublicIpOnLaunch !== true).length,
    routesToInternet: ofType('AWS::EC2::Route').filter(([, r]) => r.Properties?.GatewayId || r.Properties?.NatGatewayId).map(([id, r]) => `${label(id)}: ${show(r.Properties.DestinationCidrBlock)} -> ${show(r.Properties.GatewayId ?? r.Properties.NatGatewayId)}`),
    ingress,
    egress: [],
    publicEndpoints,
    vpcEndpoints: ofType('AWS::EC2::VPCEndpoint').map(([, r]) => `${show(r.Properties.ServiceName).replace(/^com\.amazonaws\.<Region>\./, '')} (${r.Properties.VpcEndpointType ?? 'Gateway'})`),
    outbound: [],
  };
}

// ---------------------------------------------------------------------------------------------
// Markdown

/** Markdown that is already formatted (code spans, bold); a table cell or line takes it as is. */
class Md {
  constructor(readonly md: string) {}
  toString(): string {
    return this.md;
  }
}
const md = (s: string) => new Md(s);
/**
 * Text shown as it is: every character CommonMark or GFM could read as markup is backslash-escaped,
 * so `s3:*` stays a wildcard (not the start of italics) and `<AWS::Region>` stays text (not an
 * unknown HTML tag the renderer drops). https://spec.commonmark.org/0.31.2/#backslash-escapes
 */
export const escapeMarkdown = (s: unknown) => String(s ?? '').replace(/[\\`*_<>[\]~|&]/g, '\\$&').replace(/\n/g, ' ');
/** A code span: shown verbatim by every Markdown renderer (backticks inside become quotes). */
const code = (s: string) => md(s ? `\`${s.replace(/`/g, "'")}\`` : '');
const codes = (items: string[]) => md(items.map((i) => code(i).md).join(', '));
const bold = (s: string) => md(`**${escapeMarkdown(s)}**`);
/** A GFM table cell: Md as is (with the pipes of its code spans escaped), anything else escaped. */
const cell = (v: unknown) => (v instanceof Md ? v.md.replace(/(?<!\\)\|/g, '\\|').replace(/\n/g, ' ') : escapeMarkdown(v));
const table = (head: string[], rows: unknown[][]) => [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`)];

/** IAM statements flagged for a closer look: of the roles and of the policies attached to other principals (the console line and the report share it). */
export function flaggedStatementCount(r: SecurityReview): number {
  return r.stacks.flatMap((s) => [...s.roles.flatMap((x) => x.statements), ...s.otherPolicies.flatMap((x) => x.statements)]).filter((s) => s.flags.length).length;
}

export function securityReviewMarkdown(r: SecurityReview): string {
  const L: string[] = [];
  const flagged = flaggedStatementCount(r);
  const noCmk = r.stacks.flatMap((s) => s.encryption).filter((e) => !e.customerManaged).length;
  const exposure = r.stacks.flatMap((s) => [...s.network.internetGateways, ...s.network.publicSubnets, ...s.network.publicEndpoints, ...s.network.ingress.filter((i) => i.open).map((i) => i.group)]);
  const outboundInternet = r.stacks.flatMap((s) => s.network.outbound.filter((o) => o.internet).map((o) => `${s.name}:${o.resource.replace(/ \(.*\)$/, '')}`));
  const allOutbound = r.stacks.flatMap((s) => s.securityGroups.filter((g) => g.allOutbound).map((g) => `${s.name}:${g.group}`));
  const noEndpointPolicy = r.stacks.flatMap((s) => s.resourcePolicies.filter((p) => p.type === 'AWS::EC2::VPCEndpoint' && p.note).map((p) => `${s.name}:${p.resource}`));

  L.push('# Security review', '');
  L.push(`Generated from the cloud assembly \`${r.assembly}\` only (templates, manifest, rule-pack and readiness reports). `
    + 'Construct paths are shown relative to their stack; `{Path}` is a reference to another resource, `<Region>` a pseudo parameter.', '');
  L.push('## Summary', '');
  L.push(...table(['item', 'value'], [
    ['stacks', r.stacks.map((s) => s.name).join(', ')],
    ['resources', r.stacks.reduce((n, s) => n + s.resourceCount, 0)],
    ['IAM roles', r.stacks.reduce((n, s) => n + s.roles.length, 0)],
    ['IAM statements flagged for a closer look', flagged],
    ['data stores not on a customer-managed key', noCmk],
    ['customer-managed keys', r.stacks.filter((s) => s.keys.length).map((s) => `${s.name}: ${s.keys.length}`).join(', ') || 'none'],
    ['keys sharing a key-policy audience with another key of their stack', r.keysSharingAnAudience.length ? r.keysSharingAnAudience.map((g) => `${g.stack}: ${g.keys.join(' = ')}`).join('; ') : 'none'],
    ['internet exposure (gateways, public subnets, public endpoints, open ingress)', exposure.length ? exposure.join(', ') : 'none'],
    ['paths out to the internet (SageMaker models, functions outside the VPC)', outboundInternet.length ? outboundInternet.join(', ') : 'none'],
    ['security groups allowing all outbound traffic', allOutbound.length ? allOutbound.join(', ') : 'none'],
    ['VPC endpoints without an endpoint policy', noEndpointPolicy.length ? noEndpointPolicy.join(', ') : 'none'],
    ['data stores deleted with their stack', r.stacks.reduce((n, s) => n + s.retention.filter((x) => x.flags.includes('deleted with the stack')).length, 0)],
    ['stores holding text of every tier', r.dataClassification.filter((c) => c.tiers !== 'none' && c.tiers !== UNCLASSIFIED).length],
    ['unclassified stores', r.dataClassification.filter((c) => c.tiers === UNCLASSIFIED).map((c) => c.store).join(', ') || 'none'],
    ['break-glass paths without an alarm', r.breakGlass.filter((b) => !b.alarmedBy.length).length + ' of ' + r.breakGlass.length],
    ['code and images from other accounts or the internet', r.stacks.reduce((n, s) => n + s.externalCode.length, 0)],
    ['open rule-pack findings', r.openFindings.filter((f) => f.severity === 'error').length + ' errors, ' + r.openFindings.filter((f) => f.severity !== 'error').length + ' warnings'],
    ['acknowledged findings', r.acknowledgements.length],
    ['Control Tower guard', r.guard ? `${r.guard.conclusion} (${r.guard.open.length} open, ${r.guard.acknowledged.length} acknowledged)` : 'not run'],
    ['readiness', r.readiness ? Object.entries<Json>(r.readiness.categories).map(([c, v]) => `${c}: ${v.status}`).join('; ') : 'no readiness report'],
  ]), '');
  L.push('## Rule packs', '');
  L.push(...table(['pack', 'conclusion', 'open findings', 'acknowledged'], r.plugins.map((p) => [p.name, p.conclusion, p.open, p.acknowledged])), '');
  if (r.openFindings.length) {
    L.push('### Open findings', '');
    L.push(...table(['pack', 'rule', 'severity', 'resources'], r.openFindings.map((f) => [f.plugin, f.rule, f.severity, f.resources.join(', ')])), '');
  }

  for (const s of r.stacks) {
    L.push(`## Stack ${escapeMarkdown(s.name)}`, '');
    L.push(`Template ${code(s.templateFile)}, ${s.resourceCount} resources, termination protection **${s.terminationProtection ? 'on' : 'off'}**.`, '');
    L.push('### Resources by type', '');
    L.push(...table(['type', 'count'], s.resourcesByType), '');

    L.push('### IAM roles', '');
    if (!s.roles.length) L.push('No IAM roles.', '');
    for (const role of s.roles) {
      L.push(`#### Role ${code(role.path)} (logical ID \`${role.logicalId}\`)`, '');
      L.push(`- trusted by: ${role.trust.map((t) => `${t.effect === 'Allow' ? '' : `${t.effect} `}${(t.principals ?? []).map(code).join(', ')} for ${codes(t.actions)} ${t.conditions ? `if ${code(t.conditions)}` : bold('without a condition')}`).join('; ') || '-'}`);
      L.push(`- AWS managed / attached policies: ${role.managedPolicies.map(code).join(', ') || 'none'}`, '');
      if (role.statements.length) L.push(...statementTable(role.statements), '');
      else L.push('No permission statements in this template.', '');
    }
    if (s.otherPolicies.length) {
      L.push('### Policies attached to roles defined elsewhere', '');
      for (const p of s.otherPolicies) {
        L.push(`#### Policy ${code(p.policy)} on ${p.roles.map(code).join(', ') || 'no role'}`, '');
        L.push(...statementTable(p.statements.map((x) => ({ ...x, policy: '' }))), '');
      }
    }
    if (s.resourcePolicies.length) {
      L.push('### Resource policies', '');
      L.push(...table(['resource', 'type', 'effect', 'principals', 'actions', 'resources', 'conditions', 'flags'], s.resourcePolicies.flatMap((p) => (p.statements.length ? p.statements : [undefined]).map((st) => [
        p.resource, p.type.replace(/^AWS::/, ''), st?.effect ?? '-', codes(st?.principals ?? []), codes(st?.actions ?? []), codes(st?.resources ?? []), st?.conditions ?? '', md([...(p.note ? [p.note] : []), ...(st?.flags ?? [])].map((f) => bold(f).md).join(', ')),
      ]))), '');
    }

    L.push('### Encryption at rest', '');
    if (!s.encryption.length) L.push('No data stores.', '');
    else L.push(...table(['data store', 'type', 'encryption', 'key', 'customer-managed key'], s.encryption.map((e) => [code(e.path), e.type.replace(/^AWS::/, ''), e.encryption, e.key, e.customerManaged ? 'yes' : bold('no')])), '');

    const n = s.network;
    L.push('### Network exposure', '');
    L.push(`- internet gateways: ${n.internetGateways.map(code).join(', ') || 'none'}`);
    L.push(`- NAT gateways: ${n.natGateways.map(code).join(', ') || 'none'}`);
    L.push(`- public subnets (public IP on launch): ${n.publicSubnets.map(code).join(', ') || 'none'}; private subnets: ${n.privateSubnets}`);
    L.push(`- routes to an internet or NAT gateway: ${n.routesToInternet.map(code).join(', ') || 'none'}`);
    L.push(`- public endpoints (reachable from the internet): ${escapeMarkdown(n.publicEndpoints.join(', ')) || 'none'}`);
    L.push(`- paths out to the internet: ${n.outbound.filter((o) => o.internet).map((o) => code(o.resource).md).join(', ') || 'none'} (each model and function below)`);
    L.push(`- VPC endpoints: ${n.vpcEndpoints.length ? codes(n.vpcEndpoints) : 'none'}`, '');
    if (n.ingress.length) L.push(...table(['security group', 'protocol', 'ports', 'source', 'description', 'open to the internet'], n.ingress.map((i) => [code(i.group), i.protocol, i.ports, i.source, i.description ?? '', i.open ? bold('yes') : 'no'])), '');
    else L.push('No security-group ingress rules.', '');

    L.push('#### Security groups: ingress and egress', '');
    if (!s.securityGroups.length) L.push('No security groups.', '');
    else {
      L.push(...table(['security group', 'description', 'egress in effect'], s.securityGroups.map((g) => [code(g.group), g.description, g.allOutbound ? bold(g.egressSummary) : g.egressSummary])), '');
      L.push(...table(['security group', 'direction', 'protocol', 'ports', 'source or destination', 'description', 'to or from anywhere'], s.securityGroups.flatMap((g) => [
        ...g.ingress.map((i) => [code(g.group), 'ingress', i.protocol, i.ports, code(i.peer), i.description ?? '', i.open ? bold('yes') : 'no']),
        ...g.egress.map((e) => [code(g.group), 'egress', e.protocol, e.ports, code(e.peer), e.description ?? '', e.open ? bold('yes') : 'no']),
      ])), '');
    }
    L.push('#### Paths out: SageMaker models and functions', '');
    if (!n.outbound.length) L.push('No SageMaker models or functions.', '');
    else L.push(...table(['resource', 'type', 'network', 'reaches the internet'], n.outbound.map((o) => [code(o.resource), o.type.replace(/^AWS::/, ''), o.network, o.internet ? bold('yes') : 'no'])), '');

    L.push('### Retention, deletion, backups and lock per data store', '');
    if (!s.retention.length) L.push('No data stores.', '');
    else L.push(...table(['store', 'type', 'deletion policy', 'retention', 'backups', 'lock / protection', 'flags'], s.retention.map((x) => [code(x.store), x.type.replace(/^AWS::/, ''), x.deletionPolicy, x.retention, x.backups, x.lock, md(x.flags.map((f) => bold(f).md).join(', '))])), '');

    const audiences = r.keyAudiences.filter((a) => a.stack === s.name);
    if (audiences.length) {
      L.push('### Keys: audience', '');
      L.push('Each key\'s key-policy audience: every statement but the account-root default, one member per principal, with its conditions '
        + '(operator, key and values compared exactly; actions do not count, IAM grants are in the tables below). '
        + 'Two keys of one stack with the same audience should be one key (lib/review/key-audience.ts).', '');
      const shared = new Set(r.keysSharingAnAudience.filter((g) => g.stack === s.name).flatMap((g) => g.keys));
      L.push(...table(['key', 'description', 'audience', 'used by', 'shared with another key of this stack'], audiences.map((a) => [
        code(a.key), a.description, audienceText(a), codes(a.usedBy), shared.has(a.key) ? bold('yes') : 'no',
      ])), '');
    }
    L.push('### Keys: who can decrypt', '');
    if (!s.keys.length) L.push('No KMS keys.', '');
    for (const k of s.keys) {
      L.push(`#### Key ${code(k.key)} (logical ID \`${k.logicalId}\`)`, '');
      L.push(`${escapeMarkdown(k.description)}. Root delegation: ${k.rootDelegation ? bold('yes: the key policy lets the account use the key, so every IAM policy below (and any an administrator adds) decides') : 'no'}.`, '');
      L.push(...table(['principal', 'via', 'effect', 'decrypt', 'create grants', 'change the key policy', 'conditions'], k.principals.map((x) => [code(x.principal), x.via, x.effect, x.decrypt ? 'yes' : 'no', x.createGrant ? 'yes' : 'no', x.changePolicy ? 'yes' : 'no', x.conditions ?? '']), ), '');
    }

    if (s.userPools.length || s.cognitoClients.length) {
      L.push('### Cognito', '');
      if (s.userPools.length) L.push(...table(['user pool', 'MFA', 'self sign-up', 'groups', 'triggers', 'deletion protection'], s.userPools.map((u) => [code(u.pool), u.mfa, u.selfSignUp ? bold('yes') : 'no', u.groups.join(', '), u.triggers.join(', ') || 'none', u.deletionProtection ? 'on' : 'off'])), '');
      if (s.cognitoClients.length) L.push(...table(['client', 'user pool', 'OAuth flows', 'auth flows', 'callback URLs', 'logout URLs', 'scopes', 'secret', 'token validity', 'flags'], s.cognitoClients.map((c) => [code(c.client), code(c.userPool), c.oauthFlows.join(', ') || 'none', c.authFlows.join(', ') || 'none', codes(c.callbackUrls), codes(c.logoutUrls), codes(c.scopes), c.secret ? 'yes' : 'no', c.tokenValidity, md(c.flags.map((f) => bold(f).md).join(', '))])), '');
    }

    if (s.apiMethods.length || s.webAcls.length) {
      L.push('### API methods: authorizer and WAF', '');
      if (s.apiMethods.length) L.push(...table(['API', 'method', 'path', 'authorization', 'API key', 'request validation', 'integration', 'WAF web ACL', 'flags'], s.apiMethods.map((m) => [code(m.api), m.method, code(m.path), m.authorization, m.apiKeyRequired ? 'required' : 'no', m.validation, m.integration, codes(m.waf), md(m.flags.map((f) => bold(f).md).join(', '))])), '');
      for (const w of s.webAcls) {
        L.push(`#### Web ACL ${code(w.acl)}`, '');
        L.push(`Scope ${escapeMarkdown(w.scope)}, default action ${bold(w.defaultAction)}, associated with ${codes(w.associatedWith).md || 'nothing'}; logging: ${escapeMarkdown(w.logging)}.`, '');
        L.push(...table(['priority', 'rule', 'action', 'statement'], w.rules.map((x) => [x.priority, x.name, x.action, x.statement])), '');
      }
    }

    L.push('### Code, images and models from other accounts or the internet', '');
    const layers = [...new Set(Object.values<Json>(s.view.resources).filter((x) => x.Type === 'AWS::Lambda::Function').flatMap((x) => asArray<Json>(x.Properties?.Layers).map(s.view.show)))];
    const ownLayers = layers.filter((l) => /^\{/.test(l) || /<AccountId>/.test(l));
    if (layers.length) L.push(`Lambda layers used: ${layers.length}; of this app (its own asset bucket or account): ${ownLayers.length ? codes(ownLayers).md : 'none'}.`, '');
    if (!s.externalCode.length) L.push('None: every function and layer is an asset of this app in its own account.', '');
    else L.push(...table(['resource', 'kind', 'source', 'pinned by', 'flags'], s.externalCode.map((x) => [code(x.resource), x.kind, code(x.source), x.pinned, md(x.flags.map((f) => bold(f).md).join(', '))])), '');
  }

  L.push('## Data classification', '');
  L.push(`Which tiers' text each store and log can hold (tiers from the Cognito groups: ${escapeMarkdown(r.tiers.join(', ') || 'none found')}). `
    + '"template" rows are derived from the templates (what a state machine, API stage, WAF, flow log, database or endpoint writes where); "declared" rows come from lib/review/data-classification.ts, for what the code puts in a store.', '');
  L.push(...table(['store', 'type', 'holds', 'tiers\' text', 'basis'], r.dataClassification.map((c) => [code(c.store), c.type.replace(/^AWS::/, ''), c.holds === UNCLASSIFIED ? bold(c.holds) : c.holds, c.tiers === 'none' ? 'none' : bold(c.tiers), c.basis])), '');

  L.push('## Break-glass paths', '');
  L.push('Who can read the database master secret, change a tier group\'s membership, or change a key policy, and which rule or metric filter of these templates watches it. Account administrators can do all of it through IAM where a policy delegates to the account.', '');
  L.push(...table(['path', 'resource', 'who', 'alarmed by'], r.breakGlass.map((b) => [b.path, code(b.resource), b.who.join('; ') || 'none in these templates', b.alarmedBy.length ? b.alarmedBy.join('; ') : bold('no alarm in these templates')])), '');

  L.push('## Acknowledged findings', '');
  L.push('Every finding a rule pack raised and the code acknowledged, with the reason and the construct the acknowledgement sits on.', '');
  if (!r.acknowledgements.length) L.push('None.', '');
  else L.push(...table(['pack', 'rule', 'acknowledged at', 'resources', 'reason'], r.acknowledgements.map((a) => [a.plugin, a.rule, code(a.acknowledgedAt), codes(a.resources), a.reason])), '');

  L.push('## Control Tower guard results', '');
  if (!r.guard) L.push('The cfn-guard validator did not run on this assembly.', '');
  else {
    L.push(`cdk-validator-cfnguard ${escapeMarkdown(r.guard.version ?? '')}: ${bold(r.guard.conclusion)}, ${r.guard.open.length} open, ${r.guard.acknowledged.length} acknowledged.`, '');
    if (r.guard.open.length) L.push(...table(['rule', 'resources'], r.guard.open.map((f) => [f.rule, f.resources.join(', ')])), '');
    if (r.guard.acknowledged.length) L.push(...table(['rule', 'acknowledged at', 'reason'], r.guard.acknowledged.map((a) => [a.rule, code(a.acknowledgedAt), a.reason])), '');
  }

  L.push('## Production readiness', '');
  if (!r.readiness) L.push('No readiness-report.json in this assembly.', '');
  else {
    L.push(...table(['category', 'status', 'findings'], Object.entries<Json>(r.readiness.categories).map(([c, v]) => [c, bold(v.status), v.findings.map((f: Json) => `${f.rule} (${f.severity})`).join(', ') || '-'])), '');
    if (r.readiness.accepted?.length) {
      L.push(`Accepted differences from production for stage \`${r.readiness.stage ?? '?'}\`:`, '');
      for (const f of r.readiness.accepted) L.push(`- ${escapeMarkdown(f.rule)}: ${escapeMarkdown(f.acceptedBecause)}`);
      L.push('');
    }
  }
  return L.join('\n');
}

function statementTable(statements: Array<Statement & { policy: string }>): string[] {
  return table(['policy', 'effect', 'actions', 'resources', 'conditions', 'flags'], statements.map((s) => [
    s.policy, s.effect, codes(s.actions), codes(s.resources), s.conditions ?? '', md(s.flags.map((f) => bold(f).md).join(', ')),
  ]));
}
