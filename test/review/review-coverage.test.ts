/**
 * The review read as a security team reads it: resources are picked from the synthesized templates
 * of both stages (every security group, key, data store, Cognito client, API method, SageMaker model,
 * resource policy), and for each the Markdown must state what the template says. Expectations are
 * computed here from the raw template, not through the generator, so a generator that drops a
 * section, a resource or a rule fails.
 */
import { assemblyWide, reviewCloudAssembly, reviewStack, securityReviewMarkdown } from '../../lib/review';
import { CLASSIFIED_TYPES, UNCLASSIFIED } from '../../lib/review/data-classification';
import { synthStage } from '../helpers';

type Json = any;
const asArray = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

describe.each(['pilot', 'production'])('the security review of the %s templates', (stage) => {
  // Path metadata as the CDK CLI writes it (the review names resources by construct path).
  const synthesized = synthStage(stage, { alarmEmail: 'oncall@example.com', 'aws:cdk:enable-path-metadata': true });
  const review = reviewCloudAssembly(synthesized.outdir);
  const md = securityReviewMarkdown(review);
  const templates: Record<string, Json> = Object.fromEntries(Object.entries(synthesized.templates).map(([n, t]) => [n, t.toJSON()]));
  const pathIn = (stack: string, id: string) => String(templates[stack].Resources[id]?.Metadata?.['aws:cdk:path'] ?? id).replace(`${stack}/`, '').replace(/\/Resource$/, '');
  const resourcesOf = (type: string) => Object.entries(templates).flatMap(([stack, t]) => Object.entries<Json>(t.Resources).filter(([, r]) => r.Type === type).map(([id, r]) => ({ stack, id, r, path: pathIn(stack, id) })));
  const stackSection = (stack: string) => {
    const start = md.indexOf(`## Stack ${stack}\n`);
    const next = md.indexOf('\n## ', start + 1);
    return md.slice(start, next < 0 ? undefined : next);
  };
  const rows = (text: string) => text.split('\n').filter((l) => l.startsWith('| '));
  const esc = (s: string) => s.replace(/[\\`*_<>[\]~|&]/g, '\\$&');

  test('every stack has every section a reviewer reads, and the assembly-wide sections exist', () => {
    const sections = ['### Resources by type', '### IAM roles', '### Encryption at rest', '### Network exposure', '#### Security groups: ingress and egress', '#### Paths out: SageMaker models and functions',
      '### Retention, deletion, backups and lock per data store', '### Keys: who can decrypt', '### Code, images and models from other accounts or the internet'];
    for (const stack of Object.keys(templates)) {
      const text = stackSection(stack);
      expect({ stack, missing: sections.filter((s) => !text.includes(`${s}\n`)) }).toEqual({ stack, missing: [] });
    }
    for (const s of ['## Data classification', '## Break-glass paths', '## Acknowledged findings']) expect(md).toContain(`\n${s}\n`);
  });

  test('every security group: its ingress and egress rules as the template has them, and all-outbound when it declares no egress', () => {
    const groups = resourcesOf('AWS::EC2::SecurityGroup');
    expect(groups.length).toBeGreaterThan(3);
    const peerOf = (stack: string, rule: Json, keys: string[]) => {
      const v = keys.map((k) => rule[k]).find((x) => x !== undefined);
      return typeof v === 'string' ? v : `{${pathIn(stack, v['Fn::GetAtt'][0])}}`;
    };
    const ports = (r: Json) => (r.IpProtocol === '-1' ? 'all' : r.FromPort === r.ToPort ? String(r.FromPort) : `${r.FromPort}-${r.ToPort}`);
    for (const g of groups) {
      const placeholder = (x: Json) => x.CidrIp === '255.255.255.255/32' && x.IpProtocol === 'icmp';
      const ref = (x: Json) => x.Properties?.GroupId?.['Fn::GetAtt']?.[0] === g.id;
      const egress = [
        ...asArray<Json>(g.r.Properties.SecurityGroupEgress).filter((x) => !placeholder(x)),
        ...Object.values<Json>(templates[g.stack].Resources).filter((x) => x.Type === 'AWS::EC2::SecurityGroupEgress' && ref(x)).map((x) => x.Properties),
      ];
      const ingress = [
        ...asArray<Json>(g.r.Properties.SecurityGroupIngress),
        ...Object.values<Json>(templates[g.stack].Resources).filter((x) => x.Type === 'AWS::EC2::SecurityGroupIngress' && ref(x)).map((x) => x.Properties),
      ];
      const lines = rows(stackSection(g.stack)).filter((l) => l.startsWith(`| \`${g.path}\` |`));
      for (const e of egress) {
        const expected = `| \`${g.path}\` | egress | ${e.IpProtocol === '-1' ? 'all' : e.IpProtocol} | ${ports(e)} | \`${peerOf(g.stack, e, ['CidrIp', 'CidrIpv6', 'DestinationPrefixListId', 'DestinationSecurityGroupId'])}\` |`;
        expect({ group: g.path, rule: expected, listed: lines.some((l) => l.startsWith(expected)) }).toEqual({ group: g.path, rule: expected, listed: true });
      }
      for (const i of ingress) {
        const expected = `| \`${g.path}\` | ingress | ${i.IpProtocol === '-1' ? 'all' : i.IpProtocol} | ${ports(i)} | \`${peerOf(g.stack, i, ['CidrIp', 'CidrIpv6', 'SourcePrefixListId', 'SourceSecurityGroupId'])}\` |`;
        expect({ group: g.path, rule: expected, listed: lines.some((l) => l.startsWith(expected)) }).toEqual({ group: g.path, rule: expected, listed: true });
      }
      expect(lines.filter((l) => / \| egress \| /.test(l))).toHaveLength(egress.length);
      const summary = lines.find((l) => !/ \| (egress|ingress) \| /.test(l))!;
      const declaresNone = g.r.Properties.SecurityGroupEgress === undefined && !egress.length;
      const allOut = declaresNone || egress.some((e) => e.IpProtocol === '-1' && e.CidrIp === '0.0.0.0/0');
      expect({ group: g.path, allOutbound: /\*\*ALL traffic to anywhere/.test(summary) }).toEqual({ group: g.path, allOutbound: allOut });
    }
  });

  test('every KMS key: the principals that may decrypt it, from its key policy and every IAM policy of the assembly', () => {
    const keys = resourcesOf('AWS::KMS::Key');
    expect(keys.length).toBeGreaterThan(3);
    const decrypts = (st: Json) => st.Effect === 'Allow' && asArray<string>(st.Action).some((a) => a === 'kms:*' || a === 'kms:Decrypt' || a === 'kms:Decrypt*' || a === '*');
    // Which key an IAM Resource names: a GetAtt in its own stack, or a cross-stack output of one.
    const keyOf = (stack: string, res: Json): string | undefined => {
      if (res?.['Fn::GetAtt']?.[1] === 'Arn') return `${stack}:${res['Fn::GetAtt'][0]}`;
      const out = res?.['Fn::GetStackOutput'];
      if (out) {
        const value = templates[out.StackName]?.Outputs?.[out.OutputName]?.Value;
        if (value?.['Fn::GetAtt']?.[1] === 'Arn') return `${out.StackName}:${value['Fn::GetAtt'][0]}`;
      }
      return undefined;
    };
    const policies = [...resourcesOf('AWS::IAM::Policy'), ...resourcesOf('AWS::IAM::ManagedPolicy')];
    for (const k of keys) {
      const section = md.slice(md.indexOf(`#### Key \`${k.path}\` (logical ID \`${k.id}\`)`));
      expect(section.length).toBeLessThan(md.length);
      const table = rows(section.slice(0, section.indexOf('\n#', 5)));
      const listed = (principal: string) => table.some((l) => l.startsWith(`| \`${principal}`) && /\| Allow \| yes \|/.test(l));
      for (const st of asArray<Json>(k.r.Properties.KeyPolicy.Statement).filter(decrypts)) {
        for (const [kind, p] of Object.entries<Json>(st.Principal)) for (const x of asArray(p)) {
          const text = typeof x === 'string' ? x : x['Fn::Join'] ? x['Fn::Join'][1].map((y: Json) => (typeof y === 'string' ? y : `<${y.Ref.replace('AWS::', '')}>`)).join('') : JSON.stringify(x);
          expect({ key: k.path, principal: `${kind}: ${text}`, listed: listed(`${kind}: ${text}`) }).toEqual({ key: k.path, principal: `${kind}: ${text}`, listed: true });
        }
      }
      const expectedRoles = policies.filter((p) => asArray<Json>(p.r.Properties.PolicyDocument.Statement).some((st) => decrypts(st) && asArray(st.Resource).some((res) => keyOf(p.stack, res) === `${k.stack}:${k.id}`)))
        .flatMap((p) => (asArray<Json>(p.r.Properties.Roles).length ? asArray<Json>(p.r.Properties.Roles).map((r) => (r.Ref ? `role ${p.stack}:${pathIn(p.stack, r.Ref)}` : `role ${String(Object.values(r)[0])}`)) : [`whoever ${p.stack}:${p.path}`]));
      for (const role of expectedRoles) expect({ key: k.path, role, listed: listed(role) }).toEqual({ key: k.path, role, listed: true });
    }
    // the one decrypting IAM grant every stage has: the store function on the vector database key is not it, the pipeline's on the intake key is
    const intake = review.stacks.flatMap((s) => s.keys).find((k) => k.key === 'Intake/Key')!;
    expect(intake.principals.filter((p) => p.decrypt && p.via.startsWith('IAM')).map((p) => p.principal)).toEqual(expect.arrayContaining([`role docai-${stage}-app:Pipeline/Extract/ServiceRole`]));
  });

  test('every data store: its deletion policy, and for buckets their Object Lock, as the template says', () => {
    const stores = ['AWS::S3::Bucket', 'AWS::Logs::LogGroup', 'AWS::SQS::Queue', 'AWS::RDS::DBInstance', 'AWS::DynamoDB::Table', 'AWS::SecretsManager::Secret', 'AWS::KMS::Key'].flatMap(resourcesOf);
    expect(stores.length).toBeGreaterThan(30);
    for (const s of stores) {
      const expected = s.r.DeletionPolicy ?? (s.r.Type === 'AWS::RDS::DBInstance' ? 'Snapshot (CloudFormation default)' : 'Delete (CloudFormation default)');
      const row = rows(stackSection(s.stack)).find((l) => l.startsWith(`| \`${s.path} (${s.id})\` | ${s.r.Type.replace('AWS::', '')} |`));
      expect({ store: s.path, row: row?.split(' | ')[2] }).toEqual({ store: s.path, row: expected });
      if (s.r.Type === 'AWS::S3::Bucket') {
        const rule = s.r.Properties.ObjectLockConfiguration?.Rule?.DefaultRetention;
        if (rule) expect(row).toContain(`Object Lock ${rule.Mode}, ${rule.Days} days`);
        else expect(row).toMatch(/Object Lock enabled, no default retention|no Object Lock/);
      }
      if (s.r.Type === 'AWS::Logs::LogGroup') expect(row).toContain(s.r.Properties.RetentionInDays ? `| ${s.r.Properties.RetentionInDays} days |` : '| never expires |');
    }
  });

  test('the Cognito client: its flows, callback URLs and scopes, with the risky ones flagged', () => {
    const clients = resourcesOf('AWS::Cognito::UserPoolClient');
    expect(clients.length).toBeGreaterThan(0);
    for (const c of clients) {
      const p = c.r.Properties;
      const row = rows(stackSection(c.stack)).find((l) => l.startsWith(`| \`${c.path} (${c.id})\` |`))!;
      expect(row).toContain(esc(` | ${asArray(p.AllowedOAuthFlows).join(', ') || 'none'} | ${asArray(p.ExplicitAuthFlows).join(', ') || 'none'} | `).replace(/\\\|/g, '|'));
      for (const u of asArray<string>(p.CallbackURLs)) expect(row).toContain(`\`${u}\``);
      for (const sc of asArray<string>(p.AllowedOAuthScopes)) expect(row).toContain(`\`${sc}\``);
      expect(row.includes('**implicit grant')).toBe(asArray(p.AllowedOAuthFlows).includes('implicit'));
      expect(row.includes('**placeholder or plain-HTTP URL https://example.com')).toBe(asArray(p.CallbackURLs).includes('https://example.com'));
      expect(row.includes('**aws.cognito.signin.user.admin scope')).toBe(asArray(p.AllowedOAuthScopes).includes('aws.cognito.signin.user.admin'));
    }
  });

  test('every API method: its authorizer, and the WAF web ACL of its stage with every rule', () => {
    const methods = resourcesOf('AWS::ApiGateway::Method');
    expect(methods.length).toBeGreaterThan(0);
    for (const m of methods) {
      const p = m.r.Properties;
      const row = rows(stackSection(m.stack)).find((l) => l.includes(` | ${p.HttpMethod} | \``) && l.includes(`\`/${pathIn(m.stack, p.ResourceId.Ref).split('/').pop()}\``))!;
      expect(row).toContain(` | ${esc(p.AuthorizationType)}${p.AuthorizerId ? ` via ${esc(pathIn(m.stack, p.AuthorizerId.Ref))} (${esc(templates[m.stack].Resources[p.AuthorizerId.Ref].Properties.Type)}` : ''}`);
      const acls = resourcesOf('AWS::WAFv2::WebACLAssociation').filter((a) => a.stack === m.stack && JSON.stringify(a.r.Properties.ResourceArn).includes(`"${p.RestApiId.Ref}"`)).map((a) => pathIn(m.stack, a.r.Properties.WebACLArn['Fn::GetAtt'][0]));
      expect(acls.length).toBeGreaterThan(0);
      for (const acl of acls) expect(row).toContain(`\`${acl}`);
    }
    for (const w of resourcesOf('AWS::WAFv2::WebACL')) {
      const section = md.slice(md.indexOf(`#### Web ACL \`${w.path} (${w.id})\``));
      for (const rule of w.r.Properties.Rules) expect(rows(section.slice(0, section.indexOf('\n#', 5))).some((l) => l.startsWith(`| ${rule.Priority} | ${rule.Name} |`))).toBe(true);
    }
  });

  test('every SageMaker model: reaches the internet exactly when it has neither VpcConfig nor network isolation, and its image and weights are listed', () => {
    const models = resourcesOf('AWS::SageMaker::Model');
    expect(models.length).toBeGreaterThan(0);
    for (const m of models) {
      const open = !m.r.Properties.VpcConfig && m.r.Properties.EnableNetworkIsolation !== true;
      const row = rows(stackSection(m.stack)).find((l) => l.startsWith(`| \`${m.path} (${m.id})\` | SageMaker::Model |`))!;
      expect({ model: m.path, internet: row.endsWith('| **yes** |') }).toEqual({ model: m.path, internet: open });
      expect(row.includes('REACHES THE INTERNET')).toBe(open);
      // and never "public endpoints: none" alone: the stack's exposure list names the path out
      const bullet = stackSection(m.stack).split('\n').find((l) => l.startsWith('- paths out to the internet:'))!;
      expect(bullet.includes(`\`${m.path} (${m.id})\``)).toBe(open);
      const external = rows(stackSection(m.stack)).filter((l) => l.startsWith(`| \`${m.path} (${m.id})\` | container image |`));
      expect(external).toHaveLength(1);
      const env = m.r.Properties.PrimaryContainer.Environment ?? {};
      if (env.HF_MODEL_ID) {
        const weights = rows(stackSection(m.stack)).find((l) => l.startsWith(`| \`${m.path} (${m.id})\` | model weights |`))!;
        expect(weights).toContain(env.HF_MODEL_ID);
        expect(weights.includes('**revision not pinned**')).toBe(!env.HF_MODEL_REVISION);
      }
    }
    if (!review.stacks.some((s) => s.network.outbound.some((o) => o.internet && o.type === 'AWS::SageMaker::Model'))) return;
    expect(md).toMatch(/\| paths out to the internet \(SageMaker models, functions outside the VPC\) \| [^|]*Model/);
  });

  test('every resource policy of every type the templates hold, VPC endpoints without a policy flagged', () => {
    const kinds: Array<[string, (r: Json) => number]> = [
      ['AWS::S3::BucketPolicy', (r) => asArray(r.Properties.PolicyDocument.Statement).length],
      ['AWS::SQS::QueuePolicy', (r) => asArray(r.Properties.PolicyDocument.Statement).length],
      ['AWS::SNS::TopicPolicy', (r) => asArray(r.Properties.PolicyDocument.Statement).length],
      ['AWS::KMS::Key', (r) => asArray(r.Properties.KeyPolicy.Statement).length],
      ['AWS::SecretsManager::ResourcePolicy', (r) => asArray(r.Properties.ResourcePolicy.Statement).length],
      ['AWS::EC2::VPCEndpoint', (r) => Math.max(1, asArray(r.Properties.PolicyDocument?.Statement).length)],
      ['AWS::Lambda::Permission', () => 1],
    ];
    for (const [type, statements] of kinds) {
      for (const t of Object.keys(templates)) {
        const expected = resourcesOf(type).filter((x) => x.stack === t).reduce((n, x) => n + statements(x.r), 0);
        const section = stackSection(t);
        const listed = rows(section.slice(section.indexOf('### Resource policies'), section.indexOf('### Encryption at rest'))).filter((l) => l.includes(` | ${type.replace('AWS::', '')} | `)).length;
        expect({ stack: t, type, listed }).toEqual({ stack: t, type, listed: expected });
      }
    }
    for (const e of resourcesOf('AWS::EC2::VPCEndpoint')) {
      const row = rows(stackSection(e.stack)).find((l) => l.startsWith(`| ${esc(e.path)} (`) && l.includes('| EC2::VPCEndpoint |'))!;
      expect({ endpoint: e.path, flagged: row.includes('**NO ENDPOINT POLICY') }).toEqual({ endpoint: e.path, flagged: !e.r.Properties.PolicyDocument });
    }
  });

  test('every role\'s trust policy with its conditions', () => {
    for (const r of resourcesOf('AWS::IAM::Role')) {
      const line = md.split('\n').find((l, i, all) => l.startsWith('- trusted by:') && all[i - 2]?.includes(`(logical ID \`${r.id}\`)`))!;
      for (const st of asArray<Json>(r.r.Properties.AssumeRolePolicyDocument.Statement)) {
        if (!st.Condition) expect(line).toContain('**without a condition**');
        for (const [op, kv] of Object.entries<Json>(st.Condition ?? {})) for (const k of Object.keys(kv)) expect(line).toContain(`${op} ${k} =`);
      }
    }
  });

  test('a classification for every store and log: none unclassified, the stores of every tier\'s text named', () => {
    const stores = CLASSIFIED_TYPES.flatMap(resourcesOf);
    for (const s of stores) {
      const row = review.dataClassification.find((c) => c.store === `${s.stack}:${s.path}`);
      expect({ store: s.path, classified: row?.tiers !== undefined && row.tiers !== UNCLASSIFIED }).toEqual({ store: s.path, classified: true });
      expect(md).toContain(`| \`${s.stack}:${s.path}\` |`);
    }
    const everyTier = (p: string) => review.dataClassification.find((c) => c.store.endsWith(`:${p}`))?.tiers;
    for (const p of ['Intake/Bucket', 'Work/Bucket', 'Audit/Bucket', 'Gateway/Table', 'VectorDb/Cluster', 'VectorDb/Cluster/Writer']) expect(everyTier(p)).toMatch(/^every tier \(docai-public, docai-internal, docai-confidential, docai-restricted\)$/);
    for (const sm of resourcesOf('AWS::StepFunctions::StateMachine')) {
      const lg = sm.r.Properties.LoggingConfiguration?.Destinations?.[0]?.CloudWatchLogsLogGroup?.LogGroupArn?.['Fn::GetAtt']?.[0];
      if (!lg) continue;
      const row = review.dataClassification.find((c) => c.store === `${sm.stack}:${pathIn(sm.stack, lg)}`)!;
      expect(row.holds.includes('WITH execution data')).toBe(sm.r.Properties.LoggingConfiguration.IncludeExecutionData === true);
    }
    const capture = resourcesOf('AWS::SageMaker::EndpointConfig').filter((c) => c.r.Properties.DataCaptureConfig?.EnableCapture);
    for (const c of capture) expect(review.dataClassification.some((row) => row.holds.includes(`${c.stack}:${c.path} captures`))).toBe(true);
  });

  test('break-glass paths: one per secret, user pool and key, each saying who and what watches it', () => {
    // secrets: the template's and the RDS-managed master secret of each cluster that has one
    const managed = resourcesOf('AWS::RDS::DBCluster').filter((c) => c.r.Properties.ManageMasterUserPassword === true);
    expect(managed).toHaveLength(1);
    const expected = [...resourcesOf('AWS::SecretsManager::Secret'), ...managed, ...resourcesOf('AWS::Cognito::UserPool'), ...resourcesOf('AWS::KMS::Key')];
    const section = md.slice(md.indexOf('## Break-glass paths'), md.indexOf('## Acknowledged findings'));
    for (const e of expected) expect({ resource: e.path, listed: rows(section).some((l) => l.includes(`\`${e.stack}:${e.path}`)) }).toEqual({ resource: e.path, listed: true });
    expect(rows(section).length - 1).toBe(expected.length); // less the header row
    const secret = review.breakGlass.find((b) => b.path === 'read the secret')!;
    // the bootstrap reads it (Data API); the migrations log in with IAM and do not
    expect(secret.resource).toMatch(/VectorDb\/Cluster \(RDS-managed master secret, key VectorDb\/Key/);
    expect(secret.who.join('; ')).toMatch(/VectorDb\/Bootstrap\/ServiceRole/);
    expect(secret.who.join('; ')).not.toMatch(/VectorDb\/Migrations\/ServiceRole/);
    expect(secret.alarmedBy.join('; ')).toMatch(/BreakGlass/);
  });

  test('code from other accounts: the rotation application with its version, every external image', () => {
    for (const a of resourcesOf('AWS::Serverless::Application')) {
      const map = templates[a.stack].Mappings[a.r.Properties.Location.ApplicationId['Fn::FindInMap'][0]];
      const row = rows(stackSection(a.stack)).find((l) => l.startsWith(`| \`${a.path} (${a.id})\` | Serverless Application Repository application`))!;
      expect(row).toContain(map.aws.applicationId);
      expect(row).toContain(`aws: ${map.aws.semanticVersion}`);
    }
  });
});

