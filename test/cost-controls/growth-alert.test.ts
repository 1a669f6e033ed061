import * as fs from 'fs';
import * as path from 'path';
import { App, Stack } from 'aws-cdk-lib';
import * as sns from 'aws-cdk-lib/aws-sns';
import { Template } from 'aws-cdk-lib/assertions';
import { configFor, synthStage } from '../helpers';
import { PILOT, validateStageConfig } from '../../lib/config';
import { CostControls } from '../../lib/cost-controls';
import { GROWTH_ALERT_OPTIONS, growthAlertOptionsTable } from '../../lib/cost-controls/growth-alert-options';
import { CostStack } from '../../lib/stacks';

const ROOT = path.join(__dirname, '..', '..');
const growthBudgets = (t: Template) => (Object.values(t.findResources('AWS::Budgets::Budget')) as any[]).filter((b) => b.Properties.Budget.TimeUnit === 'DAILY');

describe.each(['pilot', 'production'])('day-over-day growth alert of the %s stage', (stage) => {
  // No overrides: what a stage gets out of the box (no e-mail, no anomaly monitor, no tag activation).
  const synth = () => synthStage(stage);
  const cost = () => synth().templates[`docai-${stage}-cost`];

  test('is on by default: one daily cost budget whose amount AWS re-sets each day to the stage\'s recent average, alerting on actual spend above the configured percent', () => {
    const { config } = synth();
    const daily = growthBudgets(cost());
    expect(daily).toHaveLength(1);
    const { Budget, NotificationsWithSubscribers } = daily[0].Properties;
    expect(Budget).toEqual({
      BudgetName: `docai-${stage}-daily-growth-150pct`,
      BudgetType: 'COST',
      TimeUnit: 'DAILY',
      AutoAdjustData: { AutoAdjustType: 'HISTORICAL', HistoricalOptions: { BudgetAdjustmentPeriod: config.budget.dailyGrowthBaselineDays } },
      // only this project's stage: another stage or project in the account does not move it
      FilterExpression: { And: [{ Tags: { Key: 'Project', Values: ['docai'], MatchOptions: ['EQUALS'] } }, { Tags: { Key: 'Environment', Values: [stage], MatchOptions: ['EQUALS'] } }] },
    });
    expect(NotificationsWithSubscribers).toEqual([
      { Notification: { NotificationType: 'ACTUAL', ComparisonOperator: 'GREATER_THAN', Threshold: config.budget.dailyGrowthPercent, ThresholdType: 'PERCENTAGE' }, Subscribers: [{ SubscriptionType: 'SNS', Address: expect.anything() }] },
    ]);
    // the same in both stages: a different percent would make the promotion replace the budget
    expect(config.budget.dailyGrowthPercent).toBe(150);
    expect(config.budget.dailyGrowthBaselineDays).toBe(14);
  });

  test('alerts the cost alert topic, which lets AWS Budgets of this account publish with its key', () => {
    const t = cost();
    const address = growthBudgets(t)[0].Properties.NotificationsWithSubscribers[0].Subscribers[0].Address;
    const topicId = address.Ref as string;
    expect(topicId).toMatch(/^CostAlertsTopic/);
    const topic = t.findResources('AWS::SNS::Topic')[topicId];
    expect(topic).toBeDefined();
    const policies = Object.values(t.findResources('AWS::SNS::TopicPolicy')) as any[];
    const policy = policies.find((p) => JSON.stringify(p.Properties.Topics) === JSON.stringify([{ Ref: topicId }]));
    const budgetsPublish = policy.Properties.PolicyDocument.Statement.find((s: any) => s.Principal?.Service === 'budgets.amazonaws.com');
    expect(budgetsPublish).toMatchObject({ Effect: 'Allow', Action: 'sns:Publish', Resource: { Ref: topicId } });
    expect(JSON.stringify(budgetsPublish.Condition)).toMatch(/aws:SourceAccount.*budgets::/);
    // the topic is encrypted: AWS Budgets must also be allowed to use the topic's key
    const keyId = topic.Properties.KmsMasterKeyId['Fn::GetAtt'][0];
    const keyPolicy = t.findResources('AWS::KMS::Key')[keyId].Properties.KeyPolicy.Statement as any[];
    expect(keyPolicy.find((s) => s.Principal?.Service === 'budgets.amazonaws.com')).toMatchObject({ Effect: 'Allow', Action: ['kms:Decrypt', 'kms:GenerateDataKey*'] });
  });

  test('with the alarm e-mail, the growth alert reaches it through the topic, and the budget does not change (its notifications change only by replacement)', () => {
    const t = synthStage(stage, { alarmEmail: 'oncall@example.com' }).templates[`docai-${stage}-cost`];
    expect(growthBudgets(t)[0].Properties).toEqual(growthBudgets(cost())[0].Properties);
    const topicId = growthBudgets(t)[0].Properties.NotificationsWithSubscribers[0].Subscribers[0].Address.Ref;
    t.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'oncall@example.com', TopicArn: { Ref: topicId } });
  });

  test('adds no anomaly monitor, subscription or alarm: the AWS-services monitor stays opt-in', () => {
    const t = cost();
    t.resourceCountIs('AWS::CE::AnomalyMonitor', 0);
    t.resourceCountIs('AWS::CE::AnomalySubscription', 0);
    t.resourceCountIs('AWS::CloudWatch::Alarm', 0);
  });
});

