import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import Ajv from 'ajv';
import { App, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import { PILOT } from '../../lib/config/presets';
import { ModelGateway } from '../../lib/model-gateway';
import { AuditLockMode, AuditStore } from '../../lib/query-api';
import { gatewayGuardrail, gatewayRouting } from '../../lib/stacks/read-side-props';
import { NO_BUNDLING, synthStage } from '../helpers';

describe.each(['pilot', 'production'] as const)('query API of the %s stage', (stage) => {
  const app = () => synthStage(stage).templates[`docai-${stage}-app`];
  const data = () => synthStage(stage).templates[`docai-${stage}-data`];
  const config = () => synthStage(stage).config;

  test('POST /query and /search: Cognito-authorized, body validated by the schema, Lambda proxy', () => {
    const methods = app().findResources('AWS::ApiGateway::Method');
    const posts = Object.values(methods).filter((m: any) => m.Properties.HttpMethod === 'POST');
    expect(posts).toHaveLength(2);
    for (const m of posts as any[]) {
      expect(m.Properties.AuthorizationType).toBe('COGNITO_USER_POOLS');
      expect(m.Properties.RequestValidatorId).toBeDefined();
      expect(m.Properties.Integration.Type).toBe('AWS_PROXY');
      expect(m.Properties.ApiKeyRequired).toBe(false); // no named clients in the presets
    }
    app().hasResourceProperties('AWS::ApiGateway::Authorizer', { Type: 'COGNITO_USER_POOLS', IdentitySource: 'method.request.header.Authorization' });
    app().hasResourceProperties('AWS::ApiGateway::RequestValidator', { ValidateRequestBody: true });
  });

  test('throttling: the stage and the usage plan carry the configured rate and burst', () => {
    const { rateLimit, burstLimit } = config().query.throttle;
    app().hasResourceProperties('AWS::ApiGateway::Stage', {
      StageName: 'v1', TracingEnabled: true,
      MethodSettings: Match.arrayWith([Match.objectLike({ HttpMethod: '*', ResourcePath: '/*', ThrottlingRateLimit: rateLimit, ThrottlingBurstLimit: burstLimit })]),
      AccessLogSetting: Match.objectLike({ DestinationArn: Match.anyValue() }),
    });
    app().hasResourceProperties('AWS::ApiGateway::UsagePlan', { Throttle: { RateLimit: rateLimit, BurstLimit: burstLimit } });
  });

  test('the WAF web ACL (common, known bad inputs, rate per IP) is associated with the stage and logs', () => {
    const acl = Object.values(app().findResources('AWS::WAFv2::WebACL'))[0] as any;
    expect(acl.Properties.Scope).toBe('REGIONAL');
    expect(acl.Properties.Rules.map((r: any) => r.Name)).toEqual(['AWSManagedRulesCommonRuleSet', 'AWSManagedRulesKnownBadInputsRuleSet', 'RateLimitPerIp']);
    expect(acl.Properties.Rules[2].Statement.RateBasedStatement).toEqual({ Limit: config().query.wafRateLimitPer5Minutes, AggregateKeyType: 'IP', EvaluationWindowSec: 300 });
    const [assoc] = Object.values(app().findResources('AWS::WAFv2::WebACLAssociation')) as any[];
    expect(JSON.stringify(assoc.Properties.ResourceArn)).toMatch(/\/restapis\/.*\/stages\//);
    app().hasResourceProperties('AWS::WAFv2::LoggingConfiguration', { LogDestinationConfigs: Match.anyValue() });
  });

  test('the user pool: MFA required, no self sign-up, one group per configured tier group', () => {
    // the pool lives with the API (app stack), retained
    app().hasResourceProperties('AWS::Cognito::UserPool', { MfaConfiguration: 'ON', AdminCreateUserConfig: { AllowAdminCreateUserOnly: true } });
    const groups = Object.values(app().findResources('AWS::Cognito::UserPoolGroup')).map((g: any) => g.Properties.GroupName).sort();
    expect(groups).toEqual(Object.keys(config().query.tierGroups).sort());
  });

  test('the audit bucket locks each record for the stage\'s retention; the saved queries are in the workgroup', () => {
    const q = config().query;
    data().hasResourceProperties('AWS::S3::Bucket', { ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: { Mode: q.auditLockMode, Days: q.auditRetentionDays } } } });
    const named = Object.values(data().findResources('AWS::Athena::NamedQuery')).map((n: any) => n.Properties.Name).sort();
    expect(named).toEqual(Object.keys(AuditStore.savedQueries()).sort());
    data().hasResourceProperties('AWS::Athena::WorkGroup', { WorkGroupConfiguration: Match.objectLike({ EnforceWorkGroupConfiguration: true, ResultConfiguration: Match.objectLike({ EncryptionConfiguration: Match.objectLike({ EncryptionOption: 'SSE_KMS' }) }) }) });
  });

  test('the retrieve function may log in only as reader users, never as the writer', () => {
    const policies = Object.values(app().findResources('AWS::IAM::ManagedPolicy')) as any[];
    const connects = policies.flatMap((p) => p.Properties.PolicyDocument.Statement).filter((s: any) => s.Action === 'rds-db:connect');
    const users = connects.flatMap((s: any) => [s.Resource].flat()).map((r: unknown) => JSON.stringify(r).match(/\/(docai_[a-z_]+)/)?.[1]);
    const readerUsers = ['docai_reader_public', 'docai_reader_internal', 'docai_reader_confidential', 'docai_reader_restricted'];
    const retrieveRole = Object.entries(app().findResources('AWS::IAM::Role')).find(([id]) => id.startsWith('QueryRetrieveServiceRole'))![0];
    const retrievePolicies = policies.filter((p) => JSON.stringify(p.Properties.Roles ?? []).includes(retrieveRole));
    const retrieveUsers = retrievePolicies.flatMap((p) => p.Properties.PolicyDocument.Statement).filter((s: any) => s.Action === 'rds-db:connect')
      .flatMap((s: any) => [s.Resource].flat()).map((r: unknown) => JSON.stringify(r).match(/\/(docai_[a-z_]+)/)?.[1]).sort();
    expect(retrieveUsers).toEqual([...readerUsers].sort());
    expect(users).toContain('docai_writer'); // the pipeline's, for contrast
  });

  test('the retrieve function can wait out a typical database resume (~15 s, AWS) and still answer within the query function\'s time', () => {
    const fns = Object.values(app().findResources('AWS::Lambda::Function')) as any[];
    const retrieve = fns.find((f) => f.Properties.Handler === 'retrieve_handler.handler')!;
    const query = fns.find((f) => f.Properties.Handler === 'query_handler.handler')!;
    expect(retrieve.Properties.Timeout).toBeGreaterThanOrEqual(15 + 5);
    expect(retrieve.Properties.Timeout).toBeLessThan(query.Properties.Timeout);
  });

  test('the retrieve function derives the tier from the token: the pool\'s keys, issuer, client and tier map come from the template, not from the query function', () => {
    const fns = Object.entries(app().findResources('AWS::Lambda::Function')) as [string, any][];
    const [, retrieve] = fns.find(([, f]) => f.Properties.Handler === 'retrieve_handler.handler')!;
    const [queryId, query] = fns.find(([, f]) => f.Properties.Handler === 'query_handler.handler')!;
    const env = retrieve.Properties.Environment.Variables;
    expect(env.TIER_SOURCE).toBe('cognito');
    expect(JSON.parse(env.TIER_GROUPS)).toEqual(config().query.tierGroups);
    const [keysId, keys] = Object.entries(app().findResources('Custom::CognitoJwks'))[0] as [string, any];
    expect(env.JWKS).toEqual({ 'Fn::GetAtt': [keysId, 'Jwks'] });
    const [poolId] = Object.keys(app().findResources('AWS::Cognito::UserPool'));
    const [clientId] = Object.keys(app().findResources('AWS::Cognito::UserPoolClient'));
    expect(JSON.stringify(env.TOKEN_ISSUER)).toContain('https://');
    expect(JSON.stringify(env.TOKEN_ISSUER)).toContain(poolId);
    expect(JSON.stringify(env.TOKEN_AUDIENCES)).toContain(clientId);
    expect(JSON.stringify(keys.Properties.JwksUrl)).toContain('/.well-known/jwks.json');
    // The fetcher is the resource's provider and lives outside the VPC (one GET to the pool's public endpoint).
    const [, fetcher] = fns.find(([, f]) => f.Properties.Handler === 'jwks_handler.handler')!;
    expect(fetcher.Properties.VpcConfig).toBeUndefined();
    expect(JSON.stringify(keys.Properties.ServiceToken)).toContain(fns.find(([, f]) => f === fetcher)![0]);
    // What the query function hands over can only be checked, never configure the check: it has no
    // JWKS of its own and no Lambda action but InvokeFunction (no UpdateFunctionConfiguration).
    expect(query.Properties.Environment.Variables.JWKS).toBeUndefined();
    const queryRole = query.Properties.Role['Fn::GetAtt'][0];
    const lambdaActions = (Object.values(app().findResources('AWS::IAM::Policy')) as any[]).concat(Object.values(app().findResources('AWS::IAM::ManagedPolicy')))
      .filter((p) => JSON.stringify(p.Properties.Roles ?? []).includes(queryRole))
      .flatMap((p) => p.Properties.PolicyDocument.Statement).flatMap((st: any) => [st.Action].flat()).filter((a: string) => a.startsWith('lambda:'));
    expect(queryId).toBeDefined();
    expect([...new Set(lambdaActions)]).toEqual(['lambda:InvokeFunction']);
  });

  test('the dashboard has the query row; the alarms watch the 5xx rate and p95 latency', () => {
    const monitoring = synthStage(stage).templates[`docai-${stage}-monitoring`];
    const body = JSON.stringify(Object.values(monitoring.findResources('AWS::CloudWatch::Dashboard'))[0]);
    for (const title of ['Query API: requests, 4xx, 5xx, degraded answers', 'Query API latency p95 per step (ms)', 'Answers: tokens in/out and estimated spend (USD)', 'Gateway: cache hits']) expect(body).toContain(title);
    const alarms = Object.values(app().findResources('AWS::CloudWatch::Alarm')).map((a: any) => a.Properties.AlarmDescription);
    expect(alarms.some((d: string) => d.includes('answer 5xx'))).toBe(true);
    expect(alarms.some((d: string) => d.includes('p95 latency'))).toBe(true);
  });
});

