import { Duration, Size } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { acknowledge, DocaiFunction, FunctionPlacement } from '../common';
import { DocaiMetricFactory } from '../common/metric-factory';
import { ACCESS_TIERS, SEARCH_WORKFLOWS } from '../contract';
import type { IVectorDatabase } from './vector-database';

/**
 * The database user the collector logs in as (schema migration 0008): LOGIN and rds_iam, no grant on
 * any table; the size functions and pg_stat_user_tables need none.
 */
const METRICS_DB_USER = 'docai_metrics';

/** Options of VectorStoreMetrics.metricDeadTuplePercent. */
export interface VectorDeadTupleMetricOptions {
  /** @default Duration.minutes(5) */
  readonly period?: Duration;
}

/** Options of VectorStoreMetrics.metricIndexGrowthPercent. */
export interface VectorIndexGrowthMetricOptions {
  /** @default Duration.days(1) */
  readonly period?: Duration;
  /** Indexes smaller than this count as this size. @default Size.mebibytes(256) */
  readonly floor?: Size;
}

export interface VectorStoreMetricsProps {
  /** The database to measure (any IVectorDatabase: deployed here or imported). */
  readonly database: IVectorDatabase;
  /** Where the collector runs (its VPC side, key, log retention, DLQ); it joins the database's client security group. */
  readonly placement: FunctionPlacement;
  /**
   * How often the schedule measures. Each run opens a connection, which resumes a paused Aurora
   * Serverless v2 instance and keeps it up for its auto-pause delay: a pausable database wants hours here.
   * The Store step also measures, on its own connection, after documents are stored.
   * @default Duration.hours(1)
   */
  readonly collectEvery?: Duration;
  /** @default - the alarms have no action */
  readonly alarmTopic?: sns.ITopic;
  /**
   * Alarm when the HNSW index grows by this percent or more within one day (its largest minus its
   * smallest measurement of the day, over the smallest).
   * @default 50
   */
  readonly indexGrowthPercentPerDay?: number;
  /**
   * Growth of an index smaller than this is measured against this size instead (a young index doubles
   * with its first documents: no alarm for that).
   * @default Size.mebibytes(256)
   */
  readonly indexGrowthFloor?: Size;
  /**
   * Alarm when dead tuples average this percent or more of the chunk table's tuples over a day
   * (autovacuum is not keeping up: the table and index bloat, storage grows, searches slow down).
   * @default 20
   */
  readonly deadTuplePercent?: number;
}

/**
 * The vector store's volume and size, as metrics, alarms and a dashboard row.
 *
 * Creates: a collector function in the VPC (lambda/vector_metrics) that logs in with IAM
 * authentication as `docai_metrics` and emits VectorTableBytes, VectorIndexBytes, VectorRows and
 * VectorDeadTuples (EMF; the deployment dimensions only: 4 custom metrics per deployment), an
 * EventBridge schedule for it, and two alarms: HNSW index growth in a day and the dead-tuple ratio.
 * VectorSearches (per Tier and Workflow: 4 x 2 = 8 custom metrics) are emitted by the retrieve
 * function; this construct charts them.
 */
export class VectorStoreMetrics extends Construct {
  /** The database user the collector logs in as (schema migration 0008: no grant on any table). */
  public static readonly DB_USER: string = METRICS_DB_USER;

  public readonly collector: DocaiFunction;
  public readonly schedule: events.Rule;
  public readonly indexGrowthAlarm: cloudwatch.Alarm;
  public readonly deadTupleAlarm: cloudwatch.Alarm;
  public readonly alarms: cloudwatch.Alarm[];
  private readonly factory: DocaiMetricFactory;

