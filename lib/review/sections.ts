/**
 * The parts of the security review a security team reads beyond IAM and encryption: security-group
 * egress, every resource policy, network paths out (SageMaker and Lambda included), retention per
 * data store, who can decrypt each key, break-glass paths, Cognito clients, WAF and authorizer per
 * API method, and code or images pulled from other accounts. Everything is read from the templates;
 * what a template cannot tell (which tiers' text a store holds) comes from data-classification.ts.
 */

type Json = any;
export const asArray = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** How a stack's templates are read: construct paths for references, rendered values. */
export interface TemplateView {
  readonly stack: string;
  readonly resources: Record<string, Json>;
  readonly mappings: Record<string, Json>;
  /** The template's outputs: what other stacks may reference (a key another stack's resources use). */
  readonly outputs?: Record<string, Json>;
  readonly pathOf: (id: string) => string;
  readonly label: (id: string) => string;
  readonly show: (v: unknown) => string;
}

const ofType = (v: TemplateView, ...types: string[]) => Object.entries<Json>(v.resources).filter(([, r]) => types.includes(r.Type));
const workloadOf = (r: Json): string | undefined => {
  const tags = r.Properties?.Tags ?? r.Properties?.UserPoolTags;
  if (Array.isArray(tags)) return tags.find((t: Json) => t.Key === 'Workload')?.Value;
  return tags?.Workload;
};

// ---------------------------------------------------------------------------------------------
// Security groups: ingress and egress

export interface SgRule {
  readonly protocol: string;
  readonly ports: string;
  /** Source (ingress) or destination (egress). */
  readonly peer: string;
  readonly description?: string;
  readonly open: boolean;
}

export interface SecurityGroupReview {
  readonly group: string;
  readonly description: string;
  readonly ingress: SgRule[];
  readonly egress: SgRule[];
  /** What the egress amounts to, in words (EC2's default when the group declares none). */
  readonly egressSummary: string;
  readonly allOutbound: boolean;
}

/** The rule CDK writes when a group allows no outbound traffic (EC2 would otherwise add allow-all). */
const isNoTrafficPlaceholder = (r: Json) => r.CidrIp === '255.255.255.255/32' && r.IpProtocol === 'icmp' && r.FromPort === 252 && r.ToPort === 86;

function sgRule(v: TemplateView, rule: Json, peerKeys: string[]): SgRule {
  const raw = peerKeys.map((k) => rule[k]).find((x) => x !== undefined);
  const peer = v.show(raw).replace(/\.GroupId}$/, '}');
  const ports = rule.IpProtocol === '-1' ? 'all' : rule.FromPort === rule.ToPort ? String(rule.FromPort) : `${rule.FromPort}-${rule.ToPort}`;
  return { protocol: rule.IpProtocol === '-1' ? 'all' : String(rule.IpProtocol), ports, peer, description: rule.Description, open: peer === '0.0.0.0/0' || peer === '::/0' };
}

const INGRESS_PEER = ['CidrIp', 'CidrIpv6', 'SourcePrefixListId', 'SourceSecurityGroupId'];
const EGRESS_PEER = ['CidrIp', 'CidrIpv6', 'DestinationPrefixListId', 'DestinationSecurityGroupId'];

