/**
 * The read side composed from imported handles (IModelGateway, IAuditStore, IVectorDatabase,
 * IInferenceEndpoint) gets exactly the grants the concrete constructs give, a brought user pool
 * creates no pool, and every metric method names the namespace and the dimensions emitted.
 */
import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { setMetricDimensions } from '../../lib/common/metric-dimensions';
import { PILOT } from '../../lib/config/presets';
import { GpuInferenceEndpoint } from '../../lib/gpu-inference';
import { IModelGateway, ModelGateway } from '../../lib/model-gateway';
import { AuditLockMode, AuditStore, IAuditStore, QueryApi, QueryApiProps } from '../../lib/query-api';
import { gatewayGuardrail, gatewayRouting } from '../../lib/stacks/read-side-props';
import { VectorDatabase } from '../../lib/vector-database';
import { newApp } from '../helpers';

function readSide() {
  const stack = new Stack(newApp(), 'R', { env: { account: '111111111111', region: 'eu-west-1' } });
  setMetricDimensions(stack, { Project: 'docai', Stage: 'test' });
  const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 0, subnetConfiguration: [{ name: 'isolated', subnetType: ec2.SubnetType.PRIVATE_ISOLATED }] });
  const key = new kms.Key(stack, 'FnKey');
  const placement = {
    vpc, vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED }, securityGroups: [new ec2.SecurityGroup(stack, 'Sg', { vpc })],
    encryptionKey: key, logRetention: logs.RetentionDays.ONE_MONTH, deadLetterQueue: new sqs.Queue(stack, 'Dlq'),
  };
  const database = VectorDatabase.fromVectorDatabaseAttributes(stack, 'Db', {
    hostname: 'db.example.internal', port: 5432, databaseName: 'docai', clusterResourceId: 'cluster-ABCDEFGHIJKL',
    clientSecurityGroup: new ec2.SecurityGroup(stack, 'DbClient', { vpc }),
  });
  const gateway = new ModelGateway(stack, 'Gateway', { ...gatewayRouting(PILOT.gateway), guardrail: gatewayGuardrail(PILOT.gateway), namePrefix: 'docai-test', removalPolicy: RemovalPolicy.DESTROY });
  const audit = new AuditStore(stack, 'Audit', { retention: Duration.days(30), lockMode: AuditLockMode.GOVERNANCE, accessLogBucket: new s3.Bucket(stack, 'Logs'), namePrefix: 'docai-test', namePerDeployment: false });
  const importedGateway = ModelGateway.fromModelGatewayAttributes(stack, 'ImportedGateway', {
    ...gateway.routing, tableArn: gateway.table.tableArn, encryptionKey: gateway.encryptionKey, promptPrefix: gateway.promptPrefix,
    guardrailId: gateway.guardrailId, guardrailVersion: gateway.guardrailVersion,
  });
  const importedAudit = AuditStore.fromAuditStoreAttributes(stack, 'ImportedAudit', {
    bucketName: audit.bucketName, bucketNameForPolicies: audit.bucketNameForPolicies, encryptionKey: audit.encryptionKey,
    databaseName: audit.databaseName, workgroupName: audit.workgroupName,
  });
  const api = (id: string, gw: IModelGateway, au: IAuditStore, extra: Partial<QueryApiProps> = {}) => new QueryApi(stack, id, {
    apiName: `docai-test-${id.toLowerCase()}`, placement, database, gateway: gw, audit: au,
    embedding: { endpointName: 'docai-test-embed', inferenceComponentName: 'docai-test-embed-ic', dimension: 1024 },
    tierGroups: { 'docai-public': 'public' }, ...extra,
  });
  return { stack, gateway, audit, importedGateway, importedAudit, api };
}

/** A token-free rendering of a policy resource: Ref/GetAtt as <id> / <id.attr>, joins joined. */
function render(v: unknown): string {
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) return v.map(render).join(',');
  const o = v as Record<string, any>;
  if (o.Ref) return o.Ref === 'AWS::Partition' ? 'aws' : o.Ref === 'AWS::Region' ? 'eu-west-1' : o.Ref === 'AWS::AccountId' ? '111111111111' : `<${o.Ref}>`;
  if (o['Fn::GetAtt']) return `<${o['Fn::GetAtt'].join('.')}>`;
  if (o['Fn::Join']) return o['Fn::Join'][1].map(render).join(o['Fn::Join'][0]);
  return JSON.stringify(o);
}

