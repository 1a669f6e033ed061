import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { VectorDatabase, VectorStoreMetrics, VectorStoreMetricsProps } from '../../lib';
import { configFor, newApp, synthStage } from '../helpers';

const DAY = 86400;

function standalone(props: Partial<VectorStoreMetricsProps> = {}) {
  const stack = new Stack(newApp(), 'Consumer');
  const vpc = new ec2.Vpc(stack, 'Vpc', { natGateways: 0, subnetConfiguration: [{ name: 'i', subnetType: ec2.SubnetType.PRIVATE_ISOLATED }] });
  // Any IVectorDatabase: here one another app deployed.
  const database = VectorDatabase.fromVectorDatabaseAttributes(stack, 'Db', {
    hostname: 'docai-db.abcdefgh.eu-west-1.rds.amazonaws.com', port: 5433, databaseName: 'docai',
    clientSecurityGroup: ec2.SecurityGroup.fromSecurityGroupId(stack, 'ClientSg', 'sg-0123456789abcdef0'),
    clusterResourceId: 'cluster-ABCDEFGHIJKLMNOPQRSTUVWXY0',
  });
  const placement = { vpc, vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED }, securityGroups: [], encryptionKey: new kms.Key(stack, 'K'), logRetention: 365, deadLetterQueue: new sqs.Queue(stack, 'Q') };
  const topic = new sns.Topic(stack, 'Alarms');
  const metrics = new VectorStoreMetrics(stack, 'VectorStore', { database, placement, alarmTopic: topic, ...props });
  return { stack, metrics, template: () => Template.fromStack(stack) };
}

/** The metrics of an alarm's expression, by id: name, statistic, period, dimensions. */
function alarmMetrics(alarm: any): Record<string, { name: string; stat: string; period: number; dims: Record<string, unknown> }> {
  const out: Record<string, any> = {};
  for (const q of alarm.Properties.Metrics) {
    if (!q.MetricStat) continue;
    out[q.Id] = { name: q.MetricStat.Metric.MetricName, stat: q.MetricStat.Stat, period: q.MetricStat.Period, dims: Object.fromEntries((q.MetricStat.Metric.Dimensions ?? []).map((d: any) => [d.Name, d.Value])) };
  }
  return out;
}

