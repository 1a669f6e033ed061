import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { LatencyType, MetricFactory, RdsClusterMetricFactory } from 'cdk-monitoring-constructs';
import { Construct } from 'constructs';
import { DocaiMetricFactory } from '../common/metric-factory';
import { IGpuInferenceEndpoint } from '../gpu-inference/gpu-inference-endpoint';
import { IVectorDatabase } from '../vector-database/vector-database';

/** The pipeline steps whose latency the handlers report (StepLatency, Step dimension). */
const PIPELINE_STEPS = ['Validate', 'Extract', 'Chunk', 'Embed', 'Store'];

export interface ObservabilityThresholds {
  /** Failed / started executions, percent. @default 5 */
  readonly errorRatePercent?: number;
  /** @default 80 */
  readonly databaseCpuPercent?: number;
  /** Capacity in use, percent of the maximum ACUs (Aurora storage grows by itself: no free-storage alarm). @default 90 */
  readonly databaseAcuUtilizationPercent?: number;
  /** @default 100 */
  readonly databaseConnections?: number;
}

export interface ObservabilityProps {
  /** @default - a name CloudFormation generates */
  readonly dashboardName?: string;
  /** @default - the alarms have no action */
  readonly alarmTopic?: sns.ITopic;
  readonly pipeline: sfn.IStateMachine;
  readonly ingestionQueue: sqs.IQueue;
  readonly deadLetterQueue: sqs.IQueue;
  /** Existing alarms (dead-letter, oldest message) that join the composite "pipeline unhealthy" alarm. @default - none */
  readonly queueAlarms?: cloudwatch.IAlarm[];
  /** The document embedding endpoint. */
  readonly endpoint: IGpuInferenceEndpoint;
  /** The vector database (Aurora cluster). */
  readonly database: IVectorDatabase;
  /** Workflows to chart (values of the `Workflow` dimension). @default ['ingest', 'backfill', 'replay'] */
  readonly workflows?: string[];
  /** Workflows whose model calls go through the model gateway: their real tokens and estimated spend join the top row. @default ['answer'] */
  readonly gatewayWorkflows?: string[];
  /** Price for "estimated token spend": USD per million tokens embedded. @default 0 */
  readonly embeddingUsdPerMillionTokens?: number;
  /** @default - the defaults of each threshold */
  readonly thresholds?: ObservabilityThresholds;
}

/**
 * One CloudWatch dashboard per stage and the alarms that need a person, all to one topic.
 *
 * Which library draws what:
 * - cdk-monitoring-constructs (`RdsClusterMetricFactory`) for the database row of the dashboard: CPU,
 *   read/write latency p90; the capacity (ACUs) from the database's own `metricXxx()`.
 * - aws-cloudwatch / service L2 metric helpers for the rest: this project's own EMF metrics (documents,
 *   tokens, per-step latency) and the fixed top row for the 3 a.m. reader, which the library's
 *   per-service facade does not lay out; SQS and Step Functions through their L2 `metric*()` helpers;
 *   SageMaker endpoints and inference components, which the library has no factory for. Every alarm
 *   uses an L2 helper with the statistic that should page (Maximum connections, Minimum free storage),
 *   where the library's factory fixes Sum and Max.
 * No metric JSON is written by hand.
 */
export class Observability extends Construct {
  /** The pipeline steps whose latency the handlers report (StepLatency, Step dimension). */
  public static readonly PIPELINE_STEPS: string[] = [...PIPELINE_STEPS];

  public readonly dashboard: cloudwatch.Dashboard;
  public readonly alarms: cloudwatch.Alarm[] = [];
  public readonly pipelineUnhealthy: cloudwatch.CompositeAlarm;

