import { Stack, StackProps } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { AlarmTopic } from '../alarm-topic';
import { TAG_KEYS, tagWorkload } from '../app/tags';
import { setMetricDimensions } from '../common';
import { StageConfig } from '../config';
import { CostControls } from '../cost-controls';
import { Observability } from '../observability';
import { AppStack } from './app-stack';
import { DataStack } from './data-stack';
import { InferenceStack } from './inference-stack';
import { deploymentMetricDimensions, namePrefix } from './stack-names';

export interface MonitoringStackProps extends StackProps {
  readonly config: StageConfig;
  readonly data: DataStack;
  readonly inference: InferenceStack;
  readonly app: AppStack;
}

/** The stage's dashboard and cross-cutting alarms. Stateless. */
export class MonitoringStack extends Stack {
  public readonly observability: Observability;

  constructor(scope: Construct, id: string, props: MonitoringStackProps) {
    super(scope, id, props);
    setMetricDimensions(this, deploymentMetricDimensions(props.config));
    const { config: c, data, inference, app } = props;
    tagWorkload(this, 'observability');
    this.observability = new Observability(this, 'Observability', {
      dashboardName: namePrefix(c),
      alarmTopic: data.alarms.topic,
      pipeline: app.pipeline.stateMachine,
      ingestionQueue: data.ingestionQueue.queue,
      deadLetterQueue: data.ingestionQueue.deadLetterQueue,
      queueAlarms: [data.ingestionQueue.deadLetterAlarm, data.ingestionQueue.oldestMessageAlarm],
      endpoint: inference.embedding,
      database: data.database.instance,
      embeddingUsdPerMillionTokens: c.observability.embeddingUsdPerMillionTokens,
      thresholds: {
        errorRatePercent: c.observability.errorRatePercent,
        databaseCpuPercent: c.observability.databaseCpuPercent,
        databaseFreeStorageGiB: c.observability.databaseFreeStorageGiB,
        databaseConnections: c.observability.databaseConnections,
      },
    });
    this.observability.dashboard.addWidgets(...app.query.dashboardWidgets());
  }
}

/**
 * Budgets, cost anomaly detection and cost-allocation tag activation. Pinned to us-east-1, where Cost
 * Explorer and anomaly detection are served, with its own encrypted topic (budget and anomaly alerts
 * are published there and to the alarm e-mail).
 */
export class CostStack extends Stack {
  public readonly costControls: CostControls;
  public readonly topic: AlarmTopic;

  constructor(scope: Construct, id: string, props: StackProps & { config: StageConfig; deployNonce?: string }) {
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
      anomalyThresholdUsd: c.budget.anomalyThresholdUsd,
      topic: this.topic.topic,
      email: c.alarmEmail,
    });
  }
}
