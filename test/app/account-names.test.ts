import { ContractAssembly } from '../permission-contract';
import { synthStage } from '../helpers';

/**
 * Names CloudFormation passes to AWS that must be unique in an account (and region), per resource type.
 * A resource without its name property gets a generated, unique name. Sources: each type's
 * CloudFormation reference ("If you specify a name, you cannot perform updates that require replacement").
 */
const ACCOUNT_UNIQUE: Record<string, string[]> = {
  'AWS::S3::Bucket': ['BucketName'], // globally unique
  'AWS::SQS::Queue': ['QueueName'],
  'AWS::SNS::Topic': ['TopicName'],
  'AWS::Lambda::Function': ['FunctionName'],
  'AWS::IAM::Role': ['RoleName'],
  'AWS::IAM::ManagedPolicy': ['ManagedPolicyName'],
  'AWS::StepFunctions::StateMachine': ['StateMachineName'],
  'AWS::Logs::LogGroup': ['LogGroupName'],
  'AWS::SageMaker::Endpoint': ['EndpointName'],
  'AWS::SageMaker::EndpointConfig': ['EndpointConfigName'],
  'AWS::SageMaker::Model': ['ModelName'],
  'AWS::SageMaker::InferenceComponent': ['InferenceComponentName'],
  'AWS::CloudWatch::Dashboard': ['DashboardName'],
  'AWS::CloudWatch::Alarm': ['AlarmName'],
  'AWS::CloudWatch::CompositeAlarm': ['AlarmName'],
  'AWS::Budgets::Budget': ['Budget.BudgetName'], // account-wide, all regions
  'AWS::CE::AnomalyMonitor': ['MonitorName'],
  'AWS::CE::AnomalySubscription': ['SubscriptionName'],
  'AWS::RDS::DBInstance': ['DBInstanceIdentifier'],
  'AWS::RDS::DBCluster': ['DBClusterIdentifier'],
  'AWS::RDS::DBClusterParameterGroup': ['DBClusterParameterGroupName'],
  'AWS::RDS::DBSubnetGroup': ['DBSubnetGroupName'],
  'AWS::RDS::DBParameterGroup': ['DBParameterGroupName'],
  'AWS::SecretsManager::Secret': ['Name'],
  'AWS::KMS::Alias': ['AliasName'],
  'AWS::EC2::SecurityGroup': ['GroupName'],
  'AWS::Lambda::LayerVersion': ['LayerName'],
  'AWS::Bedrock::Guardrail': ['Name'],
  'AWS::SSM::Parameter': ['Name'],
  'AWS::Athena::WorkGroup': ['Name'],
  'AWS::Glue::Database': ['DatabaseInput.Name'],
};

/** `*Name` properties that are not the resource's own account-unique name, with why. */
const NOT_A_RESOURCE_NAME = new Set([
  'MetricName', // a metric, not a resource
  'DBName', // the database inside the instance
  'VariantName', // unique within its endpoint config
  'ModelName', // on an endpoint config's variant / an inference component: a reference to the model
  'EndpointName', // on an inference component / scaling: a reference to the endpoint
  'EndpointConfigName', // on an endpoint: a reference
  'PolicyName', // inline policy / scaling policy names are scoped to their role or target
  'FunctionName', // on a permission or event source mapping: a reference
  'StateMachineName', // on a state machine alias/version: a reference
  'LogGroupName', // on a subscription or log destination: a reference
  'Name', // (other types than Secret) tags, dimensions and similar
  'AttributeName', 'KeyName', 'ParameterName', 'ServiceName', 'SourceIdentifier',
  'BucketName', // on the auto-delete custom resource: a reference to the bucket
  'DBParameterGroupName', 'DBSubnetGroupName', 'DBClusterParameterGroupName', // on a DB instance or cluster: references to its groups
  'DisplayName', // an SNS topic's display name is not unique
  'DatabaseName', // on a Glue table: a reference to its database
  'StageName', // an API Gateway stage: unique within its API only
  'GroupName', // (other types than SecurityGroup) a Cognito group: unique within its user pool
]);

const WORLD = [['docai', 'pilot'], ['docai', 'production'], ['acme-rag', 'pilot'], ['acme-rag', 'production']] as const;

function get(obj: any, dotted: string): unknown {
  return dotted.split('.').reduce((o, k) => (o === undefined ? undefined : o[k]), obj);
}

describe('two stages of two projects in one account', () => {
  const names = new Map<string, string[]>(); // "type name" -> where
  const unknownNameProps = new Set<string>();
  const stackNames: string[] = [];

  beforeAll(() => {
    for (const [projectName, stage] of WORLD) {
      const { outdir } = synthStage(stage, { projectName, account: '111122223333', region: 'eu-west-1', alarmEmail: 'oncall@example.com' });
      const a = ContractAssembly.fromDirectory(outdir);
      stackNames.push(...a.stacks.keys());
      for (const r of a.resources()) {
        const props = a.resolve(r.stack, r.properties);
        for (const p of ACCOUNT_UNIQUE[r.type] ?? []) {
          const v = get(props, p);
          if (v === undefined) continue;
          const key = `${r.type} ${String(v)}`;
          names.set(key, [...(names.get(key) ?? []), `${r.stack}/${r.logicalId}`]);
        }
        for (const [k, v] of Object.entries(props)) {
          if (k.endsWith('Name') && typeof v === 'string' && !(ACCOUNT_UNIQUE[r.type] ?? []).includes(k) && !NOT_A_RESOURCE_NAME.has(k)) unknownNameProps.add(`${r.type}.${k}`);
        }
      }
    }
  }, 300000);

  test('no account-unique name is used twice', () => {
    const clashes = [...names.entries()].filter(([, where]) => where.length > 1).map(([k, where]) => `${k}: ${where.join(', ')}`);
    expect(clashes).toEqual([]);
    // the check has material: named resources of the account-wide kinds exist
    expect([...names.keys()].some((k) => k.startsWith('AWS::Budgets::Budget '))).toBe(true);
    expect([...names.keys()].some((k) => k.startsWith('AWS::SageMaker::Endpoint '))).toBe(true);
    expect([...names.keys()].some((k) => k.startsWith('AWS::CloudWatch::Dashboard '))).toBe(true);
  });

  test('stack names differ', () => {
    expect(new Set(stackNames).size).toBe(stackNames.length);
    expect(stackNames).toHaveLength(WORLD.length * 5);
  });

  test('every literal *Name property is classified (account-unique or not a resource name), so a new named type cannot slip by', () => {
    expect([...unknownNameProps]).toEqual([]);
  });

  test('every one of them has its own day-over-day growth budget', () => {
    expect([...names.keys()].filter((k) => k.includes('-daily-growth-')).sort()).toEqual(WORLD.map(([p, s]) => `AWS::Budgets::Budget ${p}-${s}-daily-growth-150pct`).sort());
  });

  test('by default none of them creates the one-per-account AWS-services anomaly monitor', () => {
    expect([...names.keys()].filter((k) => k.startsWith('AWS::CE::AnomalyMonitor '))).toEqual([]);
  });
});