  constructor(scope: Construct, id: string, props: ObservabilityProps) {
    super(scope, id);
    const th = props.thresholds ?? {};
    const workflows = props.workflows ?? ['ingest', 'backfill', 'replay'];
    const gatewayWorkflows = props.gatewayWorkflows ?? ['answer'];
    const period = Duration.minutes(5);
    const metrics = DocaiMetricFactory.of(this, { period });
    const custom = (name: string, dims: Record<string, string>, statistic = 'Sum', label?: string) => metrics.metric(name, dims, { statistic, label });
    const action = props.alarmTopic ? new cwActions.SnsAction(props.alarmTopic) : undefined;
    const usdPerMillion = props.embeddingUsdPerMillionTokens ?? 0;

    // --- metrics ---------------------------------------------------------------------------------
    const processed = (w: string) => custom('DocumentsProcessed', { Workflow: w, Step: 'Store' }, 'Sum', `processed (${w})`);
    const failed = (w: string) => custom('DocumentsFailed', { Workflow: w, Step: 'RecordFailure' }, 'Sum', `failed (${w})`);
    const tokens = (w: string) => custom('TokensEmbedded', { Workflow: w, Step: 'Embed' }, 'Sum', `tokens (${w})`);
    const documentsIn = custom('ExecutionsStarted', { Workflow: 'ingestion' }, 'Sum', 'documents in');
    const started = props.pipeline.metricStarted({ period });
    const succeeded = props.pipeline.metricSucceeded({ period });
    const execFailed = props.pipeline.metricFailed({ period });
    const timedOut = props.pipeline.metricTimedOut({ period });
    const errorRate = metrics.expression('100 * (f + t) / MAX([s, 1])', { f: execFailed, t: timedOut, s: started }, { label: 'pipeline error rate %' });
    const spend = (w: string) => metrics.expression(`tok_${w} / 1000000 * ${usdPerMillion}`, { [`tok_${w}`]: tokens(w) }, { label: `est. token spend USD (${w})` });
    const queueDepth = props.ingestionQueue.metricApproximateNumberOfMessagesVisible({ period, statistic: 'Maximum', label: 'ingestion queue depth' });
    const oldest = props.ingestionQueue.metricApproximateAgeOfOldestMessage({ period, statistic: 'Maximum', label: 'oldest message age (s)' });
    const dlqDepth = props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period, statistic: 'Maximum', label: 'dead-letter messages' });
    const ep = props.endpoint;
    const dbCpu = props.database.metricCpuUtilization({ period, statistic: 'Average' });
    const rdsMetrics = new RdsClusterMetricFactory(new MetricFactory(this, { globalDefaults: { period } }), { clusterIdentifier: dbCpu.dimensions!.DBClusterIdentifier as string });
    const dbConnections = props.database.metricDatabaseConnections({ period, statistic: 'Maximum' });
    const dbCapacity = props.database.metricServerlessDatabaseCapacity({ period, statistic: 'Maximum' });
    const dbAcuUtilization = props.database.metricAcuUtilization({ period, statistic: 'Maximum' });

    // --- dashboard: the top row answers "is it healthy, what is it doing, what does it cost" ------
    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', { dashboardName: props.dashboardName, defaultInterval: Duration.hours(24) });
    this.dashboard.addWidgets(
      new cloudwatch.SingleValueWidget({ title: 'Documents in / processed / failed (24h)', metrics: [documentsIn, ...workflows.flatMap((w) => [processed(w), failed(w)])], width: 8, height: 5, period: Duration.hours(24), setPeriodToTimeRange: true }),
      new cloudwatch.SingleValueWidget({ title: 'Pipeline error rate % / dead letters / oldest message', metrics: [errorRate, dlqDepth, oldest], width: 8, height: 5 }),
      new cloudwatch.SingleValueWidget({
        title: 'Tokens and estimated spend (24h): embedding, and answers metered by the model gateway',
        metrics: [...workflows.flatMap((w) => [tokens(w), spend(w)]), ...gatewayWorkflows.flatMap((w) => [
          custom('TokensIn', { Workflow: w }, 'Sum', `tokens in (${w})`), custom('TokensOut', { Workflow: w }, 'Sum', `tokens out (${w})`),
          custom('EstimatedSpendUsd', { Workflow: w }, 'Sum', `est. spend USD (${w})`),
        ])],
        width: 8, height: 5, period: Duration.hours(24), setPeriodToTimeRange: true,
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({ title: 'Documents per workflow', left: [documentsIn, ...workflows.flatMap((w) => [processed(w), failed(w)])], width: 12 }),
      new cloudwatch.GraphWidget({ title: 'Executions started / succeeded / failed / timed out', left: [started, succeeded, execFailed, timedOut], right: [errorRate], width: 12 }),
    );
    this.dashboard.addWidgets(
      ...(['p50', 'p95', 'p99'] as const).map((p) => new cloudwatch.GraphWidget({
        title: `Step latency ${p} (ms)`,
        left: PIPELINE_STEPS.map((s) => custom('StepLatency', { Workflow: 'ingest', Step: s }, p, s)),
        width: 8,
      })),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({ title: 'Tokens embedded and estimated token spend per workflow', left: workflows.map(tokens), right: workflows.map(spend), width: 12 }),
      new cloudwatch.GraphWidget({ title: 'Ingestion queue depth, oldest message, dead letters', left: [queueDepth, dlqDepth], right: [oldest], width: 12 }),
    );
    // The endpoint's methods pick the dimensions SageMaker publishes for its kind (per inference component or per variant).
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({ title: 'GPU endpoint: invocations and errors', left: [ep.metricInvocations(), ep.metricInvocation4xxErrors(), ep.metricInvocation5xxErrors(), ...(ep.inferenceComponentName ? [ep.metricNoCapacityInvocationFailures()] : [])], width: 8 }),
      new cloudwatch.GraphWidget({ title: 'GPU endpoint: model latency (µs)', left: [ep.metricModelLatency({ statistic: 'p50' }), ep.metricModelLatency({ statistic: 'p95' })], width: 8 }),
      new cloudwatch.GraphWidget({
        title: 'GPU utilization / memory %, instances',
        left: [ep.metricGpuUtilization(), ep.metricGpuMemoryUtilization()],
        right: [ep.metricCpuUtilization({ statistic: 'SampleCount' })],
        rightYAxis: { label: 'instances reporting', min: 0 },
        width: 8,
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({ title: 'Database CPU % and connections', left: [rdsMetrics.metricAverageCpuUsageInPercent()], right: [dbConnections], width: 8 }),
      // 0 ACU while paused: the pilot's idle hours cost no capacity.
      new cloudwatch.GraphWidget({ title: 'Database capacity (ACU; 0 = paused) and % of maximum', left: [dbCapacity], right: [dbAcuUtilization], width: 8 }),
      // Aurora PostgreSQL publishes CommitLatency (SelectLatency/InsertLatency are Aurora MySQL's).
      new cloudwatch.GraphWidget({ title: 'Database commit latency p90 (ms)', left: [rdsMetrics.metricCommitLatencyInMillis(LatencyType.P90)], width: 8 }),
    );

    // --- alarms ------------------------------------------------------------------------------------
    const alarm = (id: string, metric: cloudwatch.IMetric, threshold: number, periods: number, description: string, op = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD) => {
      const a = new cloudwatch.Alarm(this, id, { metric, threshold, evaluationPeriods: periods, datapointsToAlarm: periods, comparisonOperator: op, treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING, alarmDescription: description });
      if (action) a.addAlarmAction(action);
      this.alarms.push(a);
      return a;
    };
    const failedExecutions = alarm('FailedExecutions', execFailed, 1, 1, 'A document pipeline execution failed: see DocumentsFailed and the documents table (status failed, error).');
    const rate = alarm('ErrorRate', errorRate, th.errorRatePercent ?? 5, 3, `More than ${th.errorRatePercent ?? 5}% of pipeline executions fail or time out.`);
    alarm('DatabaseCpu', dbCpu, th.databaseCpuPercent ?? 80, 3, 'Vector database CPU is high: slow searches and stores ahead.');
    alarm('DatabaseCapacity', dbAcuUtilization, th.databaseAcuUtilizationPercent ?? 90, 3, 'Vector database capacity is near its maximum ACUs: raise database.maxCapacityAcu or expect slow searches and stores.');
    alarm('DatabaseConnections', dbConnections, th.databaseConnections ?? 100, 3, 'Vector database connections are near the limit.');

    this.pipelineUnhealthy = new cloudwatch.CompositeAlarm(this, 'PipelineUnhealthy', {
      alarmDescription: 'The document pipeline is unhealthy: executions fail, the error rate is high, or events pile up or dead-letter. Start at the dashboard top row.',
      alarmRule: cloudwatch.AlarmRule.anyOf(...[failedExecutions, rate, ...(props.queueAlarms ?? [])].map((a) => cloudwatch.AlarmRule.fromAlarm(a, cloudwatch.AlarmState.ALARM))),
    });
    if (action) this.pipelineUnhealthy.addAlarmAction(action);
  }
}