describe('VectorStoreMetrics', () => {
  test('the collector logs in as docai_metrics only, in the VPC beside the database\'s client group, on an hourly schedule by default', () => {
    const t = standalone().template();
    t.hasResourceProperties('AWS::Lambda::Function', {
      Handler: 'vector_metrics_handler.handler',
      Environment: { Variables: Match.objectLike({ DB_USER: VectorStoreMetrics.DB_USER, DB_HOST: 'docai-db.abcdefgh.eu-west-1.rds.amazonaws.com', DB_PORT: '5433', DB_NAME: 'docai' }) },
      VpcConfig: { SecurityGroupIds: Match.arrayWith(['sg-0123456789abcdef0']) },
    });
    const connects = Object.values(t.findResources('AWS::IAM::Policy')).flatMap((p: any) => p.Properties.PolicyDocument.Statement).filter((s: any) => s.Action === 'rds-db:connect');
    expect(connects).toHaveLength(1);
    expect(JSON.stringify(connects[0].Resource)).toMatch(/dbuser:cluster-ABCDEFGHIJKLMNOPQRSTUVWXY0\/docai_metrics"/);
    t.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(1 hour)', State: 'ENABLED', Targets: [Match.objectLike({ RetryPolicy: { MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 3600 } })] });
  });

  test('index growth alarm: largest minus smallest VectorIndexBytes of a day over the smallest (floored), to the alarm topic', () => {
    const t = standalone().template();
    const [alarm] = Object.values(t.findResources('AWS::CloudWatch::Alarm', { Properties: { AlarmDescription: Match.stringLikeRegexp('HNSW index grew') } })) as any[];
    expect(alarm.Properties).toMatchObject({ Threshold: 50, EvaluationPeriods: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold', TreatMissingData: 'notBreaching' });
    expect(alarm.Properties.AlarmActions).toHaveLength(1);
    const expr = alarm.Properties.Metrics.find((q: any) => q.Expression);
    expect(expr.Expression).toBe(`100 * (hi - lo) / MAX([lo, ${256 * 2 ** 20}])`);
    expect(alarmMetrics(alarm)).toEqual({
      hi: { name: 'VectorIndexBytes', stat: 'Maximum', period: DAY, dims: {} },
      lo: { name: 'VectorIndexBytes', stat: 'Minimum', period: DAY, dims: {} },
    });
  });

  test('dead-tuple alarm: a day\'s average dead tuples over all tuples, percent', () => {
    const t = standalone({ deadTuplePercent: 30 }).template();
    const [alarm] = Object.values(t.findResources('AWS::CloudWatch::Alarm', { Properties: { AlarmDescription: Match.stringLikeRegexp('Dead tuples') } })) as any[];
    expect(alarm.Properties).toMatchObject({ Threshold: 30, EvaluationPeriods: 1, TreatMissingData: 'notBreaching' });
    expect(alarm.Properties.Metrics.find((q: any) => q.Expression).Expression).toBe('100 * dead / MAX([live + dead, 1])');
    expect(alarmMetrics(alarm)).toEqual({
      dead: { name: 'VectorDeadTuples', stat: 'Average', period: DAY, dims: {} },
      live: { name: 'VectorRows', stat: 'Average', period: DAY, dims: {} },
    });
  });

  test.each([
    [{ collectEvery: Duration.minutes(2) }, /collectEvery must be whole minutes from 5 minutes to 24 hours, received 2 minutes/],
    [{ collectEvery: Duration.hours(25) }, /collectEvery .* received 1 day 1 hour/],
    [{ indexGrowthPercentPerDay: 0 }, /indexGrowthPercentPerDay must be above 0, received 0/],
    [{ deadTuplePercent: 101 }, /deadTuplePercent must be above 0 and at most 100, received 101/],
  ])('a bad prop is refused by name: %p', (props, message) => {
    expect(() => standalone(props)).toThrow(message);
  });

  test('a metric name outside the contract cannot be built (the factory refuses it)', () => {
    const { metrics } = standalone();
    expect(metrics.metricSearches('public', 'answer').metricName).toBe('VectorSearches');
    expect(() => (metrics as any).factory.metric('VectorSearch')).toThrow(/no custom metric of lib\/contract/);
  });
});

describe.each([['pilot', 'rate(12 hours)'], ['production', 'rate(1 hour)']])('%s stage', (stage, schedule) => {
  const s = synthStage(stage);
  const app = s.templates[s.stacks.app.stackName];
  const monitoring = s.templates[s.stacks.monitoring.stackName];
  const deployment = { Project: s.config.projectName, Stage: s.config.stage };

  test(`collects on ${schedule} (observability.vectorStoreMetricsHours), from the app stack`, () => {
    app.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: schedule, Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('VectorStoreMetricsCollector'), 'Arn'] } })] });
    app.resourcePropertiesCountIs('AWS::Lambda::Function', { Handler: 'vector_metrics_handler.handler' }, 1);
  });

  test('the alarms watch the metrics with the deployment dimensions the handlers emit, and notify the stage\'s alarm topic', () => {
    const alarms = Object.values(app.findResources('AWS::CloudWatch::Alarm')).filter((a: any) => JSON.stringify(a.Properties.Metrics ?? []).includes('"Vector')) as any[];
    expect(alarms).toHaveLength(2);
    for (const a of alarms) {
      for (const m of Object.values(alarmMetrics(a))) expect(m.dims).toEqual(deployment);
      expect(a.Properties.AlarmActions).toHaveLength(1);
    }
  });

  test('the dashboard has the vector store row: 8 search series (4 tiers x 2 workflows), bytes, rows and dead tuples', () => {
    const [dash] = Object.values(monitoring.findResources('AWS::CloudWatch::Dashboard')) as any[];
    const body = JSON.stringify(dash.Properties.DashboardBody);
    expect(body).toContain('Vector searches per minute, per tier and workflow');
    expect(body.match(/VectorSearches/g)).toHaveLength(8);
    for (const name of ['VectorTableBytes', 'VectorIndexBytes', 'VectorRows', 'VectorDeadTuples']) expect(body).toContain(name);
  });
});

test('observability.vectorStoreMetricsHours is validated with the field, the value and a fix', () => {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'cfg-')), 'config.json');
  for (const bad of [0, 25, 1.5]) {
    fs.writeFileSync(file, JSON.stringify({ observability: { vectorStoreMetricsHours: bad } }));
    expect(() => configFor('pilot', { configFile: file })).toThrow(new RegExp(`observability\\.vectorStoreMetricsHours: .*${bad}.*expected a whole number from 1 to 24\\. Fix: hours between measurements`));
  }
  expect(configFor('pilot').observability.vectorStoreMetricsHours).toBe(12);
  expect(configFor('production').observability.vectorStoreMetricsHours).toBe(1);
});