/** The statements of a function's role: sorted actions and rendered resources, sorted. */
function grants(t: any, roleId: string, normalize: (r: string) => string = (r) => r): string[] {
  const policies = Object.values<any>(t.Resources).filter((r) => (r.Type === 'AWS::IAM::Policy' || r.Type === 'AWS::IAM::ManagedPolicy') && JSON.stringify(r.Properties.Roles ?? []).includes(`"${roleId}"`));
  return policies.flatMap((p) => p.Properties.PolicyDocument.Statement).map((s: any) => JSON.stringify({
    actions: [s.Action].flat().sort(), resources: [s.Resource].flat().map((r: unknown) => normalize(render(r))).sort(), condition: s.Condition ?? null,
  })).sort();
}

function queryRole(t: any, apiId: string): string {
  const [id] = Object.entries<any>(t.Resources).find(([k, r]) => r.Type === 'AWS::IAM::Role' && k.startsWith(`${apiId}QueryServiceRole`))!;
  return id;
}

describe('QueryApi on imported handles', () => {
  const { stack, gateway, importedGateway, importedAudit, audit, api } = readSide();
  api('Concrete', gateway, audit);
  api('Imported', importedGateway, importedAudit, { wafLogGroupName: 'aws-waf-logs-imported' });
  const t = Template.fromStack(stack).toJSON();
  const param = Object.entries<any>(t.Resources).find(([, r]) => r.Type === 'AWS::SSM::Parameter')!;
  const guardrailId = Object.keys(t.Resources).find((k) => t.Resources[k].Type === 'AWS::Bedrock::Guardrail')!;
  // The concrete gateway names its prompt by Ref (the parameter's name) and the guardrail by its ARN
  // attribute; the imported one writes both ARNs out (the SSM and Bedrock ARN formats of the
  // Service Authorization Reference): the same resources.
  // Each function invokes its own retrieve function.
  const own = (r: string) => r.replace(/<(Concrete|Imported)Retrieve[0-9A-F]{8}\./, '<Retrieve.');
  const concrete = grants(t, queryRole(t, 'Concrete'), (r) => own(r)
    .replace(`<${param[0]}>`, param[1].Properties.Name)
    .replace(`<${guardrailId}.GuardrailArn>`, `arn:aws:bedrock:eu-west-1:111111111111:guardrail/<${guardrailId}.GuardrailId>`));
  const imported = grants(t, queryRole(t, 'Imported'), own);

  test('the query function is granted exactly the same statements', () => {
    expect(imported.length).toBeGreaterThan(8);
    expect(imported).toEqual(concrete);
  });

  test('the gateway\'s and the audit store\'s parts are all there: table items, its key, the prompt, the guardrail, the model, append-only records and their key', () => {
    const all = imported.join('\n');
    for (const want of [
      /"dynamodb:GetItem","dynamodb:PutItem","dynamodb:UpdateItem"\],"resources":\["<GatewayTable[^"]*\.Arn>"/,
      /"kms:Decrypt","kms:Encrypt","kms:GenerateDataKey"\],"resources":\["<GatewayKey[^"]*\.Arn>"/,
      /"ssm:GetParameter".*parameter\/docai\/test\/prompts\/answer/,
      /"bedrock:ApplyGuardrail"\],"resources":\["arn:aws:bedrock:eu-west-1:111111111111:guardrail\/<Gateway/,
      /"bedrock:InvokeModel"\],"resources":\[[^\]]*foundation-model\/amazon\.nova-lite-v1:0/,
      /"s3:PutObject"\],"resources":\["arn:aws:s3:::[^"]*\/audit\/\*"\]/,
      /"kms:GenerateDataKey"\],"resources":\["<AuditKey[^"]*\.Arn>"\]/,
    ]) expect(all).toMatch(want);
    expect(all).not.toMatch(/s3:(GetObject|DeleteObject|BypassGovernanceRetention|PutObjectRetention)/);
  });

  test('both functions find the gateway by the same environment', () => {
    const env = (apiId: string) => Object.entries<any>(t.Resources).find(([k, r]) => r.Type === 'AWS::Lambda::Function' && k.startsWith(`${apiId}Query`) && r.Properties.Handler === 'query_handler.handler')![1].Properties.Environment.Variables;
    // The imported table's name is read from its ARN.
    expect(JSON.stringify(env('Imported').GATEWAY_TABLE)).toMatch(/"Fn::Split":\["\/".*"Fn::GetAtt":\["GatewayTable3882D00B","Arn"\]/);
    expect(env('Concrete').GATEWAY_TABLE).toEqual({ Ref: 'GatewayTable3882D00B' });
    const keys = ['GATEWAY_CONFIG', 'GATEWAY_PROMPT_PREFIX', 'GATEWAY_GUARDRAIL_ID', 'GATEWAY_GUARDRAIL_VERSION', 'AUDIT_BUCKET'];
    const pick = (e: any) => Object.fromEntries(keys.map((k) => [k, e[k]]));
    expect(pick(env('Imported'))).toEqual(pick(env('Concrete')));
    expect(JSON.parse(env('Imported').GATEWAY_CONFIG).workflows.answer.models).toEqual(PILOT.gateway.workflows.answer.models);
  });
});

