import { Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import { setMetricDimensions } from '../../lib/common';
import { DocumentPipeline, IngestionQueue, VectorDatabase } from '../../lib';
import { PUBLISHED_METRICS } from '../../lib/observability/published-metrics';
import { newApp, synthStage } from '../helpers';

const DEPLOYMENT = { Project: 'docai', Stage: 'pilot' };

/** Namespace, name, statistic and dimension names, resolved. */
function shape(stack: Stack, m: cloudwatch.Metric) {
  return { namespace: m.namespace, metricName: m.metricName, statistic: m.statistic, period: m.period.toSeconds(), dimensions: stack.resolve(m.dimensions) };
}

function published(m: cloudwatch.Metric): boolean {
  const dims = Object.keys(m.dimensions ?? {}).sort().join(',');
  return PUBLISHED_METRICS.some((p) => p.namespace === m.namespace && p.metrics.includes(m.metricName) && p.dimensionSets.some((set) => [...set].sort().join(',') === dims));
}

describe('metricXxx() of the data-side constructs, through the metric factory', () => {
  const stack = new Stack(newApp(), 'S');
  setMetricDimensions(stack, DEPLOYMENT);
  const key = kms.Key.fromKeyArn(stack, 'K', 'arn:aws:kms:eu-west-1:111122223333:key/11111111-2222-3333-4444-555555555555');
  const pipeline = DocumentPipeline.fromDocumentPipelineAttributes(stack, 'P', { stateMachineArn: 'arn:aws:states:eu-west-1:111122223333:stateMachine:docai-pipeline', encryptionKey: key });
  const queue = IngestionQueue.fromIngestionQueueAttributes(stack, 'Q', {
    queueArn: 'arn:aws:sqs:eu-west-1:111122223333:ingest', deadLetterQueueArn: 'arn:aws:sqs:eu-west-1:111122223333:ingest-dlq', encryptionKey: key, visibilityTimeout: { toSeconds: () => 180 } as any,
  });
  const db = VectorDatabase.fromVectorDatabaseAttributes(stack, 'D', {
    hostname: 'docai-db.abc.eu-west-1.rds.amazonaws.com', port: 5433, databaseName: 'docai', clusterResourceId: 'cluster-ABC', clusterIdentifier: 'docai-db',
    clientSecurityGroup: ec2.SecurityGroup.fromSecurityGroupId(stack, 'Sg', 'sg-1'),
  });

  test('pipeline: the handlers\' own metrics carry Workflow, Step and the deployment dimensions, as docai_shared.observability emits them', () => {
    expect(shape(stack, pipeline.metricDocumentsProcessed('backfill'))).toEqual({ namespace: 'DocAI', metricName: 'DocumentsProcessed', statistic: 'Sum', period: 300, dimensions: { Workflow: 'backfill', Step: 'Store', ...DEPLOYMENT } });
    expect(shape(stack, pipeline.metricDocumentsFailed('ingest')).dimensions).toEqual({ Workflow: 'ingest', Step: 'RecordFailure', ...DEPLOYMENT });
    expect(shape(stack, pipeline.metricTokensEmbedded('replay')).dimensions).toEqual({ Workflow: 'replay', Step: 'Embed', ...DEPLOYMENT });
  });

  test('pipeline, queue and database: AWS metrics exactly as AWS publishes them (no deployment dimensions)', () => {
    const metrics = [
      pipeline.metricExecutionsStarted(), pipeline.metricExecutionsSucceeded(), pipeline.metricExecutionsFailed(), pipeline.metricExecutionsTimedOut(),
      queue.metricQueueDepth(), queue.metricOldestMessageAge(), queue.metricDeadLetterMessages(),
      db.metricCpuUtilization(), db.metricDatabaseConnections(), db.metricServerlessDatabaseCapacity(), db.metricAcuUtilization(), db.metricVolumeBytesUsed(),
    ];
    for (const m of metrics) expect({ m: m.metricName, published: published(m) }).toEqual({ m: m.metricName, published: true });
    expect(shape(stack, pipeline.metricExecutionsFailed()).dimensions).toEqual({ StateMachineArn: 'arn:aws:states:eu-west-1:111122223333:stateMachine:docai-pipeline' });
    expect(shape(stack, queue.metricDeadLetterMessages()).dimensions).toEqual({ QueueName: 'ingest-dlq' });
    expect(shape(stack, db.metricServerlessDatabaseCapacity())).toEqual({ namespace: 'AWS/RDS', metricName: 'ServerlessDatabaseCapacity', statistic: 'Maximum', period: 300, dimensions: { DBClusterIdentifier: 'docai-db' } });
    expect(shape(stack, db.metricVolumeBytesUsed())).toEqual({ namespace: 'AWS/RDS', metricName: 'VolumeBytesUsed', statistic: 'Maximum', period: 3600, dimensions: { DBClusterIdentifier: 'docai-db' } });
  });

  test('an imported database without its cluster identifier says which attribute its metrics need', () => {
    const s = new Stack(newApp(), 'T');
    const bare = VectorDatabase.fromVectorDatabaseAttributes(s, 'D', { hostname: 'h.rds.amazonaws.com', port: 5432, databaseName: 'd', clusterResourceId: 'cluster-ABC', clientSecurityGroup: ec2.SecurityGroup.fromSecurityGroupId(s, 'Sg', 'sg-1') });
    expect(() => bare.metricCpuUtilization()).toThrow(/CPUUtilization is published per DBClusterIdentifier, which this import does not know; pass clusterIdentifier/);
  });
});

describe('in a deployed stage the constructs\' metrics are the ones the dashboard and alarms watch', () => {
  const { stacks } = synthStage('pilot');
  const app = stacks.app;
  const monitoring = stacks.monitoring;
  const dashboardBody = () => JSON.stringify(monitoring.resolve((monitoring.observability.dashboard.node.defaultChild as cloudwatch.CfnDashboard).dashboardBody)).replace(/\\/g, '');
  /** How a dashboard names a metric: namespace, name, then dimension names and values sorted by name. */
  const rendered = (m: cloudwatch.Metric) => JSON.stringify([m.namespace, m.metricName, ...Object.entries(app.resolve(m.dimensions) as Record<string, string>).sort(([a], [b]) => a.localeCompare(b)).flat()]).slice(1, -1);

  test('the ingestion queue\'s alarms are built from its metric methods', () => {
    const q = stacks.data.ingestionQueue;
    const alarmMetric = (a: cloudwatch.Alarm) => stacks.data.resolve((a.node.defaultChild as cloudwatch.CfnAlarm).dimensions);
    expect(alarmMetric(q.oldestMessageAlarm)).toEqual(stacks.data.resolve([{ name: 'QueueName', value: q.queue.queueName }]));
    expect(shape(stacks.data, q.metricOldestMessageAge()).metricName).toBe((q.oldestMessageAlarm.node.defaultChild as cloudwatch.CfnAlarm).metricName);
  });

  test('the pipeline\'s DocumentsProcessed and the Step Functions metrics name what the dashboard shows', () => {
    const processed = shape(app, app.pipeline.metricDocumentsProcessed('ingest'));
    expect(processed.dimensions).toEqual({ Workflow: 'ingest', Step: 'Store', Project: 'docai', Stage: 'pilot' });
    const body = dashboardBody();
    const has = (m: cloudwatch.Metric) => ({ metric: m.metricName, onDashboard: body.includes(rendered(m)) });
    for (const w of ['ingest', 'backfill', 'replay']) {
      for (const m of [app.pipeline.metricDocumentsProcessed(w), app.pipeline.metricDocumentsFailed(w), app.pipeline.metricTokensEmbedded(w)]) expect(has(m)).toEqual({ metric: m.metricName, onDashboard: true });
    }
    expect(has(app.ingestion.metricExecutionsStarted())).toEqual({ metric: 'ExecutionsStarted', onDashboard: true });
    expect(body).toContain('"AWS/States","ExecutionsStarted","StateMachineArn"');
  });
});
