import { CfnOutput, CustomResource, Duration, RemovalPolicy, Stack, Names } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as wafv2 from 'aws-cdk-lib/aws-wafv2';
import { Construct } from 'constructs';
import { acknowledge } from '../common/acknowledge';
import { grantKey, grantObjects, invokeEndpointStatement, S3_OBJECT_ACTIONS } from '../common/least-privilege';
import { FunctionPlacement } from '../common/placement';
import { DocaiFunction } from '../common/python-function';
import { metricDimensions } from '../common/metric-dimensions';
import { GenerationEndpointRef, ModelGateway } from '../model-gateway';
import { ACCESS_TIERS, AccessTier, DATABASE_ROLES, VectorDatabase } from '../vector-database';
import { AuditStore } from './audit-store';

/** Steps whose latency the handler reports (EMF `Latency.<step>`, Workflow dimension). */
export const QUERY_STEPS = ['embed', 'retrieve', 'generate', 'audit', 'total'] as const;

export interface QueryApiProps {
  /**
   * The REST API's name: API Gateway keys its metrics by ApiName and Stage, so two APIs of one name
   * in an account share their alarms. Also the web ACL's metric name.
   * @default - the construct's unique name in the app
   */
  readonly apiName?: string;
  /**
   * What happens to the created user pool (and its users) when the stack is deleted.
   * @default RemovalPolicy.RETAIN, with deletion protection
   */
  readonly userPoolRemovalPolicy?: RemovalPolicy;
  readonly placement: FunctionPlacement;
  readonly database: VectorDatabase;
  readonly gateway: ModelGateway;
  readonly audit: AuditStore;
  /** The embedding endpoint the question is embedded with (the same model as the documents). */
  readonly embedding: { readonly endpointName: string; readonly inferenceComponentName?: string; readonly dimension: number; readonly modelId?: string; readonly usdPerMillionTokens?: number };
  readonly generation?: GenerationEndpointRef;
  /** A user pool of the caller's; @default - the construct creates one (MFA required, groups per tier) */
  readonly userPool?: cognito.IUserPool;
  /** Cognito group -> access tier. The caller's highest tier applies; no group, no access (403). */
  readonly tierGroups: Readonly<Record<string, AccessTier>>;
  /** `cognito` (people) or `iam` (service callers sign requests with SigV4; their tier: `iamCallerTier`). @default 'cognito' */
  readonly authorization?: 'cognito' | 'iam';
  /** Tier of IAM-authorized callers. @default 'public' */
  readonly iamCallerTier?: AccessTier;
  /** REGIONAL, or PRIVATE (reachable only through an execute-api VPC endpoint: `vpcEndpoints`). @default REGIONAL */
  readonly endpointType?: apigw.EndpointType;
  readonly vpcEndpoints?: ec2.IInterfaceVpcEndpoint[];
  readonly defaultTopK: number;
  readonly maxTopK: number;
  /** Stage-wide throttling (requests per second, burst). */
  readonly throttle: { readonly rateLimit: number; readonly burstLimit: number };
  /** Named API clients, each with an API key in the usage plan (per-client throttling and quota); methods then require a key. */
  readonly clients?: readonly string[];
  /** Daily request quota per client. */
  readonly clientDailyQuota?: number;
  /** WAF: requests per 5 minutes from one IP before it is blocked. */
  readonly wafRateLimitPer5Minutes: number;
  /**
   * Create API Gateway's account-level CloudWatch Logs role (AWS::ApiGateway::Account, one per account
   * and region: it replaces whatever role the account had). @default false - the account must have one
   */
  readonly ownAccountLoggingRole?: boolean;
  readonly logRetention: logs.RetentionDays;
  readonly encryptionKey: kms.IKey;
  readonly alarmTopic: sns.ITopic;
  readonly alarms: { readonly error5xxPercent: number; readonly p95LatencyMs: number };
}

/**
 * The read side's front door: a REST API (POST /query, POST /search) with Cognito (or IAM)
 * authorization, JSON-schema request validation, throttling and usage plans, KMS-encrypted access
 * logs, X-Ray, a WAF web ACL; the query function (tier from the verified identity, the model gateway,
 * the audit record) and the retrieve function (in the VPC, logs in as the tier's reader role).
 */