export function securityGroupsOf(v: TemplateView): SecurityGroupReview[] {
  const groups = new Map<string, { description: string; ingress: SgRule[]; egress: SgRule[]; declaredEgress: boolean; placeholder: boolean; local: boolean }>();
  for (const [id, r] of ofType(v, 'AWS::EC2::SecurityGroup')) {
    const p = r.Properties ?? {};
    const egress = asArray<Json>(p.SecurityGroupEgress);
    groups.set(`{${v.pathOf(id)}}`, {
      description: v.show(p.GroupDescription),
      ingress: asArray<Json>(p.SecurityGroupIngress).map((x) => sgRule(v, x, INGRESS_PEER)),
      egress: egress.filter((x) => !isNoTrafficPlaceholder(x)).map((x) => sgRule(v, x, EGRESS_PEER)),
      declaredEgress: p.SecurityGroupEgress !== undefined,
      placeholder: egress.some(isNoTrafficPlaceholder),
      local: true,
    });
  }
  const groupOf = (ref: unknown) => {
    const key = v.show(ref).replace(/\.GroupId}$/, '}');
    if (!groups.has(key)) groups.set(key, { description: '(defined in another stack or outside the app)', ingress: [], egress: [], declaredEgress: true, placeholder: false, local: false });
    return groups.get(key)!;
  };
  for (const [, r] of ofType(v, 'AWS::EC2::SecurityGroupIngress')) groupOf(r.Properties.GroupId).ingress.push(sgRule(v, r.Properties, INGRESS_PEER));
  for (const [, r] of ofType(v, 'AWS::EC2::SecurityGroupEgress')) groupOf(r.Properties.GroupId).egress.push(sgRule(v, r.Properties, EGRESS_PEER));
  return [...groups.entries()].map(([key, g]) => {
    const group = key.replace(/^\{(.*)\}$/, '$1');
    // AWS::EC2::SecurityGroup reference: "When you create a security group, if you do not add egress
    // rules, we add egress rules that allow all outbound IPv4 and IPv6 traffic." A separate
    // AWS::EC2::SecurityGroupEgress resource replaces that default rule when it is added (what CDK's
    // allowAllOutbound is built around: aws/aws-cdk#987, #998, #3355), so the default applies only to
    // a group that declares no egress and gets no separate egress rule.
    const ec2Default = g.local && !g.declaredEgress && !g.egress.length;
    const allOutbound = ec2Default || g.egress.some((e) => e.open && e.protocol === 'all');
    let egressSummary: string;
    if (ec2Default) egressSummary = 'ALL traffic to anywhere: the group declares no egress rule, so EC2 adds its allow-all default';
    else if (!g.egress.length) egressSummary = g.placeholder ? 'none (CDK\'s no-traffic placeholder rule)' : g.local ? 'none' : 'rules of this stack: none';
    else egressSummary = allOutbound ? 'ALL traffic to anywhere' : g.egress.map((e) => `${e.protocol} ${e.ports} to ${e.peer}`).join('; ');
    return { group, description: g.description, ingress: g.ingress, egress: g.egress, egressSummary, allOutbound };
  });
}

// ---------------------------------------------------------------------------------------------
// Network paths out: SageMaker models, functions outside the VPC

export interface OutboundPath {
  readonly resource: string;
  readonly type: string;
  readonly network: string;
  /** True when the resource can open connections to the internet. */
  readonly internet: boolean;
}

