import { CfnOutput, CustomResource, Duration, RemovalPolicy, Stack, Names, Token } from 'aws-cdk-lib';
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
import { allowCloudWatchLogs, createDataKey } from '../common/keys';
import { invokeEndpointStatement } from '../common/least-privilege';
import { DocaiMetricFactory } from '../common/metric-factory';
import { FunctionPlacement } from '../common/placement';
import { DocaiFunction } from '../common/python-function';
// The same endpoint handle as the pipeline's Embed step: questions are embedded with the documents' model.
import { EmbeddingEndpointRef } from '../document-pipeline/document-pipeline';
import { GenerationEndpointRef, IModelGateway } from '../model-gateway';
import { ACCESS_TIERS, AccessTier, DATABASE_ROLES, IVectorDatabase } from '../vector-database';
import { IAuditStore } from './audit-store';
import { ENV, QUERY_LIMITS } from '../contract';

/** Steps whose latency the handler reports (EMF `Latency.<step>`, Workflow dimension). */
const QUERY_STEPS = ['embed', 'retrieve', 'generate', 'audit', 'total'];

/** How callers authenticate. */
export enum QueryAuthorization {
  /** People sign in to a Cognito user pool; their tier comes from its groups. */
  COGNITO = 'cognito',
  /** Service callers sign requests with SigV4; they all get `iamCallerTier`. */
  IAM = 'iam',
}

/** Stage-wide API Gateway throttling, also the usage plan's. */
export interface QueryApiThrottle {
  /** Requests per second. */
  readonly rateLimit: number;
  readonly burstLimit: number;
}

/** Alarm thresholds of the API. */
export interface QueryApiAlarmThresholds {
  /** Percent of requests answering 5xx. @default 5 */
  readonly error5xxPercent?: number;
  /** p95 latency in milliseconds. @default 10000 */
  readonly p95LatencyMs?: number;
}

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
  /** Searched as the caller's tier (the retrieve function logs in as that tier's reader role). */
  readonly database: IVectorDatabase;
  /** Every model call of the query function goes through it (its `answer` workflow). */
  readonly gateway: IModelGateway;
  /** One record per request. */
  readonly audit: IAuditStore;
  readonly embedding: EmbeddingEndpointRef;
  /** The endpoint behind the gateway's SAGEMAKER_LMI models. @default - none (a chain naming one is refused) */
  readonly generation?: GenerationEndpointRef;
  /** A user pool of the caller's; @default - the construct creates one (MFA required, groups per tier) */
  readonly userPool?: cognito.IUserPool;
  /**
   * Hosted-UI sign-in for the created app client: the authorization-code flow only (no implicit
   * grant), scopes `openid` and `email`, redirecting to these URLs.
   * @default - no OAuth flow: users sign in with SRP (InitiateAuth) and send the ID token
   */
  readonly oAuthCallbackUrls?: string[];
  /** Cognito group -> access tier. The caller's highest tier applies; no group, no access (403). */
  readonly tierGroups: Readonly<Record<string, AccessTier>>;
  /** @default QueryAuthorization.COGNITO */
  readonly authorization?: QueryAuthorization;
  /** Tier of IAM-authorized callers. @default 'public' */
  readonly iamCallerTier?: AccessTier;
  /** REGIONAL, or PRIVATE (reachable only through an execute-api VPC endpoint: `vpcEndpoints`). @default REGIONAL */
  readonly endpointType?: apigw.EndpointType;
  /** @default - none (a REGIONAL API needs none) */
  readonly vpcEndpoints?: ec2.IInterfaceVpcEndpoint[];
  /** Chunks retrieved when the request names no topK. @default 6 */
  readonly defaultTopK?: number;
  /** The largest topK a request may ask for. @default 20 */
  readonly maxTopK?: number;
  /** @default - 10 requests per second, burst 20 */
  readonly throttle?: QueryApiThrottle;
  /** Named API clients, each with an API key in the usage plan (per-client throttling and quota); methods then require a key. @default - none, no key required */
  readonly clients?: string[];
  /** Daily request quota per client. @default - no quota */
  readonly clientDailyQuota?: number;
  /** WAF: requests per 5 minutes from one IP before it is blocked. @default 1000 */
  readonly wafRateLimitPer5Minutes?: number;
  /**
   * Create API Gateway's account-level CloudWatch Logs role (AWS::ApiGateway::Account, one per account
   * and region: it replaces whatever role the account had). @default false - the account must have one
   */
  readonly ownAccountLoggingRole?: boolean;
  /** @default logs.RetentionDays.ONE_YEAR */
  readonly logRetention?: logs.RetentionDays;
  /**
   * The WAF log group's name; WAF requires the `aws-waf-logs-` prefix
   * (https://docs.aws.amazon.com/waf/latest/developerguide/logging-cw-logs.html). A second QueryApi in
   * one stack must set it.
   * @default `aws-waf-logs-<stack name>`
   */
  readonly wafLogGroupName?: string;
  /** Encrypts the API's log groups. @default - a new customer managed key */
  readonly encryptionKey?: kms.IKey;
  /** @default - the alarms have no action */
  readonly alarmTopic?: sns.ITopic;
  /** @default - 5% 5xx, p95 10 s */
  readonly alarms?: QueryApiAlarmThresholds;
}

