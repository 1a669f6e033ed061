import { CfnResource, Duration, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as budgets from 'aws-cdk-lib/aws-budgets';
import * as ce from 'aws-cdk-lib/aws-ce';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import { acknowledge, allowCloudWatchLogs, createDataKey } from '../common';

export interface CostControlsProps {
  /** Value of the `Environment` tag that scopes every budget. */
  readonly environment: string;
  /**
   * Value of the `Project` tag that scopes every budget too, so two projects' stages of the same
   * name in one account do not count each other's spend.
   * @default - budgets filter on `Environment` only
   */
  readonly project?: string;
  /**
   * Prefix of every account-unique name (budgets, anomaly monitor and subscriptions, the tag activation),
   * e.g. `<project>-<stage>`: budget and monitor names are unique per account, not per stack.
   */
  readonly namePrefix: string;
  /**
   * Create an AWS-services Cost Anomaly Detection monitor. An account may have only one such monitor,
   * so at most one stage of one project per account can own it.
   * @default false
   */
  readonly anomalyMonitor?: boolean;
  /**
   * Activate the cost-allocation tags. Only an organization's management account or a standalone
   * account may; a member account's stack would fail.
   * @default false
   */
  readonly activateCostAllocationTags?: boolean;
  /**
   * Changes on every deploy (scripts/deploy.ts passes the time): the tag activation runs again,
   * which activates tags AWS had not seen at the previous deploy.
   * @default - runs when the tag keys change
   */
  readonly deployNonce?: string;
  /** Tag keys used for cost allocation (activated here). */
  readonly costAllocationTagKeys: string[];
  readonly monthlyLimitUsd: number;
  /** Workload (value of the `Workload` tag) -> monthly limit. @default - none */
  readonly workloadLimitsUsd?: Record<string, number>;
  /**
   * The day-over-day growth alert: a day whose actual spend exceeds this percent of the stage's
   * average daily spend over the last `dailyGrowthBaselineDays` days alerts the topic.
   * @default 150
   */
  readonly dailyGrowthPercent?: number;
  /**
   * Days averaged for the growth alert's amount (AWS allows 1-60 for a daily budget).
   * @default 14
   */
  readonly dailyGrowthBaselineDays?: number;
  /** Anomalies with at least this total impact are reported. */
  readonly anomalyThresholdUsd: number;
  /** Budget alerts, the daily growth alert and immediate anomaly alerts. */
  readonly topic: sns.ITopic;
  /** Budget alerts and the daily anomaly summary. @default - only the topic */
  readonly email?: string;
}

/**
 * Spend that is budgeted, allocated by tag and watched for sudden growth.
 *
 * - AWS Budgets: a monthly cost budget for the stage (tag `Environment`), and one per workload
 *   (tags `Environment` and `Workload`), each alerting at 80% actual and 100% forecasted.
 * - Day-over-day growth, always on: a daily cost budget of the stage whose amount AWS re-sets every
 *   day to the average of the last N days (auto-adjusting, HISTORICAL), alerting when a day's actual
 *   spend exceeds a percent of it. Per stage and uniquely named, so it coexists with every other stage
 *   and project in the account, and member accounts may create it; the AWS-services anomaly monitor
 *   is one per account, tag monitors need the management account, the billing metric has no tags
 *   (growth-alert-options.ts cites each).
 *   Budgets filter on cost-allocation tags, which must be active (the preflight checks them).
 * - Cost Anomaly Detection: a monitor of spend by service and a subscription (daily summary by e-mail,
 *   immediate alerts to the topic) above a USD threshold.
 * - Activation of the cost-allocation tags: CloudFormation has no resource for it, so a custom resource
 *   calls Cost Explorer's UpdateCostAllocationTagsStatus; tags AWS has not seen yet come back as
 *   per-tag errors in the answer and are tolerated (activation can be re-run after first spend).
 *
 * Cost Explorer and Cost Anomaly Detection are served from us-east-1: deploy this construct in a stack
 * whose region is us-east-1 (the app does: `<project>-<stage>-cost`).
 */
export class CostControls extends Construct {
  /** The monthly budgets (stage, workloads). */
  public readonly budgets: budgets.CfnBudget[] = [];
  /** The day-over-day growth alert: a daily auto-adjusting budget of the stage. */
  public readonly dailyGrowthBudget: budgets.CfnBudget;
  public readonly anomalyMonitor?: ce.CfnAnomalyMonitor;
  public readonly anomalySubscriptions: ce.CfnAnomalySubscription[] = [];

  constructor(scope: Construct, id: string, props: CostControlsProps) {
    super(scope, id);
    const region = Stack.of(this).region;
    if (!/^\$\{Token/.test(region) && region !== 'us-east-1') {
      throw new Error(`CostControls: must be deployed in us-east-1 (Cost Explorer and anomaly detection live there), this stack's region is ${region}`);
    }
    if (props.monthlyLimitUsd <= 0) throw new Error(`CostControls: monthlyLimitUsd must be positive, received ${props.monthlyLimitUsd}`);
    const growthPercent = props.dailyGrowthPercent ?? 150;
    const baselineDays = props.dailyGrowthBaselineDays ?? 14;
    if (!Token.isUnresolved(growthPercent) && !(growthPercent > 100)) {
      throw new Error(`CostControls: dailyGrowthPercent must exceed 100 (a day above the recent average), received ${growthPercent}; e.g. 150 alerts when a day costs 1.5 times the average`);
    }
    // https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/API_budgets_HistoricalOptions.html: DAILY allows at most 60.
    if (!Token.isUnresolved(baselineDays) && (!Number.isInteger(baselineDays) || baselineDays < 1 || baselineDays > 60)) {
      throw new Error(`CostControls: dailyGrowthBaselineDays must be a whole number of days from 1 to 60 (AWS Budgets' maximum for a daily budget), received ${baselineDays}`);
    }

    const subscribers: budgets.CfnBudget.SubscriberProperty[] = [
      { subscriptionType: 'SNS', address: props.topic.topicArn },
      ...(props.email ? [{ subscriptionType: 'EMAIL', address: props.email }] : []),
    ];
    const notifications = [
      { notification: { notificationType: 'ACTUAL', comparisonOperator: 'GREATER_THAN', threshold: 80, thresholdType: 'PERCENTAGE' }, subscribers },
      { notification: { notificationType: 'FORECASTED', comparisonOperator: 'GREATER_THAN', threshold: 100, thresholdType: 'PERCENTAGE' }, subscribers },
    ];
    const tag = (key: string, value: string): budgets.CfnBudget.ExpressionProperty => ({ tags: { key, values: [value], matchOptions: ['EQUALS'] } });
    const filters = [...(props.project ? [tag('Project', props.project)] : []), tag('Environment', props.environment)];
    const n = props.namePrefix;
    const budget = (bid: string, name: string, limit: number, filter: budgets.CfnBudget.ExpressionProperty) => {
      const b = new budgets.CfnBudget(this, bid, {
        budget: { budgetName: name, budgetType: 'COST', timeUnit: 'MONTHLY', budgetLimit: { amount: limit, unit: 'USD' }, filterExpression: filter },
        notificationsWithSubscribers: notifications,
      });
      this.budgets.push(b);
    };
    budget('Stage', `${n}-monthly`, props.monthlyLimitUsd, filters.length === 1 ? filters[0] : { and: filters });
    for (const [workload, limit] of Object.entries(props.workloadLimitsUsd ?? {})) {
      budget(`Workload-${workload}`, `${n}-${workload}-monthly`, limit, { and: [...filters, tag('Workload', workload)] });
    }
    // No BudgetLimit: an auto-adjusting budget's amount is what AWS computes at the start of each day
    // from the baseline (https://docs.aws.amazon.com/cost-management/latest/userguide/budget-methods.html).
    // ACTUAL only: the day's spend so far is the growth; a forecast of one day adds nothing.
    // A budget's notifications change only by replacement (AWS::Budgets::Budget NotificationsWithSubscribers
    // is create-only), and CloudFormation refuses to replace a resource under the same custom name: the
    // percent is in the name, so changing it deploys as a new budget instead of failing the update.
    this.dailyGrowthBudget = new budgets.CfnBudget(this, 'DailyGrowth', {
      budget: {
        budgetName: `${n}-daily-growth-${growthPercent}pct`,
        budgetType: 'COST',
        timeUnit: 'DAILY',
        autoAdjustData: { autoAdjustType: 'HISTORICAL', historicalOptions: { budgetAdjustmentPeriod: baselineDays } },
        filterExpression: filters.length === 1 ? filters[0] : { and: filters },
      },
      // The topic only (it e-mails its subscribers): an e-mail subscriber here would make adding or
      // changing the alarm e-mail a replacement of the budget, which fails under the same name.
      notificationsWithSubscribers: [
        { notification: { notificationType: 'ACTUAL', comparisonOperator: 'GREATER_THAN', threshold: growthPercent, thresholdType: 'PERCENTAGE' }, subscribers: [{ subscriptionType: 'SNS', address: props.topic.topicArn }] },
      ],
    });
    if (props.anomalyMonitor) this.anomalyMonitor = this.createAnomalyMonitor(props);
    if (props.activateCostAllocationTags) this.activateTags(props);
  }

  private createAnomalyMonitor(props: CostControlsProps): ce.CfnAnomalyMonitor {
    const n = props.namePrefix;
    const monitor = new ce.CfnAnomalyMonitor(this, 'AnomalyMonitor', {
      monitorName: `${n}-services`,
      monitorType: 'DIMENSIONAL',
      monitorDimension: 'SERVICE',
    });
    const threshold = JSON.stringify({ Dimensions: { Key: 'ANOMALY_TOTAL_IMPACT_ABSOLUTE', MatchOptions: ['GREATER_THAN_OR_EQUAL'], Values: [String(props.anomalyThresholdUsd)] } });
    this.anomalySubscriptions.push(new ce.CfnAnomalySubscription(this, 'AnomalyAlerts', {
      subscriptionName: `${n}-anomalies-immediate`,
      frequency: 'IMMEDIATE', // SNS subscribers require IMMEDIATE
      monitorArnList: [monitor.attrMonitorArn],
      subscribers: [{ type: 'SNS', address: props.topic.topicArn }],
      thresholdExpression: threshold,
    }));
    if (props.email) {
      this.anomalySubscriptions.push(new ce.CfnAnomalySubscription(this, 'AnomalyDaily', {
        subscriptionName: `${n}-anomalies-daily`,
        frequency: 'DAILY', // day-over-day summary by e-mail
        monitorArnList: [monitor.attrMonitorArn],
        subscribers: [{ type: 'EMAIL', address: props.email }],
        thresholdExpression: threshold,
      }));
    }
    return monitor;
  }

  private activateTags(props: CostControlsProps): void {
    const logKey = createDataKey(this, 'LogKey', { description: 'Encrypts the cost-allocation tag activation logs', removalPolicy: RemovalPolicy.DESTROY });
    allowCloudWatchLogs(logKey);
    const logGroup = new logs.LogGroup(this, 'ActivationLogs', { encryptionKey: logKey, retention: logs.RetentionDays.ONE_YEAR, removalPolicy: RemovalPolicy.DESTROY });
    const activate = new cr.AwsCustomResource(this, 'ActivateCostAllocationTags', {
      logGroup,
      timeout: Duration.minutes(2),
      memorySize: 256,
      onUpdate: {
        service: 'CostExplorer',
        action: 'UpdateCostAllocationTagsStatus',
        parameters: { CostAllocationTagsStatus: props.costAllocationTagKeys.map((TagKey) => ({ TagKey, Status: 'Active' })) },
        physicalResourceId: cr.PhysicalResourceId.of(`cost-allocation-tags-${props.namePrefix}`),
        region: 'us-east-1',
      },
      policy: cr.AwsCustomResourcePolicy.fromStatements([new iam.PolicyStatement({ actions: ['ce:UpdateCostAllocationTagsStatus'], resources: ['*'] })]),
      installLatestAwsSdk: false,
    });
    // A property that changes on every deploy makes CloudFormation send an Update, so the call runs again.
    if (props.deployNonce) (activate.node.findChild('Resource').node.defaultChild as CfnResource).addPropertyOverride('DeployNonce', props.deployNonce);
    acknowledge(activate, ['AwsSolutions::AwsSolutions-IAM5[Resource::*]'], 'ce:UpdateCostAllocationTagsStatus has no resource-level permissions (cost-allocation tags are account settings).');
    const provider = Stack.of(this).node.tryFindChild('AWS679f53fac002430cb0da5b7982bd2287');
    if (provider) {
      acknowledge(provider, [
        'AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
        'HIPAA.Security::HIPAA.Security-LambdaConcurrency', 'HIPAA.Security::HIPAA.Security-LambdaDLQ', 'HIPAA.Security::HIPAA.Security-LambdaInsideVPC',
        'NIST.800.53.R5::NIST.800.53.R5-LambdaConcurrency', 'NIST.800.53.R5::NIST.800.53.R5-LambdaDLQ', 'NIST.800.53.R5::NIST.800.53.R5-LambdaInsideVPC',
        'PCI.DSS.321::PCI.DSS.321-LambdaInsideVPC', 'Serverless::Serverless-LambdaDLQ', 'Serverless::Serverless-LambdaTracing', 'Serverless::Serverless-LambdaDefaultMemorySize',
        'Serverless::Serverless-LambdaAsyncFailureDestination', 'cdk-validator-cfnguard::lambda_inside_vpc_check', 'AwsSolutions::AwsSolutions-L1',
      ], 'CDK AwsCustomResource handler that makes one Cost Explorer API call (activate cost-allocation tags) while CloudFormation deploys this stack; ' +
        'it is invoked only by CloudFormation, holds no data, and its only permission is ce:UpdateCostAllocationTagsStatus. CDK offers no VPC, DLQ, ' +
        'concurrency or runtime settings for this singleton; this stack has no VPC (it lives in us-east-1 for Cost Explorer).');
    }
  }
}