export function outboundPathsOf(v: TemplateView, groups: SecurityGroupReview[], routesToInternet: number): OutboundPath[] {
  const out: OutboundPath[] = [];
  const sgNames = (ids: unknown) => asArray(ids).map((x) => v.show(x).replace(/\.GroupId}$/, '}').replace(/^\{(.*)\}$/, '$1'));
  const egressOf = (names: string[]) => names.map((n) => `${n}: ${groups.find((g) => g.group === n)?.egressSummary ?? 'egress not in this stack'}`).join('; ');
  for (const [id, r] of ofType(v, 'AWS::SageMaker::Model')) {
    const p = r.Properties ?? {};
    if (p.EnableNetworkIsolation === true) out.push({ resource: v.label(id), type: r.Type, network: 'network isolation on: the container makes no outbound calls (artifacts and images come through SageMaker)', internet: false });
    else if (p.VpcConfig) {
      const names = sgNames(p.VpcConfig.SecurityGroupIds);
      out.push({ resource: v.label(id), type: r.Type, network: `in the VPC (subnets ${asArray(p.VpcConfig.Subnets).map(v.show).join(', ')}), network isolation off; security groups ${egressOf(names)}`, internet: routesToInternet > 0 });
    } else out.push({ resource: v.label(id), type: r.Type, network: 'REACHES THE INTERNET: no VpcConfig and EnableNetworkIsolation is not true, so the container runs on SageMaker\'s network with internet access', internet: true });
  }
  for (const [id, r] of ofType(v, 'AWS::Lambda::Function')) {
    const vpc = r.Properties?.VpcConfig;
    if (vpc?.SubnetIds) {
      const names = sgNames(vpc.SecurityGroupIds);
      out.push({ resource: v.label(id), type: r.Type, network: `in the VPC; security groups ${egressOf(names)}`, internet: routesToInternet > 0 });
    } else out.push({ resource: v.label(id), type: r.Type, network: 'outside any VPC: Lambda\'s own network, with internet access', internet: true });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Resource policies of every kind

export interface RawResourcePolicy {
  readonly id: string;
  readonly type: string;
  /** What the policy governs, rendered. */
  readonly target: string;
  /** The policy document; undefined when the resource takes a policy and has none (VPC endpoints). */
  readonly document?: Json;
  readonly note?: string;
}

/** Policy-holding property and the property naming what it governs, per type. */
const POLICY_PROPERTIES: Record<string, [string, string]> = {
  'AWS::S3::BucketPolicy': ['PolicyDocument', 'Bucket'],
  'AWS::SQS::QueuePolicy': ['PolicyDocument', 'Queues'],
  'AWS::SNS::TopicPolicy': ['PolicyDocument', 'Topics'],
  'AWS::KMS::Key': ['KeyPolicy', ''],
  'AWS::SecretsManager::ResourcePolicy': ['ResourcePolicy', 'SecretId'],
  'AWS::EC2::VPCEndpoint': ['PolicyDocument', ''],
  'AWS::Logs::ResourcePolicy': ['PolicyDocument', 'PolicyName'],
  'AWS::ECR::Repository': ['RepositoryPolicyText', ''],
  'AWS::ApiGateway::RestApi': ['Policy', ''],
  'AWS::Events::EventBusPolicy': ['Statement', 'EventBusName'],
  'AWS::Lambda::Url': ['', ''],
};
const IDENTITY_TYPES = new Set(['AWS::IAM::Role', 'AWS::IAM::Policy', 'AWS::IAM::ManagedPolicy', 'AWS::IAM::User', 'AWS::IAM::Group']);
const POLICY_NAMES = /Polic(y|ies)|PolicyText|PolicyDocument|AccessPolicies/;

const parsed = (x: Json): Json => {
  if (typeof x !== 'string') return x;
  try { return JSON.parse(x); } catch { return undefined; }
};
const isPolicyDocument = (x: Json) => x && typeof x === 'object' && (x.Statement !== undefined);

export function resourcePoliciesOf(v: TemplateView): RawResourcePolicy[] {
  const out: RawResourcePolicy[] = [];
  for (const [id, r] of Object.entries<Json>(v.resources)) {
    if (IDENTITY_TYPES.has(r.Type)) continue;
    const p = r.Properties ?? {};
    const spec = POLICY_PROPERTIES[r.Type];
    if (r.Type === 'AWS::EC2::VPCEndpoint') {
      const service = v.show(p.ServiceName).replace(/^com\.amazonaws\.<Region>\./, '');
      const doc = parsed(p.PolicyDocument);
      out.push({ id, type: r.Type, target: `${v.pathOf(id)} (${service} ${p.VpcEndpointType ?? 'Gateway'} endpoint)`, document: doc, note: doc ? undefined : 'NO ENDPOINT POLICY: the default policy allows every action on every resource of the service, in any account, to anything in the VPC' });
      continue;
    }
    if (r.Type === 'AWS::Events::EventBusPolicy' && p.Statement) {
      out.push({ id, type: r.Type, target: v.show(p.EventBusName) || 'default event bus', document: { Statement: asArray(p.Statement) } });
      continue;
    }
    if (spec && spec[0] && p[spec[0]] !== undefined) {
      const target = spec[1] ? asArray(p[spec[1]]).map(v.show).join(', ') : v.pathOf(id);
      out.push({ id, type: r.Type, target, document: parsed(p[spec[0]]) });
      continue;
    }
    // Any other resource type that carries a policy document: shown rather than missed.
    for (const [k, val] of Object.entries<Json>(p)) {
      if (!POLICY_NAMES.test(k) || !isPolicyDocument(parsed(val))) continue;
      out.push({ id, type: r.Type, target: `${v.pathOf(id)} (${k})`, document: parsed(val) });
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Retention, deletion, backups and lock per data store

export interface RetentionReview {
  readonly store: string;
  readonly type: string;
  readonly deletionPolicy: string;
  readonly retention: string;
  readonly backups: string;
  readonly lock: string;
  /** What a reviewer should know: deleted with the stack, emptied by a custom resource, no deletion protection. */
  readonly flags: string[];
}

export const DATA_STORE_TYPES = ['AWS::S3::Bucket', 'AWS::Logs::LogGroup', 'AWS::SQS::Queue', 'AWS::RDS::DBInstance', 'AWS::RDS::DBCluster', 'AWS::DynamoDB::Table', 'AWS::DynamoDB::GlobalTable', 'AWS::SecretsManager::Secret', 'AWS::KMS::Key', 'AWS::Cognito::UserPool', 'AWS::StepFunctions::StateMachine'];

const days = (seconds: number) => `${Math.round(seconds / 86400 * 10) / 10} days`;

/** CloudFormation's default when a template names no DeletionPolicy (Snapshot for these types). */
function deletionPolicyOf(r: Json): string {
  if (r.DeletionPolicy) return r.DeletionPolicy;
  if (r.Type === 'AWS::RDS::DBCluster' || (r.Type === 'AWS::RDS::DBInstance' && !r.Properties?.DBClusterIdentifier)) return 'Snapshot (CloudFormation default)';
  return 'Delete (CloudFormation default)';
}

export function retentionOf(v: TemplateView): RetentionReview[] {
  const out: RetentionReview[] = [];
  const autoDeleted = new Set(ofType(v, 'Custom::S3AutoDeleteObjects').map(([, r]) => v.show(r.Properties?.BucketName)));
  for (const [id, r] of ofType(v, ...DATA_STORE_TYPES)) {
    const p = r.Properties ?? {};
    const deletion = deletionPolicyOf(r);
    const flags: string[] = [];
    if (deletion.startsWith('Delete')) flags.push('deleted with the stack');
    let retention = '-';
    let backups = '-';
    let lock = '-';
    switch (r.Type) {
      case 'AWS::S3::Bucket': {
        const rules = asArray<Json>(p.LifecycleConfiguration?.Rules).filter((x) => x.Status !== 'Disabled');
        const parts = rules.flatMap((x) => [
          x.ExpirationInDays !== undefined ? `objects expire after ${x.ExpirationInDays} days${x.Prefix ? ` (${x.Prefix})` : ''}` : '',
          x.NoncurrentVersionExpiration?.NoncurrentDays !== undefined ? `old versions after ${x.NoncurrentVersionExpiration.NoncurrentDays} days` : '',
        ]).filter(Boolean);
        retention = parts.join('; ') || 'kept until deleted (no expiration rule)';
        backups = p.VersioningConfiguration?.Status === 'Enabled' ? 'versioning on' : 'versioning off';
        const ol = p.ObjectLockConfiguration;
        const rule = ol?.Rule?.DefaultRetention;
        lock = rule ? `Object Lock ${rule.Mode}, ${rule.Days ?? `${rule.Years} years`}${rule.Days ? ' days' : ''} default retention` : p.ObjectLockEnabled ? 'Object Lock enabled, no default retention' : 'no Object Lock';
        if (autoDeleted.has(`{${v.pathOf(id)}}`)) flags.push('objects emptied on stack deletion (Custom::S3AutoDeleteObjects)');
        break;
      }
      case 'AWS::Logs::LogGroup':
        retention = p.RetentionInDays ? `${p.RetentionInDays} days` : 'never expires';
        if (p.DeletionProtectionEnabled) lock = 'deletion protection on';
        break;
      case 'AWS::SQS::Queue':
        retention = `messages ${days(p.MessageRetentionPeriod ?? 345600)}`;
        break;
      case 'AWS::RDS::DBInstance':
      case 'AWS::RDS::DBCluster':
        backups = `automated backups ${p.BackupRetentionPeriod ?? 1} days${p.DeleteAutomatedBackups === false ? ', kept after deletion' : ''}`;
        lock = p.DeletionProtection ? 'deletion protection on' : 'deletion protection off';
        if (!p.DeletionProtection) flags.push('no deletion protection');
        break;
      case 'AWS::DynamoDB::Table':
      case 'AWS::DynamoDB::GlobalTable':
        retention = p.TimeToLiveSpecification?.Enabled ? `items expire by TTL attribute ${p.TimeToLiveSpecification.AttributeName}` : 'kept until deleted';
        backups = p.PointInTimeRecoverySpecification?.PointInTimeRecoveryEnabled ? `point-in-time recovery${p.PointInTimeRecoverySpecification.RecoveryPeriodInDays ? ` ${p.PointInTimeRecoverySpecification.RecoveryPeriodInDays} days` : ' (35 days)'}` : 'no point-in-time recovery';
        lock = p.DeletionProtectionEnabled ? 'deletion protection on' : 'deletion protection off';
        break;
      case 'AWS::SecretsManager::Secret':
        retention = 'a deleted secret is recoverable for 7-30 days (Secrets Manager recovery window)';
        break;
      case 'AWS::KMS::Key':
        retention = `deletion waits ${p.PendingWindowInDays ?? 30} days (pending window)`;
        lock = p.EnableKeyRotation ? 'rotation on' : 'rotation off';
        break;
      case 'AWS::Cognito::UserPool':
        lock = p.DeletionProtection === 'ACTIVE' ? 'deletion protection on' : 'deletion protection off';
        break;
      case 'AWS::StepFunctions::StateMachine':
        retention = p.StateMachineType === 'EXPRESS' ? 'no execution history kept by the service' : 'execution history (inputs and outputs of every state) kept by Step Functions for 90 days after an execution closes';
        break;
      default:
    }
    out.push({ store: v.label(id), type: r.Type, deletionPolicy: deletion, retention, backups, lock, flags });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Cognito clients and user pools

export interface CognitoClientReview {
  readonly client: string;
  readonly userPool: string;
  readonly oauthFlows: string[];
  readonly authFlows: string[];
  readonly callbackUrls: string[];
  readonly logoutUrls: string[];
  readonly scopes: string[];
  readonly secret: boolean;
  readonly tokenValidity: string;
  readonly flags: string[];
}

export interface UserPoolReview {
  readonly pool: string;
  readonly mfa: string;
  readonly selfSignUp: boolean;
  readonly groups: string[];
  readonly triggers: string[];
  readonly deletionProtection: boolean;
}

const PLACEHOLDER_URL = /^(https?:\/\/)?(localhost|127\.0\.0\.1|example\.(com|org|net))(\/|:|$)|^http:\/\//i;

export function cognitoOf(v: TemplateView): { clients: CognitoClientReview[]; pools: UserPoolReview[] } {
  const clients = ofType(v, 'AWS::Cognito::UserPoolClient').map(([id, r]) => {
    const p = r.Properties ?? {};
    const oauthFlows = asArray<string>(p.AllowedOAuthFlows);
    const authFlows = asArray<string>(p.ExplicitAuthFlows);
    const callbackUrls = asArray(p.CallbackURLs).map(v.show);
    const scopes = asArray(p.AllowedOAuthScopes).map(v.show);
    const flags: string[] = [];
    if (oauthFlows.includes('implicit')) flags.push('implicit grant (tokens in the URL)');
    for (const u of [...callbackUrls, ...asArray(p.LogoutURLs).map(v.show)]) if (PLACEHOLDER_URL.test(u)) flags.push(`placeholder or plain-HTTP URL ${u}`);
    if (scopes.includes('aws.cognito.signin.user.admin')) flags.push('aws.cognito.signin.user.admin scope (the token may change its own user)');
    for (const f of authFlows) if (/USER_PASSWORD_AUTH|ADMIN_USER_PASSWORD_AUTH|ADMIN_NO_SRP_AUTH/.test(f)) flags.push(`password sent to Cognito in clear (${f})`);
    const unit = (k: string) => p.TokenValidityUnits?.[k] ?? (k === 'RefreshToken' ? 'days' : 'hours');
    return {
      client: v.label(id),
      userPool: v.show(p.UserPoolId).replace(/^\{(.*)\}$/, '$1'),
      oauthFlows,
      authFlows,
      callbackUrls,
      logoutUrls: asArray(p.LogoutURLs).map(v.show),
      scopes,
      secret: p.GenerateSecret === true,
      tokenValidity: `access ${p.AccessTokenValidity ?? 60} ${unit('AccessToken')}, id ${p.IdTokenValidity ?? 60} ${unit('IdToken')}, refresh ${p.RefreshTokenValidity ?? 30} ${unit('RefreshToken')}`,
      flags,
    };
  });
  const pools = ofType(v, 'AWS::Cognito::UserPool').map(([id, r]) => {
    const p = r.Properties ?? {};
    const key = `{${v.pathOf(id)}}`;
    return {
      pool: v.label(id),
      mfa: p.MfaConfiguration ?? 'OFF',
      selfSignUp: p.AdminCreateUserConfig?.AllowAdminCreateUserOnly !== true,
      groups: ofType(v, 'AWS::Cognito::UserPoolGroup').filter(([, g]) => v.show(g.Properties?.UserPoolId) === key).map(([, g]) => v.show(g.Properties.GroupName)),
      triggers: Object.entries<Json>(p.LambdaConfig ?? {}).map(([k, fn]) => `${k}: ${v.show(fn)}`),
      deletionProtection: p.DeletionProtection === 'ACTIVE',
    };
  });
  return { clients, pools };
}

// ---------------------------------------------------------------------------------------------
// API methods: authorizer and WAF

export interface ApiMethodReview {
  readonly logicalId: string;
  readonly api: string;
  readonly method: string;
  readonly path: string;
  readonly authorization: string;
  readonly apiKeyRequired: boolean;
  readonly validation: string;
  readonly integration: string;
  /** Web ACLs associated with a stage of this API, by path. */
  readonly waf: string[];
  readonly flags: string[];
}

export interface WebAclReview {
  readonly acl: string;
  readonly scope: string;
  readonly defaultAction: string;
  readonly associatedWith: string[];
  readonly rules: Array<{ priority: number; name: string; action: string; statement: string }>;
  readonly logging: string;
}

function statementSummary(s: Json, show: (v: unknown) => string): string {
  if (!s) return '-';
  if (s.ManagedRuleGroupStatement) {
    const m = s.ManagedRuleGroupStatement;
    const overrides = asArray<Json>(m.RuleActionOverrides).map((o) => `${o.Name}=${Object.keys(o.ActionToUse ?? {})[0]}`);
    const excluded = asArray<Json>(m.ExcludedRules).map((e) => e.Name);
    return `managed rule group ${m.VendorName}/${m.Name}${m.Version ? ` ${m.Version}` : ''}${overrides.length ? `, overrides ${overrides.join(', ')}` : ''}${excluded.length ? `, excluded ${excluded.join(', ')}` : ''}`;
  }
  if (s.RateBasedStatement) return `rate limit ${s.RateBasedStatement.Limit} requests per ${s.RateBasedStatement.EvaluationWindowSec ?? 300} s per ${s.RateBasedStatement.AggregateKeyType}${s.RateBasedStatement.ScopeDownStatement ? ` where ${statementSummary(s.RateBasedStatement.ScopeDownStatement, show)}` : ''}`;
  if (s.IPSetReferenceStatement) return `IP set ${show(s.IPSetReferenceStatement.Arn)}`;
  if (s.GeoMatchStatement) return `country in ${asArray(s.GeoMatchStatement.CountryCodes).join(', ')}`;
  if (s.SizeConstraintStatement) return `size of ${Object.keys(s.SizeConstraintStatement.FieldToMatch ?? {})[0]} ${s.SizeConstraintStatement.ComparisonOperator} ${s.SizeConstraintStatement.Size}`;
  for (const op of ['AndStatement', 'OrStatement']) if (s[op]) return `(${asArray<Json>(s[op].Statements).map((x) => statementSummary(x, show)).join(op === 'AndStatement' ? ' and ' : ' or ')})`;
  if (s.NotStatement) return `not ${statementSummary(s.NotStatement.Statement, show)}`;
  return Object.keys(s)[0] ?? '-';
}

export function apiOf(v: TemplateView): { methods: ApiMethodReview[]; webAcls: WebAclReview[] } {
  const res = v.resources;
  const idOf = (x: Json): string | undefined => (typeof x?.Ref === 'string' ? x.Ref : Array.isArray(x?.['Fn::GetAtt']) ? x['Fn::GetAtt'][0] : undefined);
  const pathOfResource = (x: Json): string => {
    const id = idOf(x);
    const r = id ? res[id] : undefined;
    if (!r || r.Type !== 'AWS::ApiGateway::Resource') return '';
    return `${pathOfResource(r.Properties.ParentId)}/${v.show(r.Properties.PathPart)}`;
  };
  const webAcls: WebAclReview[] = ofType(v, 'AWS::WAFv2::WebACL').map(([id, r]) => {
    const p = r.Properties ?? {};
    const assoc = ofType(v, 'AWS::WAFv2::WebACLAssociation').filter(([, a]) => idOf(a.Properties?.WebACLArn) === id);
    const logging = ofType(v, 'AWS::WAFv2::LoggingConfiguration').filter(([, l]) => idOf(l.Properties?.ResourceArn) === id);
    return {
      acl: v.label(id),
      scope: p.Scope,
      defaultAction: Object.keys(p.DefaultAction ?? {})[0] ?? '-',
      associatedWith: assoc.map(([, a]) => v.show(a.Properties.ResourceArn)),
      rules: asArray<Json>(p.Rules).sort((a, b) => a.Priority - b.Priority).map((x) => ({
        priority: x.Priority,
        name: x.Name,
        action: x.Action ? Object.keys(x.Action)[0] : x.OverrideAction ? `rule group's own actions${x.OverrideAction.Count ? ' overridden to Count' : ''}` : '-',
        statement: statementSummary(x.Statement, v.show),
      })),
      logging: logging.length ? logging.map(([, l]) => {
        const redacted = asArray<Json>(l.Properties.RedactedFields).map((f) => (f.SingleHeader ? `header ${f.SingleHeader.Name}` : Object.keys(f)[0]));
        return `to ${asArray(l.Properties.LogDestinationConfigs).map(v.show).join(', ')}; redacted: ${redacted.join(', ') || 'NOTHING (request headers, including Authorization, are logged)'}`;
      }).join('; ') : 'not logged',
    };
  });
  const methods: ApiMethodReview[] = ofType(v, 'AWS::ApiGateway::Method').map(([id, r]) => {
    const p = r.Properties ?? {};
    const apiId = idOf(p.RestApiId);
    const authorizer = idOf(p.AuthorizerId) ? res[idOf(p.AuthorizerId)!] : undefined;
    let authorization = p.AuthorizationType ?? 'NONE';
    if (authorizer) {
      const a = authorizer.Properties;
      authorization += ` via ${v.pathOf(idOf(p.AuthorizerId)!)} (${a.Type}, identity ${a.IdentitySource ?? '-'}${a.ProviderARNs ? `, user pools ${asArray(a.ProviderARNs).map(v.show).join(', ')}` : ''}${a.AuthorizerUri ? `, function ${v.show(a.AuthorizerUri)}` : ''})`;
    }
    if (p.AuthorizationScopes) authorization += `, scopes ${asArray(p.AuthorizationScopes).join(' ')}`;
    const flags: string[] = [];
    if ((p.AuthorizationType ?? 'NONE') === 'NONE' && p.HttpMethod !== 'OPTIONS') flags.push('no authorization');
    const waf = webAcls.filter((w) => w.associatedWith.some((a) => apiId && a.includes(`/restapis/{${v.pathOf(apiId)}}`))).map((w) => w.acl);
    if (!waf.length && p.HttpMethod !== 'OPTIONS') flags.push('no WAF web ACL in this stack');
    const validator = idOf(p.RequestValidatorId) ? res[idOf(p.RequestValidatorId)!]?.Properties : undefined;
    return {
      logicalId: id,
      api: apiId ? v.pathOf(apiId) : v.show(p.RestApiId),
      method: p.HttpMethod,
      path: pathOfResource(p.ResourceId) || '/',
      authorization,
      apiKeyRequired: p.ApiKeyRequired === true,
      validation: validator ? `${validator.ValidateRequestBody ? 'body' : ''}${validator.ValidateRequestBody && validator.ValidateRequestParameters ? ' and ' : ''}${validator.ValidateRequestParameters ? 'parameters' : ''}${p.RequestModels ? ` against ${Object.values(p.RequestModels).map(v.show).join(', ')}` : ''}` : 'none',
      integration: `${p.Integration?.Type ?? '-'} ${v.show(p.Integration?.Uri).replace(/^.*functions\/(.*)\/invocations$/, 'function $1')}`,
      waf,
      flags,
    };
  });
  return { methods, webAcls };
}

// ---------------------------------------------------------------------------------------------
// Code, images and models from other accounts or the internet

export interface ExternalCode {
  readonly resource: string;
  readonly kind: string;
  readonly source: string;
  /** How it is pinned: a version, an image tag, a digest, or nothing. */
  readonly pinned: string;
  readonly flags: string[];
}

/** The values a Fn::FindInMap can take, per top-level key, from the template's Mappings. */
function mappingValues(v: TemplateView, x: Json): string | undefined {
  const f = x?.['Fn::FindInMap'];
  if (!f) return undefined;
  const [map, , attr] = f;
  const m = v.mappings[map];
  if (!m) return undefined;
  const values = Object.entries<Json>(m).map(([k, row]) => `${k}: ${row?.[attr]}`);
  return values.length > 4 ? `${values.length} values by ${typeof f[1] === 'object' ? v.show(f[1]) : f[1]}, e.g. ${values.slice(0, 3).join('; ')}` : values.join('; ');
}

function imageSource(v: TemplateView, image: Json): { source: string; pinned: string; flags: string[] } {
  const text = v.show(image);
  const parts = image?.['Fn::Join']?.[1] ?? [];
  const accounts = asArray<Json>(parts).map((p) => mappingValues(v, p)).filter(Boolean);
  const flags: string[] = [];
  const own = /<AccountId>/.test(text.split('.dkr.ecr')[0] ?? '');
  const digest = /@sha256:[0-9a-f]{64}/.test(text);
  if (!own) flags.push('image from another account');
  if (!digest) flags.push('pinned by tag, not digest');
  return { source: `${text}${accounts.length ? ` (registry account ${accounts.join('; ')})` : ''}`, pinned: digest ? 'digest' : `tag ${text.split(':').pop()}`, flags };
}

export function externalCodeOf(v: TemplateView): ExternalCode[] {
  const out: ExternalCode[] = [];
  for (const [id, r] of ofType(v, 'AWS::Serverless::Application')) {
    const loc = r.Properties?.Location ?? {};
    const app = mappingValues(v, loc.ApplicationId) ?? v.show(loc.ApplicationId);
    const version = mappingValues(v, loc.SemanticVersion) ?? v.show(loc.SemanticVersion);
    out.push({ resource: v.label(id), kind: 'Serverless Application Repository application (deploys its own nested stack, roles and function)', source: app, pinned: `semantic version ${version}`, flags: ['code published by another account'] });
  }
  for (const [id, r] of ofType(v, 'AWS::CloudFormation::Stack')) out.push({ resource: v.label(id), kind: 'nested stack', source: v.show(r.Properties?.TemplateURL), pinned: '-', flags: [] });
  for (const [id, r] of ofType(v, 'AWS::SageMaker::Model')) {
    const p = r.Properties ?? {};
    for (const c of [p.PrimaryContainer, ...asArray(p.Containers)].filter(Boolean)) {
      const img = imageSource(v, c.Image);
      out.push({ resource: v.label(id), kind: 'container image', source: img.source, pinned: img.pinned, flags: img.flags });
      const env = c.Environment ?? {};
      if (env.HF_MODEL_ID) {
        const revision = env.HF_MODEL_REVISION ?? env.REVISION;
        const isolated = p.EnableNetworkIsolation === true;
        out.push({ resource: v.label(id), kind: 'model weights', source: `Hugging Face Hub model ${v.show(env.HF_MODEL_ID)}, downloaded by the container at start`, pinned: revision ? `revision ${v.show(revision)}` : 'none', flags: [...(revision ? [] : ['revision not pinned']), ...(isolated ? ['network isolation on: a download at start would fail'] : ['downloaded from the internet at start'])] });
      }
      const data = c.ModelDataUrl ?? c.ModelDataSource?.S3DataSource?.S3Uri;
      if (data) out.push({ resource: v.label(id), kind: 'model artifacts', source: v.show(data), pinned: c.ModelDataSource?.S3DataSource?.ETag ? 'ETag' : '-', flags: [] });
    }
  }
  for (const [id, r] of ofType(v, 'AWS::Lambda::Function')) {
    const p = r.Properties ?? {};
    for (const l of asArray<Json>(p.Layers)) {
      const text = v.show(l);
      if (/^arn:/.test(text) && !/<AccountId>/.test(text)) out.push({ resource: v.label(id), kind: 'Lambda layer', source: text, pinned: `layer version ${text.split(':').pop()}`, flags: ['layer published by another account'] });
    }
    if (p.Code?.ImageUri) {
      const img = imageSource(v, p.Code.ImageUri);
      if (img.flags.includes('image from another account')) out.push({ resource: v.label(id), kind: 'function image', source: img.source, pinned: img.pinned, flags: img.flags });
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Break-glass alarms: which event names the templates watch

export interface WatchedEvent {
  readonly by: string;
  readonly events: string[];
}

/** EventBridge rules and metric filters of this stack, with the CloudTrail event names they match. */
export function watchedEventsOf(v: TemplateView): WatchedEvent[] {
  const out: WatchedEvent[] = [];
  for (const [id, r] of ofType(v, 'AWS::Events::Rule')) {
    const pattern = parsed(r.Properties?.EventPattern);
    const names = asArray<string>(pattern?.detail?.eventName).map(String);
    if (names.length) out.push({ by: `EventBridge rule ${v.pathOf(id)}${r.Properties?.State === 'DISABLED' ? ' (DISABLED)' : ''}`, events: names });
  }
  for (const [id, r] of ofType(v, 'AWS::Logs::MetricFilter')) {
    const names = [...String(r.Properties?.FilterPattern ?? '').matchAll(/eventName\s*=\s*"?([A-Za-z0-9]+)"?/g)].map((m) => m[1]);
    if (names.length) out.push({ by: `metric filter ${v.pathOf(id)}`, events: names });
  }
  return out;
}

export { workloadOf };