/**
 * The read side's front door: a REST API (POST /query, POST /search) with Cognito (or IAM)
 * authorization, JSON-schema request validation, throttling and usage plans, KMS-encrypted access
 * logs, X-Ray, a WAF web ACL; the query function (tier from the verified identity, the model gateway,
 * the audit record) and the retrieve function (in the VPC, logs in as the tier's reader role).
 */
export class QueryApi extends Construct {
  /** Steps whose latency the query function reports (metricLatency). */
  public static readonly STEPS: string[] = [...QUERY_STEPS];

  public readonly api: apigw.RestApi;
  /** The user pool callers sign in to (authorization `cognito`); none with IAM authorization. */
  public readonly userPool?: cognito.IUserPool;
  public readonly userPoolClient?: cognito.UserPoolClient;
  public readonly queryFunction: DocaiFunction;
  public readonly retrieveFunction: DocaiFunction;
  public readonly webAcl: wafv2.CfnWebACL;
  public readonly alarms: cloudwatch.Alarm[] = [];
  public readonly accessLogs: logs.LogGroup;
  public readonly gateway: IModelGateway;
  private readonly metrics: DocaiMetricFactory;
  private defaultWafLogs = false;

  constructor(scope: Construct, id: string, props: QueryApiProps) {
    super(scope, id);
    this.metrics = DocaiMetricFactory.of(this);
    this.gateway = props.gateway;
    const defaultTopK = props.defaultTopK ?? 6;
    const maxTopK = props.maxTopK ?? 20;
    const throttle = props.throttle ?? { rateLimit: 10, burstLimit: 20 };
    const logRetention = props.logRetention ?? logs.RetentionDays.ONE_YEAR;
    const encryptionKey = props.encryptionKey ?? createDataKey(this, 'Key', { description: 'Encrypts the query API\'s logs', removalPolicy: RemovalPolicy.DESTROY });
    if (!props.encryptionKey) allowCloudWatchLogs(encryptionKey);
    if (!Token.isUnresolved(defaultTopK) && !Token.isUnresolved(maxTopK) && (defaultTopK < 1 || defaultTopK > maxTopK)) {
      throw new Error(`QueryApi: defaultTopK is ${defaultTopK}; it must be from 1 to maxTopK (${maxTopK})`);
    }
    for (const [group, tier] of Object.entries(props.tierGroups)) {
      if (!(ACCESS_TIERS as readonly string[]).includes(tier)) throw new Error(`QueryApi: tierGroups.${group} = "${tier}"; tiers: ${ACCESS_TIERS.join(', ')}`);
    }
    const authorization = props.authorization ?? QueryAuthorization.COGNITO;

    // --- functions ---
    this.retrieveFunction = new DocaiFunction(this, 'Retrieve', {
      folder: 'query', index: 'retrieve_handler.py', description: 'Query API: vector search as the caller\'s tier (row-level security)',
      // 25 s: long enough to wait out a typical resume of an auto-paused database (~15 s, AWS:
      // https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-serverless-v2-auto-pause.html) within
      // the query function's 28 s, so the first search after a pause is answered instead of a 503.
      timeout: Duration.seconds(25), memorySize: 512, workflow: 'query',
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
        [ENV.EMBEDDING_ENDPOINT]: props.embedding.endpointName,
        [ENV.EMBEDDING_INFERENCE_COMPONENT]: props.embedding.inferenceComponentName ?? '',
        [ENV.EMBEDDING_DIMENSION]: String(props.embedding.dimension),
        [ENV.EMBEDDING_USD_PER_MILLION_TOKENS]: String(props.embedding.usdPerMillionTokens ?? 0),
        RETRIEVE_FUNCTION: this.retrieveFunction.functionName,
        AUDIT_BUCKET: props.audit.bucketName,
        [ENV.TIER_GROUPS]: JSON.stringify(tierMap),
        DEFAULT_TOP_K: String(defaultTopK),
        MAX_TOP_K: String(maxTopK),
      },
      ...props.placement,
      ...(props.placement.apiOnlyFunctionsInVpc === false ? { outsideVpc: { reason: 'It calls only AWS APIs (SageMaker runtime, Bedrock runtime, Lambda, DynamoDB, SSM, S3); the database is reached through the retrieve function, which runs in the VPC.' } } : {}),
    });
    // The function itself, not its versions/aliases (grantInvoke would add `<arn>:*`).
    this.queryFunction.addToRolePolicy(new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [this.retrieveFunction.functionArn] }));
    const gatewayUse = { workflows: ['answer'], generation: props.generation };
    for (const [k, v] of Object.entries(props.gateway.gatewayEnvironment(this.queryFunction, gatewayUse))) this.queryFunction.addEnvironment(k, v);
    props.gateway.grantUse(this.queryFunction, gatewayUse);
    this.queryFunction.addToRolePolicy(invokeEndpointStatement(this, props.embedding));
    // Append-only: the function may write records, never read, overwrite-protect-bypass or delete them.
    props.audit.grantWriteRecords(this.queryFunction);

    // --- API ---
    this.accessLogs = new logs.LogGroup(this, 'AccessLogs', { encryptionKey, retention: logRetention, removalPolicy: props.placement.logRemovalPolicy ?? RemovalPolicy.DESTROY });
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
        throttlingRateLimit: throttle.rateLimit,
        throttlingBurstLimit: throttle.burstLimit,
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
    if (authorization === QueryAuthorization.COGNITO) {
      const created = props.userPool ? undefined : this.createUserPool(Object.keys(props.tierGroups), props.userPoolRemovalPolicy ?? RemovalPolicy.RETAIN);
      const pool = props.userPool ?? created!;
      this.userPool = pool;
      authorizer = new apigw.CognitoUserPoolsAuthorizer(this, 'Authorizer', { cognitoUserPools: [pool], identitySource: 'method.request.header.Authorization' });
      if (created) { // a pool passed in keeps its own app clients
        this.userPoolClient = created.addClient('Client', {
          authFlows: { userSrp: true }, preventUserExistenceErrors: true, generateSecret: false,
          // CDK's default client enables the implicit grant, every scope (aws.cognito.signin.user.admin
          // included) and the callback https://example.com: only the code flow, and only when asked.
          ...(props.oAuthCallbackUrls?.length
            ? { oAuth: { flows: { authorizationCodeGrant: true }, scopes: [cognito.OAuthScope.OPENID, cognito.OAuthScope.EMAIL], callbackUrls: props.oAuthCallbackUrls } }
            : { disableOAuth: true }),
          accessTokenValidity: Duration.hours(1), idTokenValidity: Duration.hours(1), refreshTokenValidity: Duration.days(1),
        });
      }
      this.trustCallerTokens(pool, props);
      new CfnOutput(this, 'UserPoolId', { value: pool.userPoolId, description: 'Query API users: add each to one tier group (aws cognito-idp admin-add-user-to-group)' });
      if (this.userPoolClient) new CfnOutput(this, 'UserPoolClientId', { value: this.userPoolClient.userPoolClientId, description: 'App client for sign-in (SRP); the ID token goes in the Authorization header' });
    } else {
      this.queryFunction.addEnvironment(ENV.IAM_CALLER_TIER, props.iamCallerTier ?? 'public');
      this.retrieveFunction.addEnvironment(ENV.TIER_SOURCE, 'iam');
      this.retrieveFunction.addEnvironment(ENV.IAM_CALLER_TIER, props.iamCallerTier ?? 'public');
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
          question: { type: apigw.JsonSchemaType.STRING, minLength: 1, maxLength: QUERY_LIMITS.maxQuestionChars },
          topK: { type: apigw.JsonSchemaType.INTEGER, minimum: 1, maximum: maxTopK },
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
      authorizationType: authorization === QueryAuthorization.COGNITO ? apigw.AuthorizationType.COGNITO : apigw.AuthorizationType.IAM,
      requestValidator: validator,
      requestModels: { 'application/json': model },
      apiKeyRequired: clients.length > 0,
    };
    for (const path of ['query', 'search']) {
      const method = this.api.root.addResource(path).addMethod('POST', integration, methodOptions);
      if (authorization === QueryAuthorization.IAM) {
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
      throttle: { rateLimit: throttle.rateLimit, burstLimit: throttle.burstLimit },
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
          statement: { rateBasedStatement: { limit: props.wafRateLimitPer5Minutes ?? 1000, aggregateKeyType: 'IP', evaluationWindowSec: 300 } },
        },
      ],
    });
    new wafv2.CfnWebACLAssociation(this, 'WebAclAssociation', { resourceArn: this.api.deploymentStage.stageArn, webAclArn: this.webAcl.attrArn });
    // WAF logs to a log group whose name starts with aws-waf-logs- (https://docs.aws.amazon.com/waf/latest/developerguide/logging-cw-logs.html).
    const wafLogGroupName = props.wafLogGroupName ?? this.defaultWafLogGroupName();
    if (!Token.isUnresolved(wafLogGroupName) && !wafLogGroupName.startsWith('aws-waf-logs-')) {
      throw new Error(`QueryApi: wafLogGroupName "${wafLogGroupName}" must start with aws-waf-logs- (WAF logs only to such log groups)`);
    }
    const wafLogs = new logs.LogGroup(this, 'WafLogs', { logGroupName: wafLogGroupName, encryptionKey, retention: logRetention, removalPolicy: props.placement.logRemovalPolicy ?? RemovalPolicy.DESTROY });
    new wafv2.CfnLoggingConfiguration(this, 'WafLogging', { resourceArn: this.webAcl.attrArn, logDestinationConfigs: [wafLogs.logGroupArn] });

    // --- alarms ---
    const alarm = (alarmId: string, metric: cloudwatch.IMetric, threshold: number, description: string) => {
      const a = new cloudwatch.Alarm(this, alarmId, { metric, threshold, evaluationPeriods: 3, datapointsToAlarm: 2, comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD, treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING, alarmDescription: description });
      if (props.alarmTopic) a.addAlarmAction(new cwActions.SnsAction(props.alarmTopic));
      this.alarms.push(a);
    };
    const error5xxPercent = props.alarms?.error5xxPercent ?? 5;
    const p95LatencyMs = props.alarms?.p95LatencyMs ?? 10000;
    alarm('Error5xxRate', this.metricApi5xxRate(), error5xxPercent, `More than ${error5xxPercent}% of query API requests answer 5xx: see the query function's logs (request id) and the audit records' outcome.`);
    alarm('LatencyP95', this.metricApiLatency({ statistic: 'p95' }), p95LatencyMs, `Query API p95 latency is above ${p95LatencyMs} ms: the dashboard's query row shows which step (embed, retrieve, generate).`);
  }

  /** The stack's name, once per stack: a second QueryApi would collide with the first one's log group. */
  private defaultWafLogGroupName(): string {
    const stack = Stack.of(this);
    const others = stack.node.findAll().filter((c) => c !== this && c instanceof QueryApi && (c as QueryApi).defaultWafLogs);
    if (others.length > 0) throw new Error(`QueryApi ${this.node.path}: ${others[0].node.path} already logs WAF to aws-waf-logs-${stack.stackName}; set wafLogGroupName (aws-waf-logs-...) on one of them`);
    this.defaultWafLogs = true;
    return `aws-waf-logs-${stack.stackName}`.slice(0, 512);
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
    this.retrieveFunction.addEnvironment(ENV.TIER_SOURCE, 'cognito');
    this.retrieveFunction.addEnvironment(ENV.JWKS, keys.getAttString('Jwks'));
    this.retrieveFunction.addEnvironment('TOKEN_ISSUER', `https://${pool.userPoolProviderName}`);
    // A pool passed in keeps its own app clients, which this construct cannot name: any client of the pool.
    this.retrieveFunction.addEnvironment('TOKEN_AUDIENCES', this.userPoolClient ? `["${this.userPoolClient.userPoolClientId}"]` : '[]');
    this.retrieveFunction.addEnvironment(ENV.TIER_GROUPS, JSON.stringify({ ...props.tierGroups }));
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

  /** An API Gateway metric of this API's stage (AWS/ApiGateway, ApiName and Stage). */
  public metricApi(metricName: string, props: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return this.metrics.awsMetric('AWS/ApiGateway', metricName, { ApiName: this.api.restApiName, Stage: this.api.deploymentStage.stageName }, props);
  }

  /** Requests API Gateway received (Sum). */
  public metricApiCount(props: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return this.metricApi('Count', { statistic: 'Sum', ...props });
  }

  /** Requests answered 5xx by API Gateway or the function (Sum). */
  public metricApi5xxErrors(props: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return this.metricApi('5XXError', { statistic: 'Sum', ...props });
  }

  /** End-to-end latency as API Gateway measures it, milliseconds (Average unless told). */
  public metricApiLatency(props: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return this.metricApi('Latency', props);
  }

  /** Percent of requests answered 5xx. */
  public metricApi5xxRate(props: cloudwatch.MathExpressionOptions = {}): cloudwatch.MathExpression {
    return this.metrics.expression('100 * e / MAX([n, 1])', { e: this.metricApi5xxErrors(), n: this.metricApiCount() }, { label: '5xx %', ...props });
  }

  /** A metric the query function emits for `workflow` (`answer` or `search`). */
  public metric(metricName: string, workflow: string, props: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return this.metrics.metric(metricName, { Workflow: workflow }, props);
  }

  /** Requests the query function handled (Sum). */
  public metricRequests(workflow: string, props: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return this.metric('Requests', workflow, { statistic: 'Sum', ...props });
  }

  /** Requests answered 4xx by the function (Sum). */
  public metricErrors4xx(workflow: string, props: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return this.metric('Errors4xx', workflow, { statistic: 'Sum', ...props });
  }

  /** Requests answered 5xx by the function (Sum). */
  public metricErrors5xx(workflow: string, props: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return this.metric('Errors5xx', workflow, { statistic: 'Sum', ...props });
  }

  /** Answers marked degraded (a fallback model, a cached answer, or sources only; Sum). */
  public metricDegradedAnswers(props: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return this.metric('DegradedAnswers', 'answer', { statistic: 'Sum', ...props });
  }

  /** Latency of one step of a request (one of QueryApi.STEPS), milliseconds. */
  public metricLatency(step: string, props: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    if (!QUERY_STEPS.includes(step)) throw new Error(`QueryApi.metricLatency: step "${step}"; the handler reports ${QUERY_STEPS.join(', ')}`);
    return this.metric(`Latency.${step}`, 'answer', props);
  }

  /** Records that could not be written to the audit store (Sum). */
  public metricAuditFailures(workflow: string, props: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return this.metric('AuditFailures', workflow, { statistic: 'Sum', ...props });
  }

  /** The query API's dashboard row: requests, errors, degraded answers, latency per step, tokens and spend. */
  public dashboardWidgets(): cloudwatch.IWidget[] {
    const workflows = ['answer', 'search'];
    const label = (workflow: string, metricName: string) => ({ label: `${workflow} ${metricName}` });
    const gw = this.gateway;
    return [
      new cloudwatch.GraphWidget({
        title: 'Query API: requests, 4xx, 5xx, degraded answers',
        left: workflows.flatMap((w) => [this.metricRequests(w, label(w, 'Requests')), this.metricErrors4xx(w, label(w, 'Errors4xx')), this.metricErrors5xx(w, label(w, 'Errors5xx'))]),
        right: [this.metricDegradedAnswers(label('answer', 'DegradedAnswers'))],
        width: 8,
      }),
      ...(['p50', 'p95', 'p99'] as const).map((p) => new cloudwatch.GraphWidget({
        title: `Query API latency ${p} per step (ms)`,
        left: QUERY_STEPS.map((s) => this.metricLatency(s, { statistic: p, label: s })),
        width: 8,
      })),
      new cloudwatch.GraphWidget({
        title: 'Answers: tokens in/out and estimated spend (USD)',
        left: ['TokensIn', 'TokensOut'].map((m) => gw.metric(m, 'answer', { statistic: 'Sum', ...label('answer', m) })),
        right: [gw.metric('EstimatedSpendUsd', 'answer', { statistic: 'Sum', ...label('answer', 'EstimatedSpendUsd') })],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Gateway: cache hits/misses, fallbacks, guardrail blocks, budget rejections',
        left: ['CacheHits', 'CacheMisses', 'Fallbacks', 'Degraded', 'GuardrailBlocks', 'BudgetRejections'].map((m) => gw.metric(m, 'answer', { statistic: 'Sum', ...label('answer', m) })),
        right: [gw.metricCacheHitRatio('answer'), gw.metricBudgetUsedPercent('answer', { label: 'budget used %' })],
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