/**
 * What the review must say of the weaknesses issue 25 found, on a fixture that keeps them (the app's
 * own templates lose them as they are fixed): a model that reaches the internet, an endpoint with no
 * policy, a group with EC2's default egress, a Cognito client with the implicit grant, a WAF log that
 * keeps the Authorization header, and the fixed variants of each.
 */
describe('the review names each weakness, and stops naming it once fixed', () => {
  const sg = (egress?: Json[]) => ({ Type: 'AWS::EC2::SecurityGroup', Properties: { GroupDescription: 'g', VpcId: 'vpc-1', ...(egress ? { SecurityGroupEgress: egress } : {}) } });
  const template = {
    Resources: {
      Open: { Type: 'AWS::SageMaker::Model', Properties: { EnableNetworkIsolation: false, PrimaryContainer: { Image: '763104351884.dkr.ecr.eu-west-1.amazonaws.com/tei:1', Environment: { HF_MODEL_ID: 'org/model' } } } },
      Isolated: { Type: 'AWS::SageMaker::Model', Properties: { EnableNetworkIsolation: true, PrimaryContainer: { Image: { 'Fn::Sub': '${AWS::AccountId}.dkr.ecr.${AWS::Region}.amazonaws.com/tei@sha256:' + 'a'.repeat(64) }, ModelDataUrl: 's3://own-bucket/model.tar.gz' } } },
      InVpc: { Type: 'AWS::SageMaker::Model', Properties: { VpcConfig: { Subnets: ['subnet-1'], SecurityGroupIds: [{ 'Fn::GetAtt': ['Restricted', 'GroupId'] }] }, PrimaryContainer: { Image: 'x' } } },
      NoPolicy: { Type: 'AWS::EC2::VPCEndpoint', Properties: { ServiceName: 'com.amazonaws.eu-west-1.s3', VpcId: 'vpc-1' } },
      WithPolicy: { Type: 'AWS::EC2::VPCEndpoint', Properties: { ServiceName: 'com.amazonaws.eu-west-1.secretsmanager', VpcEndpointType: 'Interface', VpcId: 'vpc-1', PolicyDocument: { Statement: [{ Effect: 'Allow', Principal: '*', Action: '*', Resource: '*', Condition: { StringEquals: { 'aws:PrincipalAccount': { Ref: 'AWS::AccountId' } } } }] } } },
      DefaultEgress: sg(),
      AllEgress: sg([{ IpProtocol: '-1', CidrIp: '0.0.0.0/0' }]),
      Restricted: sg([{ IpProtocol: 'tcp', FromPort: 443, ToPort: 443, DestinationPrefixListId: 'pl-1' }]),
      ReplacedDefault: sg(),
      ReplacedDefaultRule: { Type: 'AWS::EC2::SecurityGroupEgress', Properties: { GroupId: { 'Fn::GetAtt': ['ReplacedDefault', 'GroupId'] }, IpProtocol: 'tcp', FromPort: 5432, ToPort: 5432, DestinationSecurityGroupId: { 'Fn::GetAtt': ['Restricted', 'GroupId'] } } },
      Pool: { Type: 'AWS::Cognito::UserPool', Properties: { AdminCreateUserConfig: { AllowAdminCreateUserOnly: true } } },
      Risky: { Type: 'AWS::Cognito::UserPoolClient', Properties: { UserPoolId: { Ref: 'Pool' }, AllowedOAuthFlows: ['implicit'], CallbackURLs: ['https://example.com'], AllowedOAuthScopes: ['openid', 'aws.cognito.signin.user.admin'], ExplicitAuthFlows: ['ALLOW_USER_PASSWORD_AUTH'] } },
      Tight: { Type: 'AWS::Cognito::UserPoolClient', Properties: { UserPoolId: { Ref: 'Pool' }, AllowedOAuthFlows: ['code'], CallbackURLs: ['https://app.example.org/callback'], AllowedOAuthScopes: ['openid'], ExplicitAuthFlows: ['ALLOW_USER_SRP_AUTH'] } },
      Acl: { Type: 'AWS::WAFv2::WebACL', Properties: { Scope: 'REGIONAL', DefaultAction: { Allow: {} }, Rules: [] } },
      AclLogs: { Type: 'AWS::Logs::LogGroup', Properties: { RetentionInDays: 365, Tags: [{ Key: 'Workload', Value: 'query' }] } },
      AclLogging: { Type: 'AWS::WAFv2::LoggingConfiguration', Properties: { ResourceArn: { 'Fn::GetAtt': ['Acl', 'Arn'] }, LogDestinationConfigs: [{ 'Fn::GetAtt': ['AclLogs', 'Arn'] }] } },
      Watch: { Type: 'AWS::Events::Rule', Properties: { EventPattern: { source: ['aws.secretsmanager'], detail: { eventName: ['GetSecretValue'] } } } },
      Secret: { Type: 'AWS::SecretsManager::Secret', Properties: {} },
      Mystery: { Type: 'AWS::DynamoDB::Table', Properties: {} },
    },
  };
  const s = reviewStack('fixture', 'fixture.template.json', template);
  const wide = assemblyWide([s]);
  const out = (id: string) => s.network.outbound.find((o) => o.resource === id)!;

  test('SageMaker: no VpcConfig and no isolation reaches the internet; isolated or in the VPC (no internet route) does not', () => {
    expect(out('Open')).toMatchObject({ internet: true, network: expect.stringMatching(/^REACHES THE INTERNET/) });
    expect(out('Isolated')).toMatchObject({ internet: false, network: expect.stringMatching(/^network isolation on/) });
    expect(out('InVpc')).toMatchObject({ internet: false, network: expect.stringMatching(/in the VPC .*Restricted: tcp 443 to pl-1/) });
  });

  test('model weights from the Hub without a revision, images by tag from another account; a digest from our own registry is not flagged', () => {
    expect(s.externalCode.filter((x) => x.resource === 'Open').map((x) => [x.kind, x.flags])).toEqual([
      ['container image', ['image from another account', 'pinned by tag, not digest']],
      ['model weights', ['revision not pinned', 'downloaded from the internet at start']],
    ]);
    expect(s.externalCode.filter((x) => x.resource === 'Isolated').map((x) => [x.kind, x.flags])).toEqual([['container image', []], ['model artifacts', []]]);
  });

  test('egress: a group declaring none gets EC2\'s allow-all, a separate egress rule replaces it, the placeholder means none', () => {
    const g = (id: string) => s.securityGroups.find((x) => x.group === id)!;
    expect([g('DefaultEgress').allOutbound, g('AllEgress').allOutbound, g('Restricted').allOutbound, g('ReplacedDefault').allOutbound]).toEqual([true, true, false, false]);
    expect(g('ReplacedDefault').egressSummary).toBe('tcp 5432 to {Restricted}');
  });

  test('a VPC endpoint without a policy is flagged; one with a policy shows it', () => {
    const p = (t: string) => s.resourcePolicies.find((x) => x.resource.startsWith(t))!;
    expect(p('NoPolicy').note).toMatch(/^NO ENDPOINT POLICY/);
    expect(p('WithPolicy')).toMatchObject({ note: undefined, statements: [{ conditions: 'StringEquals aws:PrincipalAccount = <AccountId>' }] });
  });

  test('Cognito: implicit grant, placeholder callback, the admin scope and password auth flagged; a tight client is not', () => {
    const c = (id: string) => s.cognitoClients.find((x) => x.client === id)!;
    expect(c('Risky').flags).toEqual(['implicit grant (tokens in the URL)', 'placeholder or plain-HTTP URL https://example.com', 'aws.cognito.signin.user.admin scope (the token may change its own user)', 'password sent to Cognito in clear (ALLOW_USER_PASSWORD_AUTH)']);
    expect(c('Tight').flags).toEqual([]);
  });

  test('a WAF log without redaction is classified as holding bearer tokens; an alarm on GetSecretValue is found; an unknown store is UNCLASSIFIED', () => {
    expect(wide.dataClassification.find((r) => r.store === 'fixture:AclLogs')!.holds).toMatch(/headers NOT redacted, so bearer tokens in Authorization are logged/);
    expect(wide.breakGlass.find((b) => b.path === 'read the secret')!.alarmedBy).toEqual(['fixture: EventBridge rule Watch (GetSecretValue)']);
    expect(wide.dataClassification.find((r) => r.store === 'fixture:Mystery')!.tiers).toBe(UNCLASSIFIED);
    expect(securityReviewMarkdown({ assembly: 'x', stacks: [s], plugins: [], acknowledgements: [], openFindings: [], ...wide })).toMatch(/\| unclassified stores \| fixture:Mystery \|/);
  });
});