test('a second QueryApi in one stack must name its WAF log group', () => {
  const { gateway, audit, api } = readSide();
  api('First', gateway, audit);
  expect(() => api('Second', gateway, audit)).toThrow(/R\/First already logs WAF to aws-waf-logs-R; set wafLogGroupName/);
  expect(() => api('Third', gateway, audit, { wafLogGroupName: 'waf-third' })).toThrow(/wafLogGroupName "waf-third" must start with aws-waf-logs-/);
});

describe('a user pool brought by the caller', () => {
  test('creates no pool, no groups and no app client; the authorizer trusts the brought pool', () => {
    const { stack, gateway, audit, api } = readSide();
    const pool = cognito.UserPool.fromUserPoolId(stack, 'Theirs', 'eu-west-1_Abc123');
    const q = api('Byo', gateway, audit, { userPool: pool });
    const t = Template.fromStack(stack);
    t.resourceCountIs('AWS::Cognito::UserPool', 0);
    t.resourceCountIs('AWS::Cognito::UserPoolGroup', 0);
    t.resourceCountIs('AWS::Cognito::UserPoolClient', 0);
    expect(q.userPool).toBe(pool);
    expect(q.userPoolClient).toBeUndefined();
    const [authorizer] = Object.values<any>(t.findResources('AWS::ApiGateway::Authorizer'));
    expect(JSON.stringify(authorizer.Properties.ProviderARNs)).toContain('userpool/eu-west-1_Abc123');
  });

  test('without one, the construct creates its pool with a group per tier', () => {
    const { stack, gateway, audit, api } = readSide();
    api('Own', gateway, audit);
    Template.fromStack(stack).resourceCountIs('AWS::Cognito::UserPool', 1);
    Template.fromStack(stack).resourceCountIs('AWS::Cognito::UserPoolGroup', 1);
  });
});

describe('metric methods', () => {
  const { stack, gateway, importedGateway, audit, api } = readSide();
  const q = api('M', gateway, audit);
  const deployment = { Project: 'docai', Stage: 'test' };

  test('the query API\'s and the gateway\'s own metrics carry the DocAI namespace, the workflow and the deployment', () => {
    for (const m of [q.metricRequests('answer'), q.metricErrors5xx('answer'), q.metricLatency('total'), gateway.metricBudgetUsedPercent('answer'), importedGateway.metricFallbacks('answer')]) {
      expect({ ns: m.namespace, dims: m.dimensions }).toEqual({ ns: 'DocAI', dims: { Workflow: 'answer', ...deployment } });
    }
    expect(q.metricLatency('total').metricName).toBe('Latency.total');
    expect(() => q.metricLatency('rerank')).toThrow(/step "rerank"; the handler reports embed, retrieve, generate, audit, total/);
    expect(gateway.metricBudgetUsedPercent('answer').statistic).toBe('Maximum');
  });

  test('API Gateway\'s metrics name the API and stage, without deployment dimensions', () => {
    const m = q.metricApiLatency({ statistic: 'p95' });
    expect(m.namespace).toBe('AWS/ApiGateway');
    expect(Object.keys(m.dimensions!).sort()).toEqual(['ApiName', 'Stage']);
  });

  test('an endpoint with an inference component is watched per component; one without, per endpoint and variant', () => {
    const withIc = GpuInferenceEndpoint.fromInferenceEndpointAttributes(stack, 'E1', { endpointName: 'e', inferenceComponentName: 'e-ic' });
    const without = GpuInferenceEndpoint.fromInferenceEndpointAttributes(stack, 'E2', { endpointName: 'e' });
    expect(withIc.metricInvocation5xxErrors().dimensions).toEqual({ InferenceComponentName: 'e-ic' });
    expect(without.metricInvocation5xxErrors().dimensions).toEqual({ EndpointName: 'e', VariantName: 'AllTraffic' });
    expect(withIc.metricGpuUtilization().dimensions).toEqual({ EndpointName: 'e', VariantName: 'AllTraffic' });
    expect(withIc.metricGpuUtilization().namespace).toBe('/aws/sagemaker/Endpoints');
    expect(() => without.metricNoCapacityInvocationFailures()).toThrow(/per inference component, and this endpoint has none/);
  });
});