describe('the request schema', () => {
  const schema = () => {
    const model = Object.values(synthStage('pilot').templates['docai-pilot-app'].findResources('AWS::ApiGateway::Model'))[0] as any;
    const { $schema: _draft, ...rest } = model.Properties.Schema;
    return new Ajv({ allErrors: true }).compile(rest);
  };

  test.each([
    [{ question: 'When are invoices paid?' }, true],
    [{ question: 'q', topK: 5, filters: { documentType: 'invoice', dateFrom: '2026-01-01' } }, true],
    [{ question: '' }, false],
    [{ topK: 3 }, false],
    [{ question: 'q', tier: 'restricted' }, false],
    [{ question: 'q', topK: 0 }, false],
    [{ question: 'q', filters: { dateFrom: 'yesterday' } }, false],
    [{ question: 'q', filters: { accessTier: 'restricted' } }, false],
  ])('%j valid: %s (as the handler decides)', (body, valid) => {
    expect(schema()(body)).toBe(valid);
  });

  test('a schema rejection answers 400 with the validation error, which names the field', () => {
    const responses = synthStage('pilot').templates['docai-pilot-app'].findResources('AWS::ApiGateway::GatewayResponse');
    const bad = Object.values(responses).find((r: any) => r.Properties.ResponseType === 'BAD_REQUEST_BODY') as any;
    expect(bad.Properties.StatusCode).toBe('400');
    expect(bad.Properties.ResponseTemplates['application/json']).toContain('$context.error.validationErrorString');
  });
});

