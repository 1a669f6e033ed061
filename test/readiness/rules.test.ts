import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, CfnResource, Stack, Validations } from 'aws-cdk-lib';
import { CfnMethod, CfnMethodProps, CfnRestApi, CfnStage, CfnStageProps } from 'aws-cdk-lib/aws-apigateway';
import { CfnScalableTarget } from 'aws-cdk-lib/aws-applicationautoscaling';
import { CfnTable } from 'aws-cdk-lib/aws-dynamodb';
import { CfnWebACLAssociation } from 'aws-cdk-lib/aws-wafv2';
import { CfnBudget } from 'aws-cdk-lib/aws-budgets';
import { CfnAlarm } from 'aws-cdk-lib/aws-cloudwatch';
import { CfnInternetGateway } from 'aws-cdk-lib/aws-ec2';
import { CfnKey } from 'aws-cdk-lib/aws-kms';
import { CfnEventSourceMapping, CfnFunction, CfnFunctionProps } from 'aws-cdk-lib/aws-lambda';
import { CfnLogGroup } from 'aws-cdk-lib/aws-logs';
import { CfnDBCluster, CfnDBClusterProps, CfnDBInstance, CfnDBInstanceProps } from 'aws-cdk-lib/aws-rds';
import { CfnBucket, CfnBucketProps } from 'aws-cdk-lib/aws-s3';
import { CfnEndpoint, CfnEndpointConfig, CfnModel } from 'aws-cdk-lib/aws-sagemaker';
import { CfnSubscription, CfnTopic } from 'aws-cdk-lib/aws-sns';
import { CfnQueue } from 'aws-cdk-lib/aws-sqs';
import { CfnStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { ProductionReadinessChecks, READINESS_RULES, REQUIRED_TAGS } from '../../lib/readiness';
import { CDK_JSON_CONTEXT } from '../helpers';

/**
 * One fixture per readiness rule: a stack holding a resource the rule must accept and one it must
 * report. The pack runs over the whole stack (rules that look across resources see both).
 */
type Fixture = (stack: Stack) => { compliant: CfnResource[]; nonCompliant: CfnResource[] };

const ROLE = 'arn:aws:iam::111111111111:role/fn';
const fn = (s: Stack, id: string, props: Partial<CfnFunctionProps> = {}) =>
  new CfnFunction(s, id, { code: { zipFile: 'def handler(e, c): pass' }, role: ROLE, handler: 'index.handler', runtime: 'python3.13', ...props });
const db = (s: Stack, id: string, props: Partial<CfnDBInstanceProps> = {}) =>
  new CfnDBInstance(s, id, { engine: 'postgres', dbInstanceClass: 'db.t4g.medium', allocatedStorage: '20', storageEncrypted: true, kmsKeyId: 'arn:aws:kms:eu-west-1:111111111111:key/abc', backupRetentionPeriod: 14, multiAz: true, ...props });
/** An Aurora cluster with its instances (judged with the cluster: each instance is not applicable). */
const aurora = (s: Stack, id: string, props: Partial<CfnDBClusterProps> = {}, instances: Array<Partial<CfnDBInstanceProps>> = [{ availabilityZone: 'eu-west-1a' }, { availabilityZone: 'eu-west-1b' }]) => {
  const c = new CfnDBCluster(s, id, { engine: 'aurora-postgresql', storageEncrypted: true, kmsKeyId: 'arn:aws:kms:eu-west-1:111111111111:key/abc', backupRetentionPeriod: 14, ...props });
  instances.forEach((p, i) => new CfnDBInstance(s, `${id}Instance${i}`, { engine: 'aurora-postgresql', dbInstanceClass: 'db.serverless', dbClusterIdentifier: c.ref, ...p }));
  return c;
};
const intakeBucket = (s: Stack, id: string, props: Partial<CfnBucketProps> = {}) =>
  new CfnBucket(s, id, {
    notificationConfiguration: { queueConfigurations: [{ event: 's3:ObjectCreated:*', queue: 'arn:aws:sqs:eu-west-1:111111111111:intake' }] },
    versioningConfiguration: { status: 'Enabled' },
    lifecycleConfiguration: { rules: [{ status: 'Enabled', noncurrentVersionExpiration: { noncurrentDays: 30 } }] },
    ...props,
  });
const withTags = (env: string, except?: string) => REQUIRED_TAGS.filter((k) => k !== except).map((key) => ({ key, value: key === 'Environment' ? env : 'x' }));
const stateMachine = (s: Stack, id: string, states: Record<string, unknown>) =>
  new CfnStateMachine(s, id, { roleArn: ROLE, definitionString: JSON.stringify({ StartAt: Object.keys(states)[0], States: states }) });
const task = (extra: Record<string, unknown>) => ({ Type: 'Task', Resource: 'arn:aws:states:::lambda:invoke', End: true, ...extra });
const RETRY = [{ ErrorEquals: ['States.TaskFailed'], MaxAttempts: 2 }];
const CATCH = [{ ErrorEquals: ['States.ALL'], Next: 'Failed' }];
const dlqAlarm = (s: Stack, id: string, dlq: CfnQueue) =>
  new CfnAlarm(s, id, { comparisonOperator: 'GreaterThanThreshold', evaluationPeriods: 1, threshold: 0, metricName: 'ApproximateNumberOfMessagesVisible', namespace: 'AWS/SQS', statistic: 'Maximum', period: 60, dimensions: [{ name: 'QueueName', value: dlq.attrQueueName }] });

const FIXTURES: Record<string, Fixture> = {
  GpuInstanceForGpuContainer: (s) => {
    const model = (id: string, image: string) => new CfnModel(s, id, { executionRoleArn: ROLE, primaryContainer: { image } });
    const serverless = (id: string, m: CfnModel) => new CfnEndpointConfig(s, id, { productionVariants: [{ variantName: 'v', modelName: m.attrModelName, serverlessConfig: { memorySizeInMb: 2048, maxConcurrency: 5 } }] });
    return {
      compliant: [
        new CfnEndpointConfig(s, 'Gpu', { productionVariants: [{ variantName: 'v', modelName: 'm', instanceType: 'ml.g5.xlarge', initialInstanceCount: 1 }] }),
        serverless('ServerlessCpu', model('CpuModel', '683313688378.dkr.ecr.us-east-1.amazonaws.com/tei-cpu:2.0.1-tei1.8.2-cpu-py310-ubuntu22.04')),
      ],
      nonCompliant: [
        new CfnEndpointConfig(s, 'Cpu', { productionVariants: [{ variantName: 'v', modelName: 'm', instanceType: 'ml.m5.xlarge', initialInstanceCount: 1 }] }),
        serverless('ServerlessGpu', model('GpuModel', '683313688378.dkr.ecr.us-east-1.amazonaws.com/tei:2.0.1-tei1.8.2-gpu-py310-cu122-ubuntu22.04')),
      ],
    };
  },
  EndpointAutoscaling: (s) => {
    new CfnScalableTarget(s, 'Target', { serviceNamespace: 'sagemaker', scalableDimension: 'sagemaker:variant:DesiredInstanceCount', resourceId: 'endpoint/scaled/variant/AllTraffic', minCapacity: 1, maxCapacity: 2 });
    const serverless = new CfnEndpointConfig(s, 'ServerlessConfig', { productionVariants: [{ variantName: 'v', modelName: 'm', serverlessConfig: { memorySizeInMb: 2048, maxConcurrency: 5 } }] });
    const instances = new CfnEndpointConfig(s, 'InstanceConfig', { productionVariants: [{ variantName: 'v', modelName: 'm', instanceType: 'ml.g5.xlarge', initialInstanceCount: 1 }] });
    return {
      compliant: [new CfnEndpoint(s, 'Scaled', { endpointName: 'scaled', endpointConfigName: 'c' }), new CfnEndpoint(s, 'Serverless', { endpointName: 'serverless', endpointConfigName: serverless.attrEndpointConfigName })],
      nonCompliant: [new CfnEndpoint(s, 'Fixed', { endpointName: 'fixed', endpointConfigName: 'c' }), new CfnEndpoint(s, 'FixedInstances', { endpointName: 'fixed-instances', endpointConfigName: instances.attrEndpointConfigName })],
    };
  },
  ProductionEndpointMinimum: (s) => {
    const target = (id: string, min: number) => new CfnScalableTarget(s, id, { serviceNamespace: 'sagemaker', scalableDimension: 'sagemaker:variant:DesiredInstanceCount', resourceId: `endpoint/${id}/variant/AllTraffic`, minCapacity: min, maxCapacity: 2 });
    return { compliant: [target('One', 1)], nonCompliant: [target('Zero', 0)] };
  },
  LambdaExplicitLimits: (s) => ({
    compliant: [fn(s, 'Set', { timeout: 60, memorySize: 1024 })],
    nonCompliant: [fn(s, 'NoTimeout', { memorySize: 1024 }), fn(s, 'NoMemory', { timeout: 60 })],
  }),
  IngestionConcurrencyLimit: (s) => ({
    compliant: [new CfnEventSourceMapping(s, 'Capped', { functionName: 'f', eventSourceArn: 'arn:aws:sqs:eu-west-1:111111111111:q', scalingConfig: { maximumConcurrency: 5 } })],
    nonCompliant: [new CfnEventSourceMapping(s, 'Uncapped', { functionName: 'f', eventSourceArn: 'arn:aws:sqs:eu-west-1:111111111111:q' })],
  }),
  QueueDlqAlarmed: (s) => {
    const dlq = (id: string) => new CfnQueue(s, id, { redriveAllowPolicy: { redrivePermission: 'allowAll' } });
    const alarmedDlq = dlq('AlarmedDlq');
    dlqAlarm(s, 'DlqAlarm', alarmedDlq);
    const silentDlq = dlq('SilentDlq');
    return {
      compliant: [new CfnQueue(s, 'Good', { redrivePolicy: { deadLetterTargetArn: alarmedDlq.attrArn, maxReceiveCount: 3 } })],
      nonCompliant: [new CfnQueue(s, 'SilentRedrive', { redrivePolicy: { deadLetterTargetArn: silentDlq.attrArn, maxReceiveCount: 3 } }), new CfnQueue(s, 'NoDlq', {})],
    };
  },
  VisibilityTimeoutSixTimes: (s) => {
    const consumer = fn(s, 'Consumer', { timeout: 30, memorySize: 512 });
    const esm = (id: string, visibilityTimeout: number) =>
      new CfnEventSourceMapping(s, id, { functionName: consumer.ref, eventSourceArn: new CfnQueue(s, `${id}Queue`, { visibilityTimeout }).attrArn });
    return { compliant: [esm('Six', 180)], nonCompliant: [esm('Two', 60)] };
  },
  StateMachineRetryCatch: (s) => ({
    compliant: [
      stateMachine(s, 'Guarded', { Work: task({ Retry: RETRY, Catch: CATCH }), Failed: { Type: 'Fail' } }),
      // a Task inside a Map is covered by the Map's Catch, but still needs its own Retry
      stateMachine(s, 'MapGuarded', { Each: { Type: 'Map', End: true, Catch: CATCH, ItemProcessor: { StartAt: 'T', States: { T: task({ Retry: RETRY }) } } }, Failed: { Type: 'Fail' } }),
    ],
    nonCompliant: [
      stateMachine(s, 'NoCatch', { Work: task({ Retry: RETRY }) }),
      stateMachine(s, 'NoRetry', { Work: task({ Catch: CATCH }), Failed: { Type: 'Fail' } }),
      stateMachine(s, 'InnerNoRetry', { Each: { Type: 'Map', End: true, Catch: CATCH, ItemProcessor: { StartAt: 'T', States: { T: task({}) } } }, Failed: { Type: 'Fail' } }),
    ],
  }),
  IntakeVersioningLifecycle: (s) => ({
    compliant: [intakeBucket(s, 'Intake')],
    nonCompliant: [intakeBucket(s, 'Unversioned', { versioningConfiguration: { status: 'Suspended' } }), intakeBucket(s, 'NoLifecycle', { lifecycleConfiguration: undefined })],
  }),
  DatabaseBackups: (s) => ({
    compliant: [db(s, 'Week', { backupRetentionPeriod: 7 }), aurora(s, 'AuroraWeek', { backupRetentionPeriod: 7 })],
    nonCompliant: [db(s, 'Day', { backupRetentionPeriod: 1 }), db(s, 'Default', { backupRetentionPeriod: undefined }), aurora(s, 'AuroraDay', { backupRetentionPeriod: 1 })],
  }),
  DatabaseBackupsProduction: (s) => ({
    compliant: [db(s, 'TwoWeeks', { backupRetentionPeriod: 14 }), aurora(s, 'AuroraTwoWeeks')],
    nonCompliant: [db(s, 'Week', { backupRetentionPeriod: 7 }), aurora(s, 'AuroraWeek', { backupRetentionPeriod: 7 })],
  }),
  DatabaseMultiAz: (s) => ({
    compliant: [db(s, 'MultiAz'), aurora(s, 'ReaderInSecondAz')],
    nonCompliant: [
      db(s, 'SingleAz', { multiAz: false }), db(s, 'Unset', { multiAz: undefined }),
      aurora(s, 'WriterOnly', {}, [{ availabilityZone: 'eu-west-1a' }]),
      aurora(s, 'ReaderInSameAz', {}, [{ availabilityZone: 'eu-west-1a' }, { availabilityZone: 'eu-west-1a' }]),
      aurora(s, 'Unpinned', {}, [{}, {}]),
    ],
  }),
  LogRetentionSet: (s) => ({ compliant: [new CfnLogGroup(s, 'Month', { retentionInDays: 30 })], nonCompliant: [new CfnLogGroup(s, 'Forever', {})] }),
  CustomerManagedKeys: (s) => {
    const key = new CfnKey(s, 'Key', {});
    return {
      compliant: [
        new CfnQueue(s, 'CmkQueue', { kmsMasterKeyId: key.attrArn }),
        new CfnBucket(s, 'CmkBucket', { bucketEncryption: { serverSideEncryptionConfiguration: [{ serverSideEncryptionByDefault: { sseAlgorithm: 'aws:kms', kmsMasterKeyId: key.attrArn } }] } }),
        db(s, 'EncryptedDb'),
        aurora(s, 'EncryptedCluster'),
      ],
      nonCompliant: [
        new CfnQueue(s, 'AwsKeyQueue', { kmsMasterKeyId: 'alias/aws/sqs' }),
        new CfnTopic(s, 'PlainTopic', {}),
        new CfnBucket(s, 'SseS3Bucket', { bucketEncryption: { serverSideEncryptionConfiguration: [{ serverSideEncryptionByDefault: { sseAlgorithm: 'AES256' } }] } }),
        db(s, 'AwsKeyDb', { kmsKeyId: undefined }),
        aurora(s, 'PlainCluster', { storageEncrypted: false }),
      ],
    };
  },
  NoPublicEndpoints: (s) => ({
    compliant: [db(s, 'PrivateDb', { publiclyAccessible: false })],
    nonCompliant: [db(s, 'PublicDb', { publiclyAccessible: true }), new CfnInternetGateway(s, 'Igw', {}), new CfnBucket(s, 'NoBlock', {})],
  }),
  CostAllocationTags: (s) => ({
    compliant: [new CfnBucket(s, 'Tagged', { tags: withTags('pilot') })],
    nonCompliant: [new CfnBucket(s, 'NoCostCenter', { tags: withTags('pilot', 'CostCenter') }), new CfnQueue(s, 'Untagged', {})],
  }),
  BudgetExists: (s) => {
    new CfnBudget(s, 'PilotBudget', { budget: { budgetType: 'COST', timeUnit: 'MONTHLY', budgetLimit: { amount: 300, unit: 'USD' }, filterExpression: { tags: { key: 'Environment', values: ['pilot'], matchOptions: ['EQUALS'] } } } });
    return { compliant: [intakeBucket(s, 'PilotIntake', { tags: withTags('pilot') })], nonCompliant: [intakeBucket(s, 'StagingIntake', { tags: withTags('staging') })] };
  },
  AlarmTopicSubscribed: (s) => {
    const topic = (id: string) => {
      const t = new CfnTopic(s, id, {});
      new CfnAlarm(s, `${id}Alarm`, { comparisonOperator: 'GreaterThanThreshold', evaluationPeriods: 1, threshold: 0, metricName: 'Errors', namespace: 'AWS/Lambda', statistic: 'Sum', period: 60, alarmActions: [t.ref] });
      return t;
    };
    const heard = topic('Heard');
    new CfnSubscription(s, 'OnCall', { topicArn: heard.ref, protocol: 'email', endpoint: 'oncall@example.com' });
    return { compliant: [heard], nonCompliant: [topic('Unheard')] };
  },
  QueryApiProtected: (s) => {
    const api = new CfnRestApi(s, 'Api', { name: 'api' });
    const method = (id: string, props: Partial<CfnMethodProps>) => new CfnMethod(s, id, { restApiId: api.ref, resourceId: api.attrRootResourceId, httpMethod: 'POST', authorizationType: 'COGNITO_USER_POOLS', requestValidatorId: 'v1', ...props });
    const stage = (id: string, name: string, props: Partial<CfnStageProps> = {}) =>
      new CfnStage(s, id, { restApiId: api.ref, stageName: name, tracingEnabled: true, accessLogSetting: { destinationArn: 'arn:aws:logs:eu-west-1:111111111111:log-group:access', format: '$context.requestId' }, ...props });
    const guarded = stage('Guarded', 'v1');
    new CfnWebACLAssociation(s, 'Waf', { webAclArn: 'arn:aws:wafv2:eu-west-1:111111111111:regional/webacl/x/1', resourceArn: `arn:aws:apigateway:eu-west-1::/restapis/${api.ref}/stages/${guarded.ref}` });
    return {
      compliant: [method('Authorized', {}), guarded],
      nonCompliant: [method('Open', { authorizationType: 'NONE' }), method('Unvalidated', { requestValidatorId: undefined }), stage('NoWaf', 'v2'), stage('Untraced', 'v3', { tracingEnabled: false })],
    };
  },
  AuditTrailLocked: (s) => {
    const locked = (id: string, mode: string, days: number) => new CfnBucket(s, id, { objectLockEnabled: true, objectLockConfiguration: { objectLockEnabled: 'Enabled', rule: { defaultRetention: { mode, days } } } });
    return { compliant: [locked('SevenYears', 'COMPLIANCE', 2557), new CfnBucket(s, 'LockWithoutRetention', { objectLockEnabled: true })], nonCompliant: [locked('Governance', 'GOVERNANCE', 365), locked('Short', 'COMPLIANCE', 30)] };
  },
  GatewayStateRecoverable: (s) => {
    const table = (id: string, pitr: boolean, key?: string) => new CfnTable(s, id, {
      keySchema: [{ attributeName: 'pk', keyType: 'HASH' }], attributeDefinitions: [{ attributeName: 'pk', attributeType: 'S' }], billingMode: 'PAY_PER_REQUEST',
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: pitr }, sseSpecification: { sseEnabled: true, sseType: 'KMS', kmsMasterKeyId: key },
    });
    return { compliant: [table('Recoverable', true, 'arn:aws:kms:eu-west-1:111111111111:key/abc')], nonCompliant: [table('NoPitr', false, 'arn:aws:kms:eu-west-1:111111111111:key/abc'), table('AwsOwnedKey', true)] };
  },
};

