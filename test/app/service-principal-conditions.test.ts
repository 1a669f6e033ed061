/**
 * Every grant to an AWS service principal in the synthesized templates of both stages carries a
 * source condition, so the service acts for this account's resources only (the confused-deputy
 * guard: https://docs.aws.amazon.com/IAM/latest/UserGuide/confused-deputy.html). Walks every key
 * policy, topic, queue, bucket, endpoint, secret, log and API policy and every Lambda permission.
 * Trust policies (AssumeRolePolicyDocument) are not grants on a resource and are not walked here.
 */
import { synthStage } from '../helpers';

/** Global condition keys that name the source: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html */
const SOURCE_KEYS = ['aws:sourceaccount', 'aws:sourcearn', 'aws:sourceorgid', 'aws:sourceorgpaths'];

/**
 * Documented exceptions: a service whose grant is scoped by another condition AWS documents for it.
 * One row per service; `key` is the condition that must be present instead.
 */
export const SOURCE_CONDITION_EXCEPTIONS: ReadonlyArray<{ service: RegExp; key: string; doc: string }> = [
  {
    // CloudWatch Logs encrypting a log group: the encryption context names the log group ARN.
    service: /^logs\.[^.]+\.amazonaws\.com$|^logs\.\$\{AWS::Region\}\.amazonaws\.com$/,
    key: 'kms:encryptioncontext:aws:logs:arn',
    doc: 'https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html',
  },
];

const POLICY_OF: Record<string, (p: any) => unknown> = {
  'AWS::KMS::Key': (p) => p.KeyPolicy,
  'AWS::SNS::TopicPolicy': (p) => p.PolicyDocument,
  'AWS::SNS::TopicInlinePolicy': (p) => p.PolicyDocument,
  'AWS::SQS::QueuePolicy': (p) => p.PolicyDocument,
  'AWS::SQS::QueueInlinePolicy': (p) => p.PolicyDocument,
  'AWS::S3::BucketPolicy': (p) => p.PolicyDocument,
  'AWS::EC2::VPCEndpoint': (p) => p.PolicyDocument,
  'AWS::SecretsManager::ResourcePolicy': (p) => p.ResourcePolicy,
  'AWS::Logs::ResourcePolicy': (p) => (typeof p.PolicyDocument === 'string' ? JSON.parse(p.PolicyDocument) : p.PolicyDocument),
  'AWS::ApiGateway::RestApi': (p) => p.Policy,
  'AWS::Events::EventBusPolicy': (p) => p.Statement && { Statement: [p.Statement] },
};

/** A service principal name as written in the template (Fn::Join of pseudo parameters rendered). */
function serviceName(v: unknown): string {
  if (typeof v === 'string') return v;
  const join = (v as any)?.['Fn::Join'];
  if (join) return join[1].map((x: any) => (typeof x === 'string' ? x : x.Ref ? `\${${x.Ref}}` : '?')).join(join[0]);
  return JSON.stringify(v);
}

function conditionKeys(condition: unknown): string[] {
  return Object.values((condition ?? {}) as Record<string, Record<string, unknown>>).flatMap((o) => Object.keys(o).map((k) => k.toLowerCase()));
}

/** `stack/logicalId: service` for every Allow to a service principal without a source condition. */
export function unconditionedServiceGrants(templates: Record<string, any>): string[] {
  const out: string[] = [];
  for (const [stack, t] of Object.entries(templates)) {
    for (const [id, r] of Object.entries<any>(t.Resources ?? {})) {
      const props = r.Properties ?? {};
      if (r.Type === 'AWS::Lambda::Permission') {
        const principal = serviceName(props.Principal);
        if (principal.endsWith('.amazonaws.com') && !props.SourceArn && !props.SourceAccount) out.push(`${stack}/${id}: ${principal} (Lambda permission)`);
        continue;
      }
      const doc = POLICY_OF[r.Type]?.(props) as any;
      for (const st of [doc?.Statement ?? []].flat()) {
        if (st.Effect !== 'Allow' || !st.Principal?.Service) continue;
        const keys = conditionKeys(st.Condition);
        for (const service of [st.Principal.Service].flat().map(serviceName)) {
          if (keys.some((k) => SOURCE_KEYS.includes(k))) continue;
          const exception = SOURCE_CONDITION_EXCEPTIONS.find((e) => e.service.test(service));
          if (exception && keys.includes(exception.key)) continue;
          out.push(`${stack}/${id}: ${service} (${r.Type}${st.Sid ? ` ${st.Sid}` : ''})`);
        }
      }
    }
  }
  return out.sort();
}

const templatesOf = (stage: string) => Object.fromEntries(Object.entries(synthStage(stage, { alarmEmail: 'oncall@example.com' }).templates).map(([n, t]) => [n, t.toJSON()]));

describe.each(['pilot', 'production'])('%s: every service-principal grant names its source', (stage) => {
  const templates = templatesOf(stage);

  test('no Allow to a service principal without aws:SourceAccount / aws:SourceArn (or its documented equivalent)', () => {
    expect(unconditionedServiceGrants(templates)).toEqual([]);
  });

  test('the walk sees the grants it is meant to judge (alarm publishers, log delivery, S3 events, API Gateway)', () => {
    const all = JSON.stringify(templates);
    for (const s of ['cloudwatch.amazonaws.com', 'budgets.amazonaws.com', 'costalerts.amazonaws.com', 'delivery.logs.amazonaws.com', 's3.amazonaws.com', 'apigateway.amazonaws.com']) expect({ s, present: all.includes(s) }).toEqual({ s, present: true });
  });
});

describe('the check itself', () => {
  const key = (statement: unknown) => ({ s: { Resources: { K: { Type: 'AWS::KMS::Key', Properties: { KeyPolicy: { Statement: [statement] } } } } } });
  test('flags a bare service grant, accepts one with a source, and accepts the documented logs equivalent only with its key', () => {
    expect(unconditionedServiceGrants(key({ Effect: 'Allow', Principal: { Service: 'delivery.logs.amazonaws.com' }, Action: 'kms:Decrypt*' }))).toEqual(['s/K: delivery.logs.amazonaws.com (AWS::KMS::Key)']);
    expect(unconditionedServiceGrants(key({ Effect: 'Allow', Principal: { Service: 'budgets.amazonaws.com' }, Condition: { StringEquals: { 'aws:SourceAccount': '1' } } }))).toEqual([]);
    const logs = { 'Fn::Join': ['', ['logs.', { Ref: 'AWS::Region' }, '.amazonaws.com']] };
    expect(unconditionedServiceGrants(key({ Effect: 'Allow', Principal: { Service: logs }, Condition: { ArnLike: { 'kms:EncryptionContext:aws:logs:arn': 'x' } } }))).toEqual([]);
    expect(unconditionedServiceGrants(key({ Effect: 'Allow', Principal: { Service: logs } }))).toEqual(['s/K: logs.${AWS::Region}.amazonaws.com (AWS::KMS::Key)']);
    expect(unconditionedServiceGrants(key({ Effect: 'Deny', Principal: { Service: 'sns.amazonaws.com' } }))).toEqual([]);
    const permission = { s: { Resources: { P: { Type: 'AWS::Lambda::Permission', Properties: { Principal: 's3.amazonaws.com', Action: 'lambda:InvokeFunction' } } } } };
    expect(unconditionedServiceGrants(permission)).toEqual(['s/P: s3.amazonaws.com (Lambda permission)']);
  });
});