describe('growth alerts of two stages of two projects in one account', () => {
  const world = [['docai', 'pilot'], ['docai', 'production'], ['acme-rag', 'pilot'], ['acme-rag', 'production']] as const;
  // One app, one account: all four cost stacks exist together before the synth.
  const app = new App();
  const stacks = world.map(([projectName, stage]) => new CostStack(app, `${projectName}-${stage}-cost`, { config: configFor(stage, { projectName }), env: { account: '111122223333', region: 'us-east-1' } }));
  const assembly = app.synth();
  const daily = stacks.map((s) => growthBudgets(Template.fromJSON(assembly.getStackByName(s.stackName).template))[0].Properties.Budget);

  test('each has its own growth budget, named for project and stage (budget names are unique per account)', () => {
    expect(daily.map((b) => b.BudgetName)).toEqual(['docai-pilot-daily-growth-150pct', 'docai-production-daily-growth-150pct', 'acme-rag-pilot-daily-growth-150pct', 'acme-rag-production-daily-growth-150pct']);
  });

  test('each counts only its own project and stage: the other stage, or the same stage of the other project, is filtered out', () => {
    world.forEach(([projectName, stage], i) => {
      expect(daily[i].FilterExpression).toEqual({ And: [{ Tags: { Key: 'Project', Values: [projectName], MatchOptions: ['EQUALS'] } }, { Tags: { Key: 'Environment', Values: [stage], MatchOptions: ['EQUALS'] } }] });
    });
  });
});

describe('CostControls growth alert props', () => {
  const make = (props: { dailyGrowthPercent?: number; dailyGrowthBaselineDays?: number }) => {
    const stack = new Stack(new App(), 'Cost', { env: { account: '111122223333', region: 'us-east-1' } });
    return new CostControls(stack, 'CostControls', {
      environment: 'pilot', namePrefix: 'x-pilot', costAllocationTagKeys: ['Environment'], monthlyLimitUsd: 10, anomalyThresholdUsd: 5,
      topic: new sns.Topic(stack, 'T'), ...props,
    });
  };

  test('defaults to 150% of the last 14 days', () => {
    const c = make({});
    expect((c.dailyGrowthBudget.budget as any).autoAdjustData.historicalOptions.budgetAdjustmentPeriod).toBe(14);
    expect((c.dailyGrowthBudget.notificationsWithSubscribers as any)[0].notification.threshold).toBe(150);
  });

  test('another percent is another budget name: its notifications change only by replacement, which CloudFormation refuses under the same name', () => {
    expect((make({ dailyGrowthPercent: 200 }).dailyGrowthBudget.budget as any).budgetName).toBe('x-pilot-daily-growth-200pct');
    expect((make({}).dailyGrowthBudget.budget as any).budgetName).toBe('x-pilot-daily-growth-150pct');
  });

  test('refuses a percent that would alert on an ordinary day, and a baseline AWS does not allow, naming the prop and value', () => {
    expect(() => make({ dailyGrowthPercent: 100 })).toThrow(/dailyGrowthPercent must exceed 100 .*received 100/);
    expect(() => make({ dailyGrowthBaselineDays: 61 })).toThrow(/dailyGrowthBaselineDays must be a whole number of days from 1 to 60 .*received 61/);
    expect(() => make({ dailyGrowthBaselineDays: 0 })).toThrow(/received 0/);
  });

  test('stage config validation names the field and the fix', () => {
    const problems = validateStageConfig({ ...PILOT, budget: { ...PILOT.budget, dailyGrowthPercent: 90, dailyGrowthBaselineDays: 90 } });
    expect(problems).toContain('budget.dailyGrowthPercent: received 90; expected a number from 101 to 100000. Fix: percent of the recent daily average a day may cost before the growth alert; 150 = 1.5 times');
    expect(problems).toContain('budget.dailyGrowthBaselineDays: received 90; expected a whole number from 1 to 60. Fix: AWS Budgets averages at most 60 days for a daily budget');
  });
});

describe('the README on growth alerts', () => {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');

  test('shows the options table rendered from lib/cost-controls/growth-alert-options.ts', () => {
    expect(readme).toContain(growthAlertOptionsTable());
  });

  test('the default is the one per-stage option a member account can create', () => {
    const chosen = GROWTH_ALERT_OPTIONS.filter((o) => o.chosen === 'default');
    expect(chosen).toHaveLength(1);
    expect(chosen[0].perStage).toBe(true);
    expect(chosen[0].memberAccount).toMatch(/member accounts create/);
    for (const o of GROWTH_ALERT_OPTIONS) expect(o.sources.length).toBeGreaterThan(0);
  });
});
