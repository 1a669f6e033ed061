import { Stack, StackProps } from 'aws-cdk-lib';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { AlarmTopic } from '../alarm-topic';
import { tagWorkload } from '../common/tags';
import { TAG_KEYS } from '../contract';
import { setMetricDimensions } from '../common';
import { StageConfig } from '../config';
import { CostControls } from '../cost-controls';
import { IDocumentPipeline } from '../document-pipeline';
import { GpuInferenceEndpoint } from '../gpu-inference';
import { IngestionQueue } from '../ingestion';
import { Observability } from '../observability';
import { QueryApi } from '../query-api';
import { VectorDatabase, VectorStoreMetrics } from '../vector-database';
import { deploymentMetricDimensions, namePrefix } from './stack-names';

/** Handles of what the dashboard and alarms watch (never whole stacks). */
export interface MonitoringStackProps extends StackProps {
  readonly config: StageConfig;
  readonly alarmTopic: sns.ITopic;
  readonly pipeline: IDocumentPipeline;
  readonly ingestionQueue: IngestionQueue;
  readonly database: VectorDatabase;
  /** The documents' embedding endpoint. */
  readonly embedding: GpuInferenceEndpoint;
  readonly query: QueryApi;
  /** The vector store's volume and size (its dashboard row). @default - no vector store row */
  readonly vectorStore?: VectorStoreMetrics;
}

/** The stage's dashboard and cross-cutting alarms. Stateless. */
export class MonitoringStack extends Stack {
  public readonly observability: Observability;

  constructor(scope: Construct, id: string, props: MonitoringStackProps) {
    super(scope, id, props);
    setMetricDimensions(this, deploymentMetricDimensions(props.config));
    const { config: c } = props;
    tagWorkload(this, 'observability');
    this.observability = new Observability(this, 'Observability', {
      dashboardName: namePrefix(c),
      alarmTopic: props.alarmTopic,
      pipeline: props.pipeline.stateMachine,
      ingestionQueue: props.ingestionQueue.queue,
      deadLetterQueue: props.ingestionQueue.deadLetterQueue,
      queueAlarms: [props.ingestionQueue.deadLetterAlarm, props.ingestionQueue.oldestMessageAlarm],
      endpoint: props.embedding,
      database: props.database,
      embeddingUsdPerMillionTokens: c.observability.embeddingUsdPerMillionTokens,
      thresholds: {
        errorRatePercent: c.observability.errorRatePercent,
        databaseCpuPercent: c.observability.databaseCpuPercent,
        databaseAcuUtilizationPercent: c.observability.databaseAcuUtilizationPercent,
        databaseConnections: c.observability.databaseConnections,
      },
    });
    this.observability.dashboard.addWidgets(...props.query.dashboardWidgets());
    if (props.vectorStore) this.observability.dashboard.addWidgets(...props.vectorStore.dashboardWidgets());
  }
}

export interface CostStackProps extends StackProps {
  readonly config: StageConfig;
  /** Changes when the cost-allocation tags must be activated again (npm run deploy passes it). @default - none */
  readonly deployNonce?: string;
}

/**
 * Budgets (monthly, and the daily growth alert), cost anomaly detection and cost-allocation tag activation. Pinned to us-east-1, where Cost
 * Explorer and anomaly detection are served, with its own encrypted topic (budget and anomaly alerts
 * are published there and to the alarm e-mail).
 */
export class CostStack extends Stack {
  public readonly costControls: CostControls;
  public readonly topic: AlarmTopic;

  constructor(scope: Construct, id: string, props: CostStackProps) {
    super(scope, id, props);
    const c = props.config;
    tagWorkload(this, 'observability');
    this.topic = new AlarmTopic(this, 'CostAlerts', { email: c.alarmEmail });
    this.costControls = new CostControls(this, 'CostControls', {
      environment: c.stage,
      project: c.projectName,
      namePrefix: namePrefix(c),
      anomalyMonitor: c.budget.anomalyMonitor === 'services',
      activateCostAllocationTags: c.budget.activateCostAllocationTags,
      deployNonce: props.deployNonce,
      costAllocationTagKeys: Object.values(TAG_KEYS),
      monthlyLimitUsd: c.budget.monthlyLimitUsd,
      workloadLimitsUsd: c.budget.workloadLimitsUsd,
      dailyGrowthPercent: c.budget.dailyGrowthPercent,
      dailyGrowthBaselineDays: c.budget.dailyGrowthBaselineDays,
      anomalyThresholdUsd: c.budget.anomalyThresholdUsd,
      topic: this.topic.topic,
      email: c.alarmEmail,
    });
  }
}
