/**
 * The security sign-off promises of issue 25 that live in the synthesized templates of both stages:
 * endpoint policies, named egress of the rotation function, evidence kept in production, the audit
 * reader as the only decrypter of the audit trail, key administration apart from key use, alarmed
 * break-glass paths, a Cognito client without implicit grant or placeholder callbacks.
 */
import { DocaiStacks } from '../../lib/app';
import { KEY_USE_ACTIONS } from '../../lib/break-glass';
import { cdkProviderReasons } from '../../lib/common';
import { synthStage } from '../helpers';

const STAGES = ['pilot', 'production'] as const;
type Resources = Record<string, { Type: string; Properties?: any; DeletionPolicy?: string; Metadata?: any }>;
const of = (stage: string) => {
  const s = synthStage(stage, { alarmEmail: 'oncall@example.com' });
  const t = (part: keyof DocaiStacks) => s.templates[(s.stacks[part] as any).stackName].toJSON().Resources as Resources;
  return { s, data: t('data'), app: t('app') };
};
const byType = (r: Resources, type: string) => Object.entries(r).filter(([, v]) => v.Type === type);
const statements = (doc: any): any[] => [doc?.Statement ?? []].flat();
const joined = (v: unknown): string => JSON.stringify(v);

describe.each(STAGES)('%s', (stage) => {
  const { s, data, app } = of(stage);
  const prefix = `docai-${stage}`;

  test('every VPC endpoint has a policy: this account\'s principals on this account\'s resources, plus only the AWS buckets the VPC must reach', () => {
    const endpoints = byType(data, 'AWS::EC2::VPCEndpoint');
    // the S3 gateway at least (interface endpoints only with network.privateLinkForAwsApis)
    expect(endpoints.length).toBeGreaterThanOrEqual(1);
    for (const [id, e] of endpoints) {
      const allows = statements(e.Properties.PolicyDocument).filter((st) => st.Effect === 'Allow');
      expect({ id, policy: allows.length > 0 }).toEqual({ id, policy: true });
      for (const st of allows) {
        const scoped = st.Condition?.StringEquals?.['aws:PrincipalAccount'] !== undefined
          && (st.Condition?.StringEquals?.['aws:ResourceAccount'] ?? st.Condition?.StringEqualsIfExists?.['aws:ResourceAccount']) !== undefined;
        const awsBucket = /cloudformation-custom-resource-response-\*\/\*|starport-layer-bucket/.test(joined(st.Resource));
        expect({ id, sid: st.Sid, scoped: scoped || awsBucket }).toEqual({ id, sid: st.Sid, scoped: true });
        if (awsBucket) expect([st.Action].flat()).toEqual(['s3:PutObject']);
      }
    }
  });

  test('no security group allows every protocol out; no rotation function (RDS rotates its managed master secret), so nothing of ours in the VPC reads the secret', () => {
    for (const [id, sg] of byType(data, 'AWS::EC2::SecurityGroup')) {
      for (const rule of sg.Properties.SecurityGroupEgress ?? []) expect({ id, allProtocols: rule.IpProtocol === '-1' }).toEqual({ id, allProtocols: false });
    }
    expect(byType(data, 'AWS::Serverless::Application')).toEqual([]);
    expect(byType(data, 'AWS::EC2::SecurityGroup').map(([id]) => id).filter((id) => /Rotation/.test(id))).toEqual([]);
    // the only reader of the master secret is the bootstrap function, which runs outside the VPC
    const readers = byType(data, 'AWS::Lambda::Function').filter(([, f]) => joined(f.Properties.Environment?.Variables ?? {}).includes('MasterUserSecret.SecretArn'));
    expect(readers.map(([, f]) => [f.Properties.Handler, f.Properties.VpcConfig])).toEqual([['bootstrap_handler.handler', undefined]]);
  });

  const keep = stage === 'production';
  test(`the app key and every app-stack log group (API access, WAF, function logs) are ${keep ? 'kept' : 'deleted'} with the stack; termination protection ${keep ? 'on' : 'off'}`, () => {
    const kinds = [...byType(app, 'AWS::KMS::Key'), ...byType(app, 'AWS::Logs::LogGroup')];
    expect(kinds.map(([id]) => id)).toEqual(expect.arrayContaining([expect.stringMatching(/^AppKey/), expect.stringMatching(/^QueryAccessLogs/), expect.stringMatching(/^QueryWafLogs/), expect.stringMatching(/^QueryQueryLogs/), expect.stringMatching(/^IngestionFunctionLogs/), expect.stringMatching(/^PipelineLogs/)]));
    for (const [id, r] of kinds) expect({ id, deletion: r.DeletionPolicy ?? 'Delete' }).toEqual({ id, deletion: keep ? 'Retain' : 'Delete' });
    expect(s.stacks.app.terminationProtection).toBe(keep);
  });

  test('only the audit reader decrypts the audit trail: the audit key denies kms:Decrypt to every other principal, the root included', () => {
    const [[, key]] = byType(data, 'AWS::KMS::Key').filter(([id]) => id.startsWith('AuditKey'));
    const deny = statements(key.Properties.KeyPolicy).find((st) => st.Sid === 'DecryptOnlyAsAuditReader');
    expect(deny).toMatchObject({ Effect: 'Deny', Principal: { AWS: '*' }, Action: expect.arrayContaining(['kms:Decrypt', 'kms:ReEncrypt*']) });
    expect(joined(deny.Condition.ArnNotEquals['aws:PrincipalArn'])).toContain(`:role/${prefix}-audit-reader`);
    const [[readerId, reader]] = byType(data, 'AWS::IAM::Role').filter(([, r]) => r.Properties.RoleName === `${prefix}-audit-reader`);
    const policies = byType(data, 'AWS::IAM::ManagedPolicy').filter(([, p]) => joined(p.Properties.Roles).includes(readerId)).flatMap(([, p]) => statements(p.Properties.PolicyDocument));
    const actions = policies.flatMap((st) => [st.Action].flat());
    expect(actions).toEqual(expect.arrayContaining(['kms:Decrypt', 'athena:StartQueryExecution', 's3:GetObject', 'glue:GetTable']));
    expect(actions.filter((a) => /\*/.test(a))).toEqual([]);
    expect(reader.Properties.AssumeRolePolicyDocument.Statement[0].Principal.AWS).toBeDefined();
    // nothing else is granted Decrypt on the audit key by a policy of these templates
    const auditKeyRef = joined({ 'Fn::GetAtt': [byType(data, 'AWS::KMS::Key').find(([id]) => id.startsWith('AuditKey'))![0], 'Arn'] });
    const decrypters = [...byType(data, 'AWS::IAM::ManagedPolicy'), ...byType(app, 'AWS::IAM::ManagedPolicy')]
      .filter(([, p]) => statements(p.Properties.PolicyDocument).some((st) => [st.Action].flat().some((a: string) => /^kms:(Decrypt|\*)$/.test(a)) && (joined(st.Resource).includes(auditKeyRef) || joined(st.Resource).includes('AuditKey'))))
      .map(([, p]) => joined(p.Properties.Roles));
    expect(decrypters).toEqual([expect.stringContaining(readerId)]);
  });

  test('the intake, database and audit keys deny every cryptographic use to their administrator role, which may only administer them', () => {
    const adminArn = `:role/${prefix}-key-admin`;
    for (const name of ['IntakeKey', 'VectorDbKey', 'AuditKey']) {
      const [[id, key]] = byType(data, 'AWS::KMS::Key').filter(([k]) => k.startsWith(name));
      const deny = statements(key.Properties.KeyPolicy).find((st) => st.Sid === 'KeyAdministratorsDoNotUseTheKey');
      expect({ id, actions: [deny?.Action].flat().sort(), arn: joined(deny?.Condition?.ArnEquals?.['aws:PrincipalArn']).includes(adminArn) }).toEqual({ id, actions: [...KEY_USE_ACTIONS].sort(), arn: true });
    }
    const [[roleId]] = byType(data, 'AWS::IAM::Role').filter(([, r]) => r.Properties.RoleName === `${prefix}-key-admin`);
    const actions = byType(data, 'AWS::IAM::ManagedPolicy').filter(([, p]) => joined(p.Properties.Roles).includes(roleId)).flatMap(([, p]) => statements(p.Properties.PolicyDocument)).flatMap((st) => [st.Action].flat());
    expect(actions).toContain('kms:ScheduleKeyDeletion');
    expect(actions.filter((a) => ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey', 'kms:CreateGrant', 'kms:ReEncryptFrom'].includes(a) || /\*/.test(a))).toEqual([]);
  });

  test('break-glass paths alarm: master secret read (read-only events on), restricted group change, key policy change, each to the alarm topic', () => {
    const rules = Object.fromEntries(byType(data, 'AWS::Events::Rule').map(([id, r]) => [id.replace(/[0-9A-F]{8}$/, ''), r.Properties]));
    expect(Object.keys(rules).sort()).toEqual(['BreakGlassKeyPolicyChange', 'BreakGlassMasterSecretRead', 'BreakGlassRestrictedGroupChange']);
    const topic = joined({ Ref: byType(data, 'AWS::SNS::Topic').find(([id]) => id.startsWith('AlarmsTopic'))![0] });
    for (const r of Object.values(rules)) expect(joined(r.Targets[0].Arn)).toBe(topic);
    const secret = rules.BreakGlassMasterSecretRead;
    expect(secret.State).toBe('ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS');
    expect(secret.EventPattern.detail.eventName).toEqual(['GetSecretValue']);
    // the expected reader session: the bootstrap role (Data API); RDS rotates the managed secret itself, the migrations log in with IAM
    const expected = secret.EventPattern.detail.userIdentity.arn[0]['anything-but'].wildcard;
    expect(expected).toHaveLength(1);
    expect(joined(expected)).toMatch(/:assumed-role\/.*VectorDbBootstrapServiceRole.*\/\*/);
    expect(joined(expected)).not.toMatch(/VectorDbMigrationsServiceRole/);
    expect(rules.BreakGlassRestrictedGroupChange.EventPattern.detail).toMatchObject({ eventName: ['AdminAddUserToGroup', 'AdminRemoveUserFromGroup'], requestParameters: { groupName: ['docai-restricted'] } });
    expect(rules.BreakGlassKeyPolicyChange.EventPattern.detail.eventName).toEqual(['PutKeyPolicy', 'ScheduleKeyDeletion', 'DisableKey']);
  });

  test('the Cognito app client has no OAuth flow (no implicit grant, no placeholder callback, no admin scope) unless callback URLs are given', () => {
    const [[, client]] = byType(app, 'AWS::Cognito::UserPoolClient');
    expect(client.Properties.AllowedOAuthFlows).toBeUndefined();
    expect(client.Properties.CallbackURLs).toBeUndefined();
    expect(client.Properties.AllowedOAuthScopes).toBeUndefined();
    expect(client.Properties.AllowedOAuthFlowsUserPoolClient).not.toBe(true);
  });

  test('the auto-delete handler\'s acknowledgement names the buckets it empties in this stage', () => {
    const reason = cdkProviderReasons(s.stacks.data)['Custom::S3AutoDeleteObjectsCustomResourceProvider'];
    expect(reason).not.toMatch(/pilot stages only/);
    expect(reason).toContain('Work/Bucket');
    expect(reason.includes('Intake/Bucket')).toBe(stage === 'pilot');
  });
});