describe('QueryApi options', () => {
  test('named clients get API keys in the usage plan, and methods then require a key', () => {
    const { templates } = synthStage('pilot', { configFile: writeConfig({ query: { clients: ['reporting', 'chat-ui'], clientDailyQuota: 5000 } }) });
    const t = templates['docai-pilot-app'];
    t.resourceCountIs('AWS::ApiGateway::ApiKey', 2);
    t.resourceCountIs('AWS::ApiGateway::UsagePlanKey', 2);
    t.hasResourceProperties('AWS::ApiGateway::UsagePlan', { Quota: { Limit: 5000, Period: 'DAY' } });
    for (const m of Object.values(t.findResources('AWS::ApiGateway::Method')) as any[]) if (m.Properties.HttpMethod === 'POST') expect(m.Properties.ApiKeyRequired).toBe(true);
  });
});

describe('ModelGateway', () => {
  const gateway = (promptsDir?: string, config = PILOT.gateway) => {
    const stack = new Stack(new App({ context: NO_BUNDLING }), 'G');
    return { stack, gw: new ModelGateway(stack, 'Gateway', { ...gatewayRouting(config), guardrail: gatewayGuardrail(config), budgetAlarmPercent: config.budgetAlarmPercent, namePrefix: 'docai-test', removalPolicy: RemovalPolicy.DESTROY, alarmTopic: new sns.Topic(stack, 'T'), promptsDir }) };
  };
  const prompts = (files: Record<string, string>) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'prompts-'));
    for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
    return dir;
  };

  test('the prompt template is a versioned parameter; a template without {documents} or over 4 KB is refused at synth', () => {
    const { stack } = gateway();
    Template.fromStack(stack).hasResourceProperties('AWS::SSM::Parameter', { Name: '/docai/test/prompts/answer', Type: 'String', Tier: 'Standard' });
    expect(() => gateway(prompts({ 'answer.json': JSON.stringify({ system: 's', user: 'Question: {question}' }) }))).toThrow(/"user" must contain \{documents\}/);
    expect(() => gateway(prompts({ 'answer.json': JSON.stringify({ system: 'x'.repeat(5000), user: '{documents} {question}' }) }))).toThrow(/a standard SSM parameter holds 4096/);
    expect(() => gateway(prompts({}))).toThrow(/has no prompt template: create .*answer.json/);
  });

  test('a change of the guardrail policy publishes a new guardrail version', () => {
    const versionIds = (config: typeof PILOT.gateway) => Object.keys(Template.fromStack(gateway(undefined, config).stack).findResources('AWS::Bedrock::GuardrailVersion'));
    const before = versionIds(PILOT.gateway);
    expect(before).toHaveLength(1);
    expect(versionIds(PILOT.gateway)).toEqual(before);
    expect(versionIds({ ...PILOT.gateway, guardrail: { ...PILOT.gateway.guardrail, personalData: 'BLOCK' } })).not.toEqual(before);
  });

  test('the guardrail blocks prompt attacks on input at the configured strength and handles personal data as configured', () => {
    const t = Template.fromStack(gateway().stack);
    const g = Object.values(t.findResources('AWS::Bedrock::Guardrail'))[0] as any;
    expect(g.Properties.ContentPolicyConfig.FiltersConfig).toContainEqual({ Type: 'PROMPT_ATTACK', InputStrength: 'HIGH', OutputStrength: 'NONE' });
    const pii = g.Properties.SensitiveInformationPolicyConfig.PiiEntitiesConfig;
    expect(pii).toContainEqual({ Type: 'EMAIL', Action: 'ANONYMIZE' });
    expect(pii).toContainEqual({ Type: 'AWS_SECRET_KEY', Action: 'BLOCK' });
  });

  test('the table: on demand, customer managed key, point-in-time recovery, TTL; a budget alarm per workflow at the configured percent', () => {
    const t = Template.fromStack(gateway().stack);
    t.hasResourceProperties('AWS::DynamoDB::Table', {
      BillingMode: 'PAY_PER_REQUEST', SSESpecification: Match.objectLike({ SSEEnabled: true, KMSMasterKeyId: Match.anyValue() }),
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true }, TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
    });
    t.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'BudgetUsedPercent', Dimensions: [{ Name: 'Workflow', Value: 'answer' }], Threshold: 80, ComparisonOperator: 'GreaterThanOrEqualToThreshold' });
  });

  test('a chain naming the generation endpoint needs one at grantUse', () => {
    const config = { ...PILOT.gateway, workflows: { answer: { ...PILOT.gateway.workflows.answer, models: ['lmi-primary', 'bedrock-nova-lite'] } } };
    const { stack, gw } = gateway(undefined, config);
    const fn = new lambda.Function(stack, 'F', { runtime: lambda.Runtime.PYTHON_3_13, handler: 'x.handler', code: lambda.Code.fromInline('x') });
    expect(() => gw.grantUse(fn, { workflows: ['answer'] })).toThrow(/uses lmi-primary \(the generation endpoint\), but no generation endpoint was passed/);
  });
});

