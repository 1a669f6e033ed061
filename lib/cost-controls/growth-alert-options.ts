/**
 * What AWS offers for a day-over-day cost growth alert, and why CostControls creates the daily
 * auto-adjusting budget by default. Read 2026-12 from the pages in `sources`; the README's table is
 * rendered from this one (test/cost-controls/growth-alert.test.ts). Not part of the construct API.
 */
export interface GrowthAlertOption {
  readonly mechanism: string;
  /** How many one account may hold, and what makes one stage's copy collide with another's. */
  readonly perAccount: string;
  /** What an AWS Organizations member account can do with it. */
  readonly memberAccount: string;
  /** What the account must have before it alerts. */
  readonly prerequisite: string;
  /** Whether every stage of every project in one account can have its own. */
  readonly perStage: boolean;
  readonly chosen: 'default' | 'opt-in' | 'no';
  readonly why: string;
  readonly sources: readonly string[];
}

export const GROWTH_ALERT_OPTIONS: readonly GrowthAlertOption[] = [
  {
    mechanism: 'AWS Budgets: daily cost budget, auto-adjusting (HISTORICAL, average of the last N days), filtered by the Project and Environment tags',
    perAccount: 'thousands of budgets per account (20,000 in the Budgets guide); a name is unique per account, so each stage names its own',
    memberAccount: 'member accounts create budgets by default',
    prerequisite: 'the tags it filters on are activated as cost-allocation tags (only the management account or a standalone account activates them); otherwise it sees 0 USD',
    perStage: true,
    chosen: 'default',
    why: 'one per stage, no account-wide singleton; the amount follows the stage\'s own recent spend; alert on ACTUAL above a percent of it; free without budget actions',
    sources: [
      'https://docs.aws.amazon.com/aws-cost-management/latest/APIReference/API_budgets_HistoricalOptions.html',
      'https://docs.aws.amazon.com/cost-management/latest/userguide/budget-methods.html',
      'https://docs.aws.amazon.com/cost-management/latest/userguide/budgets-create.html',
      'https://docs.aws.amazon.com/awsaccountbilling/latest/aboutv2/budgets-managing-costs.html', // the 20,000
      'https://docs.aws.amazon.com/awsaccountbilling/latest/aboutv2/cost-alloc-tags.html',
      'https://docs.aws.amazon.com/awsaccountbilling/latest/aboutv2/custom-tags.html',
    ],
  },
  {
    mechanism: 'Cost Anomaly Detection: AWS-services monitor (DIMENSIONAL, SERVICE)',
    perAccount: 'one per account (plus up to 500 custom monitors)',
    memberAccount: 'a member account may create it, for its own spend',
    prerequisite: 'none; 10 days of a service\'s history before it detects anomalies there; runs about three times a day',
    perStage: false,
    chosen: 'opt-in',
    why: 'account-wide and one per account: two stages cannot both own it (budget.anomalyMonitor: services, in one stage per account)',
    sources: [
      'https://aws.amazon.com/aws-cost-management/aws-cost-anomaly-detection/faqs/',
      'https://docs.aws.amazon.com/cost-management/latest/userguide/manage-ad.html',
    ],
  },
  {
    mechanism: 'Cost Anomaly Detection: custom monitor of a cost-allocation tag or cost category',
    perAccount: 'up to 500 custom monitors',
    memberAccount: 'cannot: monitors of linked accounts, cost-allocation tags and cost categories are created in the management account only',
    prerequisite: 'activated cost-allocation tags (or a cost category) and the management account',
    perStage: true,
    chosen: 'no',
    why: 'a stage deployed in a member account (the usual case) could not create it',
    sources: ['https://docs.aws.amazon.com/cost-management/latest/userguide/getting-started-ad.html'],
  },
  {
    mechanism: 'CloudWatch alarm on AWS/Billing EstimatedCharges (static or anomaly band)',
    perAccount: 'any number of alarms, but one metric for the whole account (dimensions ServiceName, LinkedAccount, Currency: no tag)',
    memberAccount: 'its metrics exist only if the payer account enables "Receive Billing Alerts"',
    prerequisite: '"Receive Billing Alerts" enabled; the metric lives in us-east-1 only',
    perStage: false,
    chosen: 'no',
    why: 'cannot tell one stage or project from another, and the charge is month-to-date (it falls to 0 on the 1st), not a daily figure',
    sources: ['https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/monitor_estimated_charges_with_cloudwatch.html'],
  },
];

/** The README's table of the options (what a team reads before choosing). */
export function growthAlertOptionsTable(): string {
  const rows = GROWTH_ALERT_OPTIONS.map((o) => `| ${o.mechanism} | ${o.perAccount} | ${o.memberAccount} | ${o.prerequisite} | ${o.chosen === 'default' ? '**default**' : o.chosen} |`);
  return ['| growth alert | per account | in an Organizations member account | needs | here |', '|---|---|---|---|---|', ...rows].join('\n');
}
