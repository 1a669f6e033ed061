import { Match } from 'aws-cdk-lib/assertions';
import { synthStage } from '../helpers';

describe.each(['pilot', 'production'])('observability of the %s stage', (stage) => {
  const mon = () => synthStage(stage, { alarmEmail: 'oncall@example.com' }).templates[`docai-${stage}-monitoring`];
  const body = () => {
    const dash = Object.values(mon().findResources('AWS::CloudWatch::Dashboard'))[0] as any;
    const parts = dash.Properties.DashboardBody['Fn::Join'][1];
    return JSON.parse(parts.map((p: any) => (typeof p === 'string' ? p : JSON.stringify(p).replace(/"/g, ''))).join(''));
  };
  const widgets = () => body().widgets as any[];
  const titles = () => widgets().map((w) => w.properties.title as string);
  const metricsOf = (title: RegExp) => JSON.stringify(widgets().filter((w) => title.test(w.properties.title)).map((w) => w.properties.metrics));

  test('the top row fits on one screen: three widgets at y=0 across the 24 columns', () => {
    const top = widgets().filter((w) => w.y === 0);
    expect(top.map((w) => w.width).reduce((a, b) => a + b, 0)).toBe(24);
    expect(top.every((w) => w.height <= 6)).toBe(true);
    expect(top.map((w) => w.properties.title)).toEqual([expect.stringMatching(/Documents in \/ processed \/ failed/), expect.stringMatching(/error rate/), expect.stringMatching(/Tokens and estimated spend \(24h\)/)]);
    // the token-spend tile is real for answers: the gateway's metered tokens and spend, beside the embedding estimate
    const tile = JSON.stringify(widgets().find((w) => /Tokens and estimated spend/.test(w.properties.title)).properties.metrics);
    expect(tile).toMatch(/TokensEmbedded/);
    // the answers' metrics of this deployment only (project and stage dimensions)
    for (const m of ['TokensIn', 'TokensOut', 'EstimatedSpendUsd']) expect(tile).toMatch(new RegExp(`"${m}","Project","docai","Stage","${stage}","Workflow","answer"`));
  });

  test('has every widget group: documents per workflow, step latency p50/p95/p99, errors, tokens and spend, queues, executions, GPU, database', () => {
    expect(metricsOf(/Documents per workflow/)).toMatch(/DocumentsProcessed.*Workflow.*ingest/);
    expect(metricsOf(/Documents per workflow/)).toMatch(/DocumentsFailed/);
    for (const p of ['p50', 'p95', 'p99']) expect(metricsOf(new RegExp(`Step latency ${p}`))).toMatch(/StepLatency.*Step.*Extract/);
    expect(metricsOf(/Tokens embedded and estimated token spend/)).toMatch(/TokensEmbedded/);
    expect(JSON.stringify(widgets())).toMatch(/tok_ingest \/ 1000000 \* 0\.1/); // spend = tokens x price from props
    expect(metricsOf(/queue depth/)).toMatch(/ApproximateNumberOfMessagesVisible.*ApproximateAgeOfOldestMessage/);
    expect(metricsOf(/Executions started/)).toMatch(/ExecutionsStarted.*ExecutionsSucceeded.*ExecutionsFailed.*ExecutionsTimedOut/);
    expect(metricsOf(/GPU endpoint: invocations/)).toMatch(/Invocations/);
    expect(metricsOf(/model latency/)).toMatch(/ModelLatency/);
    expect(metricsOf(/GPU utilization/)).toMatch(/GPUUtilization.*GPUMemoryUtilization/);
    expect(metricsOf(/Database CPU/)).toMatch(/CPUUtilization.*DatabaseConnections/);
    expect(metricsOf(/Database capacity/)).toMatch(/ServerlessDatabaseCapacity.*ACUUtilization/);
    expect(metricsOf(/commit latency/)).toMatch(/CommitLatency/);
    expect(titles().length).toBeGreaterThanOrEqual(14);
  });

  test('every alarm of the stage sends to the one alarm topic', () => {
    const { templates } = synthStage(stage, { alarmEmail: 'oncall@example.com' });
    let count = 0;
    for (const [name, t] of Object.entries(templates)) {
      if (name.endsWith('-cost')) continue;
      for (const [id, a] of [...Object.entries(t.findResources('AWS::CloudWatch::Alarm')), ...Object.entries(t.findResources('AWS::CloudWatch::CompositeAlarm'))] as [string, any][]) {
        const actions = JSON.stringify(a.Properties.AlarmActions ?? []);
        // the autoscaling alarms Application Auto Scaling owns act on scaling policies instead
        if (actions.includes('ScalingPolicy') || actions.includes('ScaleOutFromZero')) continue;
        expect({ id, toTopic: /AlarmsTopic/.test(actions) }).toEqual({ id, toTopic: true });
        count++;
      }
    }
    // ingestion 2 + review queue DLQ + async-invoke failures + endpoint 5 (+1 no-capacity when scaling
    // to zero, +1 GPU outside its embedding window with a window) + observability 5 + composite + query API 2 (5xx rate, p95) + gateway budget 1 (answer)
    // + the pilot's question endpoint 3 (latency, 5xx, slow cold start) + undelivered break-glass notifications
    // + vector store 2 (HNSW index growth in a day, dead tuples)
    expect(count).toBe(stage === 'pilot' ? 26 : 21);
  });

  test('alarms on failed executions, error rate, database CPU/capacity/connections, and a composite "pipeline unhealthy"', () => {
    const alarms = Object.values(mon().findResources('AWS::CloudWatch::Alarm')) as any[];
    const json = JSON.stringify(alarms);
    for (const m of ['ExecutionsFailed', 'CPUUtilization', 'ACUUtilization', 'DatabaseConnections']) expect(json).toContain(m);
    // Aurora storage grows by itself: no free-storage alarm; capacity near the maximum ACUs instead
    expect(json).not.toContain('FreeStorageSpace');
    // database alarms page on the statistic that matters, on this stage's cluster (a paused one sends no data: not breaching)
    const byMetric = (name: string) => alarms.find((a) => a.Properties.MetricName === name)!.Properties;
    expect(byMetric('ACUUtilization')).toMatchObject({ Statistic: 'Maximum', ComparisonOperator: 'GreaterThanOrEqualToThreshold', Threshold: synthStage(stage).config.observability.databaseAcuUtilizationPercent, TreatMissingData: 'notBreaching' });
    expect(byMetric('DatabaseConnections')).toMatchObject({ Statistic: 'Maximum' });
    expect(JSON.stringify(byMetric('CPUUtilization').Dimensions)).toMatch(/DBClusterIdentifier.*VectorDbCluster/);
    expect(alarms.some((a) => (a.Properties.Metrics ?? []).some((m: any) => /100 \* \(f \+ t\)/.test(m.Expression ?? '')))).toBe(true);
    const composite = Object.values(mon().findResources('AWS::CloudWatch::CompositeAlarm'))[0] as any;
    const rule = JSON.stringify(composite.Properties.AlarmRule);
    expect(rule).toMatch(/FailedExecutions/);
    expect(rule).toMatch(/ErrorRate/);
    expect(rule).toMatch(/DeadLetterAlarm/);
    expect(rule).toMatch(/OldestMessageAlarm/);
  });

  test('the alarm topic is encrypted and has the e-mail from the stage config', () => {
    const data = synthStage(stage, { alarmEmail: 'oncall@example.com' }).templates[`docai-${stage}-data`];
    data.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    data.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'oncall@example.com' });
  });
});

describe.each(['pilot', 'production'])('cost controls of the %s stage', (stage) => {
  const synth = () => synthStage(stage, { alarmEmail: 'oncall@example.com' });
  const cost = () => synth().templates[`docai-${stage}-cost`];

  test('live in us-east-1, where Cost Explorer and anomaly detection are served', () => {
    expect(synth().stacks.cost.region).toBe('us-east-1');
  });

  const projectAndStage = [{ Tags: { Key: 'Project', Values: ['docai'], MatchOptions: ['EQUALS'] } }, { Tags: { Key: 'Environment', Values: [stage], MatchOptions: ['EQUALS'] } }];

  test('a monthly budget named for project and stage, filtered by the Project and Environment tags, with 80% actual and 100% forecast alerts to topic and e-mail', () => {
    const { config } = synth();
    cost().hasResourceProperties('AWS::Budgets::Budget', {
      Budget: Match.objectLike({ BudgetName: `docai-${stage}-monthly`, BudgetType: 'COST', TimeUnit: 'MONTHLY', BudgetLimit: { Amount: config.budget.monthlyLimitUsd, Unit: 'USD' }, FilterExpression: { And: projectAndStage } }),
      NotificationsWithSubscribers: [
        { Notification: { NotificationType: 'ACTUAL', ComparisonOperator: 'GREATER_THAN', Threshold: 80, ThresholdType: 'PERCENTAGE' }, Subscribers: [{ SubscriptionType: 'SNS', Address: Match.anyValue() }, { SubscriptionType: 'EMAIL', Address: 'oncall@example.com' }] },
        { Notification: { NotificationType: 'FORECASTED', ComparisonOperator: 'GREATER_THAN', Threshold: 100, ThresholdType: 'PERCENTAGE' }, Subscribers: Match.anyValue() },
      ],
    });
  });

  test('one budget per configured workload, filtered by Project, Environment and Workload', () => {
    const { config } = synth();
    const budgets = (Object.values(cost().findResources('AWS::Budgets::Budget')) as any[]).filter((b) => b.Properties.Budget.TimeUnit === 'MONTHLY');
    expect(budgets).toHaveLength(1 + Object.keys(config.budget.workloadLimitsUsd).length);
    // and the daily growth alert (test/cost-controls/growth-alert.test.ts)
    cost().resourceCountIs('AWS::Budgets::Budget', 2 + Object.keys(config.budget.workloadLimitsUsd).length);
    for (const [w, limit] of Object.entries(config.budget.workloadLimitsUsd)) {
      const b = budgets.find((x) => x.Properties.Budget.BudgetName === `docai-${stage}-${w}-monthly`)!;
      expect(b.Properties.Budget.BudgetLimit.Amount).toBe(limit);
      expect(b.Properties.Budget.FilterExpression.And).toEqual([...projectAndStage, { Tags: { Key: 'Workload', Values: [w], MatchOptions: ['EQUALS'] } }]);
    }
  });

  test('no anomaly monitor unless the stage asks for one (an account may have only one AWS-services monitor)', () => {
    cost().resourceCountIs('AWS::CE::AnomalyMonitor', 0);
    cost().resourceCountIs('AWS::CE::AnomalySubscription', 0);
  });

  test('asked for, an anomaly monitor named for project and stage with immediate (topic) and daily (e-mail) subscriptions above the threshold', () => {
    const withMonitor = synthStage(stage, { alarmEmail: 'oncall@example.com', anomalyMonitor: 'services' });
    const t = withMonitor.templates[`docai-${stage}-cost`];
    t.hasResourceProperties('AWS::CE::AnomalyMonitor', { MonitorName: `docai-${stage}-services`, MonitorType: 'DIMENSIONAL', MonitorDimension: 'SERVICE' });
    const config = withMonitor.config;
    const subs = Object.values(t.findResources('AWS::CE::AnomalySubscription')) as any[];
    expect(subs.map((s) => s.Properties.Frequency).sort()).toEqual(['DAILY', 'IMMEDIATE']);
    for (const s of subs) expect(JSON.parse(s.Properties.ThresholdExpression).Dimensions.Values).toEqual([String(config.budget.anomalyThresholdUsd)]);
  });

  test('cost-allocation tag activation is opt-in: a member account deploys the cost stack without it', () => {
    cost().resourceCountIs('Custom::AWS', 0);
    cost().resourceCountIs('AWS::Lambda::Function', 0);
  });

  test('asked for, tag activation calls Cost Explorer for every tag key, and runs again on every deploy (the deploy nonce changes its properties)', () => {
    const at = (nonce: string) => synthStage(stage, { alarmEmail: 'oncall@example.com', activateCostAllocationTags: true, deployNonce: nonce }).templates[`docai-${stage}-cost`];
    const props = (t: ReturnType<typeof at>) => (Object.values(t.findResources('Custom::AWS')) as any[])[0].Properties;
    const first = props(at('2026-11-22T10:00:00Z'));
    const create = JSON.stringify(first);
    expect(create).toContain('UpdateCostAllocationTagsStatus');
    expect(create).toContain(`cost-allocation-tags-docai-${stage}`);
    for (const k of ['Project', 'Environment', 'Workload', 'CostCenter', 'BusinessUnit', 'Owner']) expect(create).toContain(k);
    const second = props(at('2026-11-23T10:00:00Z'));
    expect(first.DeployNonce).toBe('2026-11-22T10:00:00Z');
    expect(second.DeployNonce).toBe('2026-11-23T10:00:00Z');
  });
});