describe('AuditStore', () => {
  test('every shipped query is a parameterized SELECT on the requests table', () => {
    const queries = AuditStore.savedQueries();
    expect(Object.keys(queries).sort()).toEqual(['what-did-a-user-ask-on-a-day', 'which-requests-saw-a-document']);
    for (const q of Object.values(queries)) {
      expect(q.sql).toMatch(/^SELECT /);
      expect(q.sql).toContain('FROM requests');
      expect(q.sql).toContain('?');
      expect(q.description.length).toBeGreaterThan(40);
    }
  });

  test('records expire a day after their lock ends, never before', () => {
    const stack = new Stack(new App(), 'A');
    const logs = new s3.Bucket(stack, 'Logs');
    new AuditStore(stack, 'Audit', { retention: Duration.days(30), lockMode: AuditLockMode.COMPLIANCE, removalPolicy: RemovalPolicy.RETAIN, accessLogBucket: logs, namePrefix: 'docai-test' });
    Template.fromStack(stack).hasResourceProperties('AWS::S3::Bucket', {
      LifecycleConfiguration: { Rules: Match.arrayWith([Match.objectLike({ Id: 'expire-after-retention', ExpirationInDays: 31 })]) },
    });
  });
});

function writeConfig(value: unknown): string {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'cfg-')), 'config.json');
  fs.writeFileSync(file, JSON.stringify(value));
  return file;
}