/** Construct paths the pack reports for one rule, with each finding's severity. */
function findings(stack: Stack, rule: string, pack = new ProductionReadinessChecks()) {
  const report = pack.validateScope(stack);
  const mine = report.violations.filter((v) => v.ruleName === `ProductionReadiness-${rule}`);
  return { report, paths: mine.flatMap((v) => v.violatingResources.map((r) => r.constructPath)), severities: mine.map((v) => v.severity) };
}

describe('every readiness rule has a compliant and a non-compliant fixture', () => {
  test('no rule is left without a fixture', () => {
    expect(Object.keys(FIXTURES).sort()).toEqual(READINESS_RULES.map((r) => r.name).sort());
  });

  test.each(READINESS_RULES.map((r) => r.name))('%s', (rule) => {
    const stack = new Stack(new App(), 'Fixture');
    const { compliant, nonCompliant } = FIXTURES[rule](stack);
    const { paths, severities } = findings(stack, rule);
    for (const r of nonCompliant) expect(paths).toContain(r.node.path);
    for (const r of compliant) expect(paths).not.toContain(r.node.path);
    expect(severities.length).toBeGreaterThan(0);
  });
});

describe('the pack', () => {
  /** A stack with one tagged, encrypted, single-AZ database: only DatabaseMultiAz applies to it. */
  const singleAzStack = () => {
    const stack = new Stack(new App(), 'Fixture');
    db(stack, 'SingleAz', { multiAz: false, tags: withTags('pilot') });
    return stack;
  };

  test('an accepted difference is reported as a warning with its reason, and the pack passes', () => {
    const strict = findings(singleAzStack(), 'DatabaseMultiAz');
    expect(strict.severities).toEqual(['error']);
    expect(strict.report.success).toBe(false);

    const pack = new ProductionReadinessChecks(undefined, { stage: 'pilot', acceptedDifferences: { DatabaseMultiAz: 'single AZ halves the pilot database cost' } });
    const lenient = findings(singleAzStack(), 'DatabaseMultiAz', pack);
    expect(lenient.severities).toEqual(['warning']);
    expect(lenient.report.success).toBe(true);
    expect(pack.lastReport!.categories.data.status).toBe('partially ready');
    expect(pack.lastReport!.categories.compute.status).toBe('ready');
    expect(pack.lastReport!.accepted.map((f) => [f.rule, f.acceptedBecause])).toEqual([['DatabaseMultiAz', 'single AZ halves the pilot database cost']]);
  });

  test('in a synth, an unaccepted finding fails it and an acknowledgement on the construct silences it', () => {
    const synth = (ack: boolean) => {
      const app = new App({ context: CDK_JSON_CONTEXT, outdir: fs.mkdtempSync(path.join(os.tmpdir(), 'readiness-')) });
      Validations.of(app).addPlugins(new ProductionReadinessChecks(app));
      const stack = new Stack(app, 'Fixture');
      const key = new CfnKey(stack, 'Key', { tags: withTags('pilot') });
      const logs = new CfnLogGroup(stack, 'Forever', { kmsKeyId: key.attrArn, tags: withTags('pilot') });
      if (ack) Validations.of(logs).acknowledge({ id: 'ProductionReadiness::ProductionReadiness-LogRetentionSet', reason: 'kept forever under a legal hold' });
      return () => app.synth();
    };
    jest.spyOn(console, 'error').mockImplementation(() => undefined);
    expect(synth(false)).toThrow(/ProductionReadiness-LogRetentionSet/);
    expect(synth(true)).not.toThrow();
  });

  test('accepting a rule that does not exist is refused, naming the rules that do', () => {
    expect(() => new ProductionReadinessChecks(undefined, { acceptedDifferences: { DatabaseMultiAZ: 'typo' } })).toThrow(/unknown rule "DatabaseMultiAZ".*DatabaseMultiAz/);
  });
});