  constructor(scope: Construct, id: string, props: VectorStoreMetricsProps) {
    super(scope, id);
    const every = props.collectEvery ?? Duration.hours(1);
    const minutes = every.toMinutes({ integral: false });
    if (minutes < 5 || minutes > 24 * 60 || !Number.isInteger(minutes)) {
      throw new Error(`VectorStoreMetrics: collectEvery must be whole minutes from 5 minutes to 24 hours, received ${every.toHumanString()}; the daily alarms need a measurement a day`);
    }
    const growth = props.indexGrowthPercentPerDay ?? 50;
    if (!(growth > 0)) throw new Error(`VectorStoreMetrics: indexGrowthPercentPerDay must be above 0, received ${growth}`);
    const dead = props.deadTuplePercent ?? 20;
    if (!(dead > 0 && dead <= 100)) throw new Error(`VectorStoreMetrics: deadTuplePercent must be above 0 and at most 100, received ${dead}`);
    const floorBytes = (props.indexGrowthFloor ?? Size.mebibytes(256)).toBytes();
    this.factory = DocaiMetricFactory.of(this);

    const placement = props.placement;
    this.collector = new DocaiFunction(this, 'Collector', {
      folder: 'vector_metrics',
      index: 'vector_metrics_handler.py',
      description: 'Measures the vector store (table and HNSW index bytes, rows, dead tuples) as CloudWatch metrics',
      timeout: Duration.seconds(60),
      memorySize: 128,
      environment: props.database.connectionEnvironment(METRICS_DB_USER),
      workflow: 'vector-metrics',
      ...placement,
      securityGroups: [...placement.securityGroups, props.database.clientSecurityGroup],
    });
    props.database.grantConnect(this.collector, METRICS_DB_USER);

    // A missed run is not retried for long: the next one measures again. A run that fails lands in the
    // function's own asynchronous dead-letter queue (the placement's). A scheduled rule needs no role of
    // its own (EventBridge Scheduler, which AWS now recommends for new schedules, would):
    // https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rules.html
    this.schedule = new events.Rule(this, 'Schedule', {
      description: `Measures the vector store every ${every.toHumanString()}`,
      schedule: events.Schedule.rate(every),
      targets: [new targets.LambdaFunction(this.collector, { retryAttempts: 2, maxEventAge: Duration.hours(1) })],
    });
    acknowledge(this.schedule, ['Serverless::Serverless-EventBusDLQ'],
      'A schedule that invokes the collector function: an event EventBridge could not deliver (after 2 retries within an hour) is one ' +
        'skipped measurement, which the next scheduled run and the next Store replace; it carries no data. A run that fails inside the ' +
        'function goes to the function\'s asynchronous dead-letter queue, which alarms.');

    // Day-over-day growth without a time-shift function: within one day's period, the largest
    // measurement minus the smallest (hourly collection: 23 hours of growth), over the smallest.
    // Metric math in alarms: https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Create-alarm-on-metric-math-expression.html
    const action = props.alarmTopic ? new cwActions.SnsAction(props.alarmTopic) : undefined;
    const day = Duration.days(1);
    this.indexGrowthAlarm = new cloudwatch.Alarm(this, 'IndexGrowth', {
      metric: this.metricIndexGrowthPercent({ period: day, floor: Size.bytes(floorBytes) }),
      threshold: growth,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING, // a paused database has nothing to report
      alarmDescription: `The vector store's HNSW index grew by ${growth}% or more within a day (VectorIndexBytes; indexes under ${Math.round(floorBytes / 2 ** 20)} MiB count as that size): ` +
        'more documents than planned, re-embedding, or a loop storing the same documents. Storage cost follows; see npm run cost for the sizing.',
    });
    this.deadTupleAlarm = new cloudwatch.Alarm(this, 'DeadTuples', {
      metric: this.metricDeadTuplePercent({ period: day }),
      threshold: dead,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription: `Dead tuples averaged ${dead}% or more of the chunk table over a day (VectorDeadTuples / (VectorRows + VectorDeadTuples)): ` +
        'autovacuum is not keeping up with replaced and deleted chunks; the table and its HNSW index bloat.',
    });
    this.alarms = [this.indexGrowthAlarm, this.deadTupleAlarm];
    if (action) for (const a of this.alarms) a.addAlarmAction(action);
  }

  /** Searches of one tier in one query workflow (VectorSearches, from the retrieve function). @default Sum over 5 minutes */
  public metricSearches(tier: string, workflow: string, props: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return this.factory.metric('VectorSearches', { Tier: tier, Workflow: workflow }, { statistic: 'Sum', ...props });
  }

  /** The chunk table's bytes: heap, TOAST and every index, the HNSW index included. @default Maximum over 5 minutes */
  public metricTableBytes(props: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return this.factory.metric('VectorTableBytes', {}, { statistic: 'Maximum', ...props });
  }

  /** The HNSW index's bytes. @default Maximum over 5 minutes */
  public metricIndexBytes(props: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return this.factory.metric('VectorIndexBytes', {}, { statistic: 'Maximum', ...props });
  }

  /** Live chunk rows (pg_stat_user_tables.n_live_tup). @default Maximum over 5 minutes */
  public metricRows(props: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return this.factory.metric('VectorRows', {}, { statistic: 'Maximum', ...props });
  }

  /** Dead tuples of the chunk table (n_dead_tup). @default Maximum over 5 minutes */
  public metricDeadTuples(props: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return this.factory.metric('VectorDeadTuples', {}, { statistic: 'Maximum', ...props });
  }

  /** Dead tuples as a percent of all the chunk table's tuples (averages over the period). */
  public metricDeadTuplePercent(props: VectorDeadTupleMetricOptions = {}): cloudwatch.MathExpression {
    const o = { statistic: 'Average', period: props.period };
    return this.factory.expression('100 * dead / MAX([live + dead, 1])', { dead: this.metricDeadTuples(o), live: this.metricRows(o) },
      { label: 'dead tuples %', period: props.period });
  }

  /**
   * Growth of the HNSW index within each period, percent: (largest - smallest) / MAX(smallest, floor).
   * @default period 1 day, floor 256 MiB
   */
  public metricIndexGrowthPercent(props: VectorIndexGrowthMetricOptions = {}): cloudwatch.MathExpression {
    const period = props.period ?? Duration.days(1);
    const floor = (props.floor ?? Size.mebibytes(256)).toBytes();
    return this.factory.expression(`100 * (hi - lo) / MAX([lo, ${floor}])`, {
      hi: this.metricIndexBytes({ statistic: 'Maximum', period }), lo: this.metricIndexBytes({ statistic: 'Minimum', period }),
    }, { label: 'HNSW index growth % (in the period)', period });
  }

  /** The dashboard row: searches per tier and workflow, bytes, rows and dead tuples. */
  public dashboardWidgets(): cloudwatch.IWidget[] {
    const minute = Duration.minutes(1);
    return [
      new cloudwatch.GraphWidget({
        title: 'Vector searches per minute, per tier and workflow',
        left: SEARCH_WORKFLOWS.flatMap((w) => ACCESS_TIERS.map((t) => this.metricSearches(t, w, { period: minute, label: `${t} ${w}` }))),
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Vector store bytes: chunk table (incl. indexes) and HNSW index',
        left: [this.metricTableBytes({ period: Duration.hours(1), label: 'table bytes' }), this.metricIndexBytes({ period: Duration.hours(1), label: 'HNSW index bytes' })],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Vector store rows, dead tuples, dead %',
        left: [this.metricRows({ period: Duration.hours(1), label: 'rows' }), this.metricDeadTuples({ period: Duration.hours(1), label: 'dead tuples' })],
        right: [this.metricDeadTuplePercent({ period: Duration.hours(1) })],
        width: 8,
      }),
    ];
  }
}