describe('IAM authorization for service callers', () => {
  test('methods use AWS_IAM, no user pool is created, callers get the configured tier, and every pack passes', () => {
    const { templates } = synthStage('pilot', { configFile: writeConfig({ query: { authorization: 'iam', iamCallerTier: 'internal' } }) }, { rulePacks: true });
    const t = templates['docai-pilot-app'];
    for (const m of Object.values(t.findResources('AWS::ApiGateway::Method')) as any[]) if (m.Properties.HttpMethod === 'POST') expect(m.Properties.AuthorizationType).toBe('AWS_IAM');
    t.resourceCountIs('AWS::Cognito::UserPool', 0);
    t.resourceCountIs('AWS::ApiGateway::Authorizer', 0);
    const query = (Object.values(t.findResources('AWS::Lambda::Function')) as any[]).find((f) => f.Properties.Handler === 'query_handler.handler');
    expect(query.Properties.Environment.Variables.IAM_CALLER_TIER).toBe('internal');
    // Every IAM caller has that one tier: the retrieve function takes it from its own environment and
    // its role may connect as that tier's reader user only (issue 25, item 4).
    const [retrieveId, retrieve] = (Object.entries(t.findResources('AWS::Lambda::Function')) as [string, any][]).find(([, f]) => f.Properties.Handler === 'retrieve_handler.handler')!;
    expect(retrieve.Properties.Environment.Variables).toMatchObject({ TIER_SOURCE: 'iam', IAM_CALLER_TIER: 'internal' });
    const role = retrieve.Properties.Role['Fn::GetAtt'][0];
    const users = (Object.values(t.findResources('AWS::IAM::ManagedPolicy')) as any[]).concat(Object.values(t.findResources('AWS::IAM::Policy')))
      .filter((p) => JSON.stringify(p.Properties.Roles ?? []).includes(role))
      .flatMap((p) => p.Properties.PolicyDocument.Statement).filter((st: any) => st.Action === 'rds-db:connect')
      .flatMap((st: any) => [st.Resource].flat()).map((r: unknown) => JSON.stringify(r).match(/\/(docai_[a-z_]+)/)?.[1]);
    expect(retrieveId).toBeDefined();
    expect(users).toEqual(['docai_reader_internal']);
    t.resourceCountIs('Custom::CognitoJwks', 0);
  });
});

describe('a chain through this stage\'s generation endpoint', () => {
  test('the query function may invoke the generation endpoint and its inference component (the call names both)', () => {
    const { templates, stacks } = synthStage('pilot', { generationEnabled: 'true', configFile: writeConfig({ gateway: { workflows: { answer: { models: ['lmi-primary', 'bedrock-nova-lite'] } } } }) });
    const gen = stacks.inference.generation!;
    expect(gen.inferenceComponentName).toBeDefined();
    const t = templates['docai-pilot-app'].toJSON();
    const role = Object.keys(t.Resources).find((k) => k.startsWith('QueryServiceRole'))!;
    const statements = Object.values<any>(t.Resources).filter((r) => r.Type === 'AWS::IAM::ManagedPolicy' && JSON.stringify(r.Properties.Roles ?? []).includes(role))
      .flatMap((p) => p.Properties.PolicyDocument.Statement).filter((s: any) => s.Action === 'sagemaker:InvokeEndpoint');
    const resources = JSON.stringify(statements.map((s: any) => s.Resource));
    expect(resources).toContain(`:endpoint/${gen.endpointName.toLowerCase()}`);
    expect(resources).toContain(`:inference-component/${gen.inferenceComponentName!.toLowerCase()}`);
  });
});