export class QueryApi extends Construct {
  public readonly api: apigw.RestApi;
  /** The user pool callers sign in to (authorization `cognito`); none with IAM authorization. */
  public readonly userPool?: cognito.IUserPool;
  public readonly userPoolClient?: cognito.UserPoolClient;
  public readonly queryFunction: DocaiFunction;
  public readonly retrieveFunction: DocaiFunction;
  public readonly webAcl: wafv2.CfnWebACL;
  public readonly alarms: cloudwatch.Alarm[] = [];
  public readonly accessLogs: logs.LogGroup;

  constructor(scope: Construct, id: string, props: QueryApiProps) {
    super(scope, id);
    const stack = Stack.of(this);
    for (const [group, tier] of Object.entries(props.tierGroups)) {
      if (!(ACCESS_TIERS as readonly string[]).includes(tier)) throw new Error(`QueryApi: tierGroups.${group} = "${tier}"; tiers: ${ACCESS_TIERS.join(', ')}`);
    }
    const authorization = props.authorization ?? 'cognito';

    // --- functions ---
    this.retrieveFunction = new DocaiFunction(this, 'Retrieve', {
      folder: 'query', index: 'retrieve_handler.py', description: 'Query API: vector search as the caller\'s tier (row-level security)',
      timeout: Duration.seconds(10), memorySize: 512, workflow: 'query',
      environment: {
        ...withoutUser(props.database.connectionEnvironment(DATABASE_ROLES.reader('public'))),
        // Only chunks of the model that embeds the questions are searched.
        ...(props.embedding.modelId ? { EMBEDDING_MODEL: props.embedding.modelId } : {}),
      },
      ...props.placement, securityGroups: [...props.placement.securityGroups, props.database.clientSecurityGroup],
    });
    // Reader users only: the query path can never log in as the writer. With IAM authorization every
    // caller has the one configured tier, so the role may connect as that tier's reader user only.
    const connectTiers: readonly AccessTier[] = authorization === 'iam' ? [props.iamCallerTier ?? 'public'] : ACCESS_TIERS;
    for (const tier of connectTiers) props.database.grantConnect(this.retrieveFunction, DATABASE_ROLES.reader(tier));

    const tierMap: Record<string, string> = { ...props.tierGroups };
    this.queryFunction = new DocaiFunction(this, 'Query', {
      folder: 'query', index: 'query_handler.py', description: 'Query API: POST /query and /search (tier from identity, model gateway, audit)',
      // API Gateway ends the integration at 29 s; the gateway's own deadline is shorter.
      timeout: Duration.seconds(28), memorySize: 1024, workflow: 'query',
      environment: {
        EMBEDDING_ENDPOINT: props.embedding.endpointName,
        EMBEDDING_INFERENCE_COMPONENT: props.embedding.inferenceComponentName ?? '',
        EMBEDDING_DIMENSION: String(props.embedding.dimension),
        EMBEDDING_USD_PER_MILLION_TOKENS: String(props.embedding.usdPerMillionTokens ?? 0),
        RETRIEVE_FUNCTION: this.retrieveFunction.functionName,
        AUDIT_BUCKET: props.audit.bucketName,
        TIER_GROUPS: JSON.stringify(tierMap),
        DEFAULT_TOP_K: String(props.defaultTopK),
        MAX_TOP_K: String(props.maxTopK),
      },
      ...props.placement,
      ...(props.placement.apiOnlyFunctionsInVpc === false ? { outsideVpc: { reason: 'It calls only AWS APIs (SageMaker runtime, Bedrock runtime, Lambda, DynamoDB, SSM, S3); the database is reached through the retrieve function, which runs in the VPC.' } } : {}),
    });
    // The function itself, not its versions/aliases (grantInvoke would add `<arn>:*`).
    this.queryFunction.addToRolePolicy(new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [this.retrieveFunction.functionArn] }));
    props.gateway.grantUse(this.queryFunction, { workflows: ['answer'], generation: props.generation });
    this.queryFunction.addToRolePolicy(invokeEndpointStatement(this, props.embedding));
    // Append-only: the function may write records, never read, overwrite-protect-bypass or delete them.
    grantObjects(this.queryFunction, { bucketName: props.audit.bucketNameForPolicies, keyPattern: 'audit/*', actions: S3_OBJECT_ACTIONS.write,
      why: 'one record per request, named by the date and the request id, which exist only at run time. Object Lock makes every record immutable once written. The bucket is named per deployment (its suffix is the data stack id, which this stack cannot name): the pattern matches only this deployment\'s audit trails.' });
    grantKey(this.queryFunction, props.audit.key, ['kms:GenerateDataKey']);

    // --- API ---
    this.accessLogs = new logs.LogGroup(this, 'AccessLogs', { encryptionKey: props.encryptionKey, retention: props.logRetention, removalPolicy: RemovalPolicy.DESTROY });
    const apiName = props.apiName ?? Names.uniqueResourceName(this, { maxLength: 128, separator: '-' });
    this.api = new apigw.RestApi(this, 'Api', {
      restApiName: apiName,
      description: 'docai query API: POST /query (answer with citations), POST /search (ranked chunks)',
      endpointConfiguration: { types: [props.endpointType ?? apigw.EndpointType.REGIONAL], vpcEndpoints: props.vpcEndpoints },
      ...(props.endpointType === apigw.EndpointType.PRIVATE ? {
        policy: new iam.PolicyDocument({ statements: [new iam.PolicyStatement({
          principals: [new iam.AnyPrincipal()], actions: ['execute-api:Invoke'], resources: ['execute-api:/*'],
          conditions: { StringEquals: { 'aws:SourceVpce': (props.vpcEndpoints ?? []).map((e) => e.vpcEndpointId) } },
        })] }),
      } : {}),
      // The stage's access logs need the account-level API Gateway CloudWatch Logs role (AWS::ApiGateway::Account,
      // one per account and region): created here only on request, else the preflight checks the account has one.
      ...(props.ownAccountLoggingRole ? { cloudWatchRole: true, cloudWatchRoleRemovalPolicy: RemovalPolicy.RETAIN } : { cloudWatchRole: false }),
      deploy: true,
      deployOptions: {
        stageName: 'v1',
        tracingEnabled: true,
        accessLogDestination: new apigw.LogGroupLogDestination(this.accessLogs),
        accessLogFormat: apigw.AccessLogFormat.custom(JSON.stringify({
          requestId: '$context.requestId', ip: '$context.identity.sourceIp', principal: '$context.authorizer.claims.sub', caller: '$context.identity.caller',
          requestTime: '$context.requestTime', httpMethod: '$context.httpMethod', resourcePath: '$context.resourcePath', status: '$context.status',
          responseLength: '$context.responseLength', latencyMs: '$context.responseLatency', integrationLatencyMs: '$context.integration.latency',
          wafStatus: '$context.waf.status', errorMessage: '$context.error.message', validationError: '$context.error.validationErrorString', apiKeyId: '$context.identity.apiKeyId',
        })),
        throttlingRateLimit: props.throttle.rateLimit,
        throttlingBurstLimit: props.throttle.burstLimit,
        metricsEnabled: true,
      },
      disableExecuteApiEndpoint: false,
    });
    if (props.ownAccountLoggingRole) {
      // The role API Gateway assumes for every API of the account and region (not only this one), so
      // it cannot be scoped to this stage's log groups.
      acknowledge(this.api.node.findChild('CloudWatchRole'), ['AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]'],
        'The account-level API Gateway logging role (query.apiGatewayAccountRole, requested by the operator): API Gateway uses it for every REST API of the account and region, ' +
          'whose log groups it creates itself, so a policy scoped to this stage would break the others. AmazonAPIGatewayPushToCloudWatchLogs is the policy AWS documents for it ' +
          '(https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-logging.html) and grants only CloudWatch Logs writes.');
    }
    acknowledge(this.api.deploymentStage, ['AwsSolutions::AwsSolutions-APIG6', 'NIST.800.53.R5::NIST.800.53.R5-APIGWExecutionLoggingEnabled', 'PCI.DSS.321::PCI.DSS.321-APIGWExecutionLoggingEnabled', 'HIPAA.Security::HIPAA.Security-APIGWExecutionLoggingEnabled', 'cdk-validator-cfnguard::api_gw_v1_execution_logging_enabled_check'],
      'Like the access log, execution logging needs the account-wide API Gateway CloudWatch role (AWS::ApiGateway::Account, one per account and region: ' +
        'query.apiGatewayAccountRole, else the preflight checks the account has one); it stays off because every request is recorded instead in the KMS-encrypted access log (request id, caller, status, latency, WAF status, ' +
        'validation error), in X-Ray, and in the audit trail (one Object Lock record per request).');
    acknowledge(this.api.deploymentStage, ['NIST.800.53.R5::NIST.800.53.R5-APIGWCacheEnabledAndEncrypted', 'HIPAA.Security::HIPAA.Security-APIGWCacheEnabledAndEncrypted', 'PCI.DSS.321::PCI.DSS.321-APIGWCacheEnabledAndEncrypted'],
      'No API Gateway cache on purpose: answers depend on the caller\'s tier (from the token) and POST bodies, which a stage cache would key wrongly and could serve across tiers. ' +
        'The model gateway caches answers itself, keyed by tier, filters, prompt version and model, in its KMS-encrypted table.');
    acknowledge(this.api.deploymentStage, ['NIST.800.53.R5::NIST.800.53.R5-APIGWSSLEnabled', 'HIPAA.Security::HIPAA.Security-APIGWSSLEnabled', 'PCI.DSS.321::PCI.DSS.321-APIGWSSLEnabled'],
      'Client certificates authenticate API Gateway to an HTTP backend; this API has no HTTP backend, only Lambda proxy integrations called through the Lambda API with IAM. Callers reach the API over TLS only.');

    // Authorization.
    let authorizer: apigw.IAuthorizer | undefined;
    if (authorization === 'cognito') {
      const created = props.userPool ? undefined : this.createUserPool(Object.keys(props.tierGroups), props.userPoolRemovalPolicy ?? RemovalPolicy.RETAIN);
      const pool = props.userPool ?? created!;
      this.userPool = pool;
      authorizer = new apigw.CognitoUserPoolsAuthorizer(this, 'Authorizer', { cognitoUserPools: [pool], identitySource: 'method.request.header.Authorization' });
      if (created) { // a pool passed in keeps its own app clients
        this.userPoolClient = created.addClient('Client', {
          authFlows: { userSrp: true }, preventUserExistenceErrors: true, generateSecret: false,
          accessTokenValidity: Duration.hours(1), idTokenValidity: Duration.hours(1), refreshTokenValidity: Duration.days(1),
        });
      }
      this.trustCallerTokens(pool, props);
      new CfnOutput(this, 'UserPoolId', { value: pool.userPoolId, description: 'Query API users: add each to one tier group (aws cognito-idp admin-add-user-to-group)' });
      if (this.userPoolClient) new CfnOutput(this, 'UserPoolClientId', { value: this.userPoolClient.userPoolClientId, description: 'App client for sign-in (SRP); the ID token goes in the Authorization header' });
    } else {
      this.queryFunction.addEnvironment('IAM_CALLER_TIER', props.iamCallerTier ?? 'public');
      this.retrieveFunction.addEnvironment('TIER_SOURCE', 'iam');
      this.retrieveFunction.addEnvironment('IAM_CALLER_TIER', props.iamCallerTier ?? 'public');
    }

    const validator = new apigw.RequestValidator(this, 'Validator', { restApi: this.api, validateRequestBody: true, validateRequestParameters: true });
    const model = this.api.addModel('QueryRequest', {
      contentType: 'application/json',
      modelName: 'QueryRequest',
      schema: {
        schema: apigw.JsonSchemaVersion.DRAFT4,
        type: apigw.JsonSchemaType.OBJECT,
        required: ['question'],
        additionalProperties: false,
        properties: {
          question: { type: apigw.JsonSchemaType.STRING, minLength: 1, maxLength: 2000 },
          topK: { type: apigw.JsonSchemaType.INTEGER, minimum: 1, maximum: props.maxTopK },
          filters: {
            type: apigw.JsonSchemaType.OBJECT,
            additionalProperties: false,
            properties: {
              documentType: { type: apigw.JsonSchemaType.STRING, minLength: 1, maxLength: 100 },
              dateFrom: { type: apigw.JsonSchemaType.STRING, pattern: '^\\d{4}-\\d{2}-\\d{2}$' },
              dateTo: { type: apigw.JsonSchemaType.STRING, pattern: '^\\d{4}-\\d{2}-\\d{2}$' },
            },
          },
        },
      },
    });
    // A 400 from the schema names the field: the validation error goes into the response body.
    this.api.addGatewayResponse('BadBody', {
      type: apigw.ResponseType.BAD_REQUEST_BODY,
      statusCode: '400',
      templates: { 'application/json': '{"error": "invalid_request", "message": "$context.error.validationErrorString", "requestId": "$context.requestId"}' },
    });
    // No test-invoke permissions: only the deployed stage may call the function.
    const integration = new apigw.LambdaIntegration(this.queryFunction, { proxy: true, timeout: Duration.seconds(29), allowTestInvoke: false });
    const clients = props.clients ?? [];
    const methodOptions: apigw.MethodOptions = {
      authorizer,
      authorizationType: authorization === 'cognito' ? apigw.AuthorizationType.COGNITO : apigw.AuthorizationType.IAM,
      requestValidator: validator,
      requestModels: { 'application/json': model },
      apiKeyRequired: clients.length > 0,
    };
    for (const path of ['query', 'search']) {
      const method = this.api.root.addResource(path).addMethod('POST', integration, methodOptions);
      if (authorization === 'iam') {
        acknowledge(method, ['AwsSolutions::AwsSolutions-COG4'],
          'IAM authorization (SigV4) on purpose, for service callers: API Gateway verifies each request\'s signature against the caller\'s IAM identity, which needs ' +
            'execute-api:Invoke on this method; there is no user pool and no token. All such callers get one tier (query.iamCallerTier), never one from the request.');
      }
      for (const permission of method.node.findAll().filter((c) => c.node.id.startsWith('ApiPermission'))) {
        acknowledge(permission, ['cdk-validator-cfnguard::lambda_function_public_access_prohibited_check'],
          'The principal is the API Gateway service with SourceArn set to this API\'s own POST method (arn:...:execute-api:<region>:<account>:<api-id>/*/POST/' + path + '), ' +
            'so no other API or account can invoke the function; the guard rule does not evaluate the Fn::Join that builds that ARN.');
      }
    }

    const plan = this.api.addUsagePlan('Plan', {
      description: 'Per-client throttling and quota',
      throttle: { rateLimit: props.throttle.rateLimit, burstLimit: props.throttle.burstLimit },
      ...(props.clientDailyQuota ? { quota: { limit: props.clientDailyQuota, period: apigw.Period.DAY } } : {}),
    });
    plan.addApiStage({ stage: this.api.deploymentStage });
    for (const client of clients) plan.addApiKey(this.api.addApiKey(`Key-${client}`, { description: `API key of client ${client}` }));

    // --- WAF ---
    const visibility = (name: string) => ({ cloudWatchMetricsEnabled: true, metricName: name, sampledRequestsEnabled: true });
    const managed = (name: string, priority: number): wafv2.CfnWebACL.RuleProperty => ({
      name, priority, overrideAction: { none: {} }, visibilityConfig: visibility(name),
      statement: { managedRuleGroupStatement: { vendorName: 'AWS', name } },
    });
    this.webAcl = new wafv2.CfnWebACL(this, 'WebAcl', {
      scope: 'REGIONAL',
      defaultAction: { allow: {} },
      visibilityConfig: visibility(apiName),
      rules: [
        managed('AWSManagedRulesCommonRuleSet', 0),
        managed('AWSManagedRulesKnownBadInputsRuleSet', 1),
        {
          name: 'RateLimitPerIp', priority: 2, action: { block: {} }, visibilityConfig: visibility('RateLimitPerIp'),
          statement: { rateBasedStatement: { limit: props.wafRateLimitPer5Minutes, aggregateKeyType: 'IP', evaluationWindowSec: 300 } },
        },
      ],
    });
    new wafv2.CfnWebACLAssociation(this, 'WebAclAssociation', { resourceArn: this.api.deploymentStage.stageArn, webAclArn: this.webAcl.attrArn });
    // WAF logs to a log group whose name starts with aws-waf-logs- (https://docs.aws.amazon.com/waf/latest/developerguide/logging-cw-logs.html).
    const wafLogs = new logs.LogGroup(this, 'WafLogs', { logGroupName: `aws-waf-logs-${stack.stackName}`.slice(0, 512), encryptionKey: props.encryptionKey, retention: props.logRetention, removalPolicy: RemovalPolicy.DESTROY });
    new wafv2.CfnLoggingConfiguration(this, 'WafLogging', { resourceArn: this.webAcl.attrArn, logDestinationConfigs: [wafLogs.logGroupArn] });

    // --- alarms ---
    const apiMetric = (metricName: string, statistic: string) => new cloudwatch.Metric({
      namespace: 'AWS/ApiGateway', metricName, statistic, period: Duration.minutes(5),
      dimensionsMap: { ApiName: this.api.restApiName, Stage: this.api.deploymentStage.stageName },
    });
    const rate5xx = new cloudwatch.MathExpression({ expression: '100 * e / MAX([n, 1])', usingMetrics: { e: apiMetric('5XXError', 'Sum'), n: apiMetric('Count', 'Sum') }, label: '5xx %', period: Duration.minutes(5) });
    const alarm = (alarmId: string, metric: cloudwatch.IMetric, threshold: number, description: string) => {
      const a = new cloudwatch.Alarm(this, alarmId, { metric, threshold, evaluationPeriods: 3, datapointsToAlarm: 2, comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD, treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING, alarmDescription: description });
      a.addAlarmAction(new cwActions.SnsAction(props.alarmTopic));
      this.alarms.push(a);
    };
    alarm('Error5xxRate', rate5xx, props.alarms.error5xxPercent, `More than ${props.alarms.error5xxPercent}% of query API requests answer 5xx: see the query function's logs (request id) and the audit records' outcome.`);
    alarm('LatencyP95', apiMetric('Latency', 'p95'), props.alarms.p95LatencyMs, `Query API p95 latency is above ${props.alarms.p95LatencyMs} ms: the dashboard's query row shows which step (embed, retrieve, generate).`);
  }

  /**
   * The retrieve function derives each caller's tier from the ID token itself (lambda/query/caller_token.py):
   * it gets the pool's signing keys, issuer, app client and group -> tier map here, from the template,
   * not from the query function. The keys are fetched at deploy time (custom resource, jwks_handler.py)
   * because the function's isolated subnets have no route to the pool's public jwks.json.
   */
  private trustCallerTokens(pool: cognito.IUserPool, props: QueryApiProps): void {
    const fetcher = new DocaiFunction(this, 'Jwks', {
      folder: 'query', index: 'jwks_handler.py', description: 'Query API: fetches the user pool\'s token signing keys (JWKS) at deploy time for the retrieve function',
      timeout: Duration.seconds(30), memorySize: 128, workflow: 'query',
      ...props.placement,
      outsideVpc: { reason: 'It makes one HTTPS GET, at deploy time, of the user pool\'s public signing keys (cognito-idp.<region>.amazonaws.com/<pool>/.well-known/jwks.json), which the isolated subnets cannot reach, and calls no AWS API.' },
    });
    const keys = new CustomResource(this, 'PoolKeys', {
      serviceToken: fetcher.functionArn, resourceType: 'Custom::CognitoJwks',
      properties: { JwksUrl: `https://${pool.userPoolProviderName}/.well-known/jwks.json` },
    });
    this.retrieveFunction.addEnvironment('TIER_SOURCE', 'cognito');
    this.retrieveFunction.addEnvironment('JWKS', keys.getAttString('Jwks'));
    this.retrieveFunction.addEnvironment('TOKEN_ISSUER', `https://${pool.userPoolProviderName}`);
    // A pool passed in keeps its own app clients, which this construct cannot name: any client of the pool.
    this.retrieveFunction.addEnvironment('TOKEN_AUDIENCES', this.userPoolClient ? `["${this.userPoolClient.userPoolClientId}"]` : '[]');
    this.retrieveFunction.addEnvironment('TIER_GROUPS', JSON.stringify({ ...props.tierGroups }));
  }

  private createUserPool(groups: string[], removalPolicy: RemovalPolicy): cognito.UserPool {
    const pool = new cognito.UserPool(this, 'Users', {
      selfSignUpEnabled: false,
      signInAliases: { email: true },
      mfa: cognito.Mfa.REQUIRED,
      mfaSecondFactor: { otp: true, sms: false },
      passwordPolicy: { minLength: 12, requireDigits: true, requireLowercase: true, requireUppercase: true, requireSymbols: true, tempPasswordValidity: Duration.days(3) },
      accountRecovery: cognito.AccountRecovery.EMAIL_ONLY,
      // Users and their group memberships are not recreated by a deploy: kept where the stage keeps data.
      deletionProtection: removalPolicy === RemovalPolicy.RETAIN,
      removalPolicy,
    });
    acknowledge(pool, ['AwsSolutions::AwsSolutions-COG3', 'AwsSolutions::AwsSolutions-COG8'],
      'Threat protection (advanced security) needs the Cognito Plus feature plan, priced per monthly active user; the API is protected by MFA (required, TOTP), no self sign-up, ' +
        'a WAF web ACL with a per-IP rate limit, and per-client usage plans. Turn it on by passing a user pool with the Plus plan (userPool prop).');
    for (const g of groups) new cognito.CfnUserPoolGroup(this, `Group-${g}`, { userPoolId: pool.userPoolId, groupName: g, description: `Access tier ${g}: the query API searches as this tier's database role` });
    return pool;
  }

  /** The query API's dashboard row: requests, errors, degraded answers, latency per step, tokens and spend. */
  public dashboardWidgets(): cloudwatch.IWidget[] {
    const custom = (metricName: string, workflow: string, statistic: string, label?: string) =>
      new cloudwatch.Metric({ namespace: 'DocAI', metricName, dimensionsMap: { Workflow: workflow, ...metricDimensions(this) }, statistic, period: Duration.minutes(5), label: label ?? `${workflow} ${metricName}` });
    const workflows = ['answer', 'search'];
    return [
      new cloudwatch.GraphWidget({ title: 'Query API: requests, 4xx, 5xx, degraded answers', left: workflows.flatMap((w) => [custom('Requests', w, 'Sum'), custom('Errors4xx', w, 'Sum'), custom('Errors5xx', w, 'Sum')]), right: [custom('DegradedAnswers', 'answer', 'Sum')], width: 8 }),
      ...(['p50', 'p95', 'p99'] as const).map((p) => new cloudwatch.GraphWidget({
        title: `Query API latency ${p} per step (ms)`,
        left: QUERY_STEPS.map((s) => custom(`Latency.${s}`, 'answer', p, s)),
        width: 8,
      })),
      new cloudwatch.GraphWidget({
        title: 'Answers: tokens in/out and estimated spend (USD)',
        left: [custom('TokensIn', 'answer', 'Sum'), custom('TokensOut', 'answer', 'Sum')],
        right: [custom('EstimatedSpendUsd', 'answer', 'Sum')],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Gateway: cache hits/misses, fallbacks, guardrail blocks, budget rejections',
        left: ['CacheHits', 'CacheMisses', 'Fallbacks', 'Degraded', 'GuardrailBlocks', 'BudgetRejections'].map((m) => custom(m, 'answer', 'Sum')),
        right: [
          new cloudwatch.MathExpression({ expression: '100 * h / MAX([h + m, 1])', usingMetrics: { h: custom('CacheHits', 'answer', 'Sum'), m: custom('CacheMisses', 'answer', 'Sum') }, label: 'cache hit ratio %', period: Duration.minutes(5) }),
          custom('BudgetUsedPercent', 'answer', 'Maximum', 'budget used %'),
        ],
        rightYAxis: { min: 0, max: 100, label: '%' },
        width: 8,
      }),
    ];
  }
}

/** The database address without a user: the retrieve function logs in as the tier of each request. */
function withoutUser(env: Record<string, string>): Record<string, string> {
  const { DB_USER: _unused, ...rest } = env;
  return rest;
}
