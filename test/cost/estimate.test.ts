import { DEFAULT_ASSUMPTIONS, estimateMonthlyCost, fixedResources, gpuSchedule, PRICES, QUESTION_EMBEDDING } from '../../lib/cost';
import { allStacks, synthStage } from '../helpers';
import { PILOT, PRODUCTION, SAGEMAKER_INSTANCE_TYPES } from '../../lib/config';

describe('cost estimate', () => {
  test('the idle pilot total equals the sum of its parts, computed by hand from the price table', () => {
    const e = estimateMonthlyCost(PILOT, { docsPerDay: 0, queriesPerDay: 0 });
    const byHand =
      0.016 * 730 + // db.t4g.micro single-AZ
      20 * PRICES.rdsGp3GbMonth + // 20 GB gp3
      1 * 1 * PRICES.interfaceEndpointAzHour * 730 + // the Secrets Manager interface endpoint in one AZ
      0 + // scale-to-zero GPU endpoint
      10 * PRICES.kmsKeyMonth + // the tag-activation log key exists only when a stage activates tags
      1 * PRICES.secretMonth +
      1 * PRICES.cloudwatchDashboardMonth + (21 + 3 + 2) * PRICES.cloudwatchAlarmMonth + // 20 + the break-glass dead-letter alarm, + the question endpoint's 3, the 2 of the copy target-tracking policy
      PRICES.wafWebAclMonth + 3 * PRICES.wafRuleMonth; // the query API's web ACL and its 3 rules
    expect(e.idleTotalUsd).toBeCloseTo(byHand, 6);
    expect(e.totalUsd).toBeCloseTo(byHand, 6);
  });

  test('the idle production total includes the always-on GPU floor and Multi-AZ', () => {
    const e = estimateMonthlyCost(PRODUCTION, { docsPerDay: 0 });
    const gpu = e.lines.find((l) => l.service === 'SageMaker')!;
    expect(gpu.idleUsd).toBeCloseTo(2 * 730 * SAGEMAKER_INSTANCE_TYPES['ml.g5.xlarge'].usdPerHour, 6);
    expect(e.lines.find((l) => l.item.startsWith('db.r6g.large'))!.idleUsd).toBeCloseTo(0.45 * 730, 6);
  });

  test('scaling the load scales only the usage-driven lines', () => {
    const one = estimateMonthlyCost(PILOT, { docsPerDay: 1000, queriesPerDay: 500 });
    const ten = estimateMonthlyCost(PILOT, { docsPerDay: 10000, queriesPerDay: 5000 });
    for (let i = 0; i < one.lines.length; i++) {
      expect(ten.lines[i].idleUsd).toBe(one.lines[i].idleUsd);
      // GPU instance-hours follow the arrival window, not the count; serverless cold starts are capped at one an hour.
      const gpuCapped = one.lines[i].service === 'SageMaker' || one.lines[i].service === 'SageMaker Serverless';
      if (!gpuCapped) expect(ten.lines[i].usageUsd).toBeCloseTo(one.lines[i].usageUsd * 10, 6);
    }
    expect(ten.totalUsd).toBeGreaterThan(one.totalUsd);
  });

  test('the pilot meets its cost goals: idle at most 50 USD and 1,000 documents a day at most 110 USD all in (the read side adds ~10 idle: WAF and two keys), 1,000 questions at most 2 USD', () => {
    expect(estimateMonthlyCost(PILOT, { docsPerDay: 0, queriesPerDay: 0 }).totalUsd).toBeLessThanOrEqual(50);
    expect(estimateMonthlyCost(PILOT, { docsPerDay: 1000, queriesPerDay: 0 }).totalUsd).toBeLessThanOrEqual(110);
    expect(estimateMonthlyCost(PILOT, { docsPerDay: 0, queriesPerDay: 500 }).per1000QueriesUsd).toBeLessThanOrEqual(2);
  });

  test('prices the read side per 1,000 questions: Bedrock tokens of the primary model, guardrails, DynamoDB, API, WAF, audit', () => {
    const e = estimateMonthlyCost(PILOT, { docsPerDay: 0, queriesPerDay: 1000, promptTokensPerQuery: 2000, answerTokensPerQuery: 200, cacheHitPercent: 0 });
    const bedrock = e.lines.find((l) => l.service === 'Bedrock')!;
    expect(bedrock.usageUsd).toBeCloseTo(30 * 1000 * (2000 * 0.06 + 200 * 0.24) / 1e6, 6); // Nova Lite, the first model of the pilot's chain (lib/config/model-catalog.ts)
    const guardrails = e.lines.find((l) => l.service === 'Bedrock Guardrails')!;
    expect(guardrails.usageUsd).toBeCloseTo(30 * 1000 * 2 * (0.15 + 0.1) / 1000, 6);
    expect(e.lines.find((l) => l.service === 'DynamoDB')!.usageUsd).toBeGreaterThan(0);
    const readSide = ['API Gateway', 'WAF', 'Cognito', 'Bedrock', 'Bedrock Guardrails', 'DynamoDB'].map((svc) => e.lines.find((l) => l.service === svc)!.usageUsd).reduce((a, b) => a + b, 0);
    expect(e.per1000QueriesUsd).toBeGreaterThan(readSide / 30);
    const cached = estimateMonthlyCost(PILOT, { docsPerDay: 0, queriesPerDay: 1000, promptTokensPerQuery: 2000, answerTokensPerQuery: 200, cacheHitPercent: 50 });
    expect(cached.lines.find((l) => l.service === 'Bedrock')!.usageUsd).toBeCloseTo(bedrock.usageUsd / 2, 6);
  });

  test('GPU hours follow the embedding window, the scale-in tail and the measured throughput, not a fixed day', () => {
    const a = { ...DEFAULT_ASSUMPTIONS, docsPerDay: 1000 };
    // twice a day: cold start 6 + work (15,000 chunks / 200 per s = 75 s) + scale-in detection 15 + cooldown 5 minutes
    const s = gpuSchedule({ maxInstances: 1, batchWindowMinutes: 720, scaleInCooldownMinutes: 5 }, a);
    expect(s).toEqual({ startsPerDay: 2, instances: 1, gpuHoursPerDay: expect.any(Number), maxWaitMinutes: 726 });
    expect(s.gpuHoursPerDay).toBeCloseTo(2 * ((6 + 15 + 5) / 60 + 75 / 3600), 9);
    const line = estimateMonthlyCost(PILOT, { docsPerDay: 1000 }).lines.find((l) => l.service === 'SageMaker')!;
    expect(line.usageUsd).toBeCloseTo(s.gpuHoursPerDay * 30 * SAGEMAKER_INSTANCE_TYPES['ml.g5.xlarge'].usdPerHour, 6);
    // a wider window costs less GPU time and more latency; a slower GPU costs more time
    const daily = gpuSchedule({ maxInstances: 1, batchWindowMinutes: 1440, scaleInCooldownMinutes: 5 }, a);
    expect(daily.gpuHoursPerDay).toBeLessThan(s.gpuHoursPerDay);
    expect(daily.maxWaitMinutes).toBeGreaterThan(s.maxWaitMinutes);
    expect(gpuSchedule({ maxInstances: 1, batchWindowMinutes: 720, scaleInCooldownMinutes: 5 }, { ...a, chunksPerSecondPerInstance: 20 }).gpuHoursPerDay).toBeCloseTo(2 * ((6 + 15 + 5) / 60 + 750 / 3600), 9);
    // no window: up while documents arrive, plus the tail once a day
    expect(gpuSchedule({ maxInstances: 1, batchWindowMinutes: 0, scaleInCooldownMinutes: 5 }, a).gpuHoursPerDay).toBeCloseTo(8 + 26 / 60, 9);
  });

  test('the question-embedding line: requests x duration x memory, cold starts and data, nothing idle; the GPU endpoint stays at zero idle', () => {
    const idle = estimateMonthlyCost(PILOT, { docsPerDay: 0, queriesPerDay: 0 });
    expect(idle.lines.find((l) => l.service === 'SageMaker')!.idleUsd).toBe(0);
    expect(idle.lines.find((l) => l.service === 'SageMaker Serverless')!).toMatchObject({ idleUsd: 0, usageUsd: 0 });
    const e = estimateMonthlyCost(PILOT, { docsPerDay: 0, queriesPerDay: 500 });
    const line = e.lines.find((l) => l.service === 'SageMaker Serverless')!;
    const gb = PILOT.questionEmbedding.memorySizeMb / 1024; // 2
    const byHand = (30 * 500 * QUESTION_EMBEDDING.warmSeconds + 30 * 24 * QUESTION_EMBEDDING.coldStartSeconds) * gb * PRICES.serverlessInferenceGbSecond
      + 30 * 500 * (QUESTION_EMBEDDING.kbPerCall / 1e6) * PRICES.serverlessInferencePerGbData;
    expect(line.usageUsd).toBeCloseTo(byHand, 9);
    expect(line.confidence).toBe('weak');
    // fewer questions than hours: each may start cold
    expect(estimateMonthlyCost(PILOT, { docsPerDay: 0, queriesPerDay: 5 }).lines.find((l) => l.service === 'SageMaker Serverless')!.usageUsd)
      .toBeCloseTo((30 * 5 * (QUESTION_EMBEDDING.warmSeconds + QUESTION_EMBEDDING.coldStartSeconds)) * gb * PRICES.serverlessInferenceGbSecond + 30 * 5 * (QUESTION_EMBEDDING.kbPerCall / 1e6) * PRICES.serverlessInferencePerGbData, 9);
    // provisioned concurrency is an idle cost; production embeds questions on its GPU endpoint (no line)
    const warm = estimateMonthlyCost({ ...PILOT, questionEmbedding: { ...PILOT.questionEmbedding, provisionedConcurrency: 1 } }, { docsPerDay: 0, queriesPerDay: 0 });
    expect(warm.lines.find((l) => l.service === 'SageMaker Serverless')!.idleUsd).toBeCloseTo(gb * 730 * 3600 * PRICES.serverlessProvisionedGbSecond, 6);
    expect(estimateMonthlyCost(PRODUCTION, { docsPerDay: 0 }).lines.find((l) => l.service === 'SageMaker Serverless')).toBeUndefined();
  });

  test('an unknown instance type is an error, not a zero', () => {
    expect(() => estimateMonthlyCost({ ...PILOT, embedding: { ...PILOT.embedding, instanceType: 'ml.p9.mega' } }, { docsPerDay: 10 })).toThrow(/no price for SageMaker instance type "ml.p9.mega"/);
    expect(() => estimateMonthlyCost({ ...PILOT, database: { ...PILOT.database, instanceClass: 'db.x1.huge' } }, { docsPerDay: 10 })).toThrow(/no price for RDS instance class "db.x1.huge"/);
  });

  test('reports the cost per 1,000 documents', () => {
    const e = estimateMonthlyCost(PILOT, { docsPerDay: 1000, queriesPerDay: 0 });
    const usage = e.totalUsd - e.idleTotalUsd;
    expect(e.usagePer1000DocsUsd).toBeCloseTo(usage / 30, 6);
    expect(e.allInPer1000DocsUsd).toBeCloseTo(e.totalUsd / 30, 6);
  });

  test.each([['pilot', {}], ['production', {}], ['pilot', { activateCostAllocationTags: true }]])('the fixed resources priced for %s %j are the ones the synthesized app creates', (stage, overrides) => {
    const { stacks, templates, config } = synthStage(stage, overrides);
    const count = (pred: (r: any) => boolean) => allStacks(stacks).reduce((n, s) => n + Object.values<any>(templates[s.stackName].toJSON().Resources).filter(pred).length, 0);
    const f = fixedResources(config);
    expect(count((r) => r.Type === 'AWS::KMS::Key')).toBe(f.kmsKeys);
    expect(count((r) => r.Type === 'AWS::SecretsManager::Secret')).toBe(f.secrets);
    expect(count((r) => r.Type === 'AWS::CloudWatch::Dashboard')).toBe(f.dashboards);
    expect(count((r) => r.Type === 'AWS::EC2::VPCEndpoint' && r.Properties.VpcEndpointType === 'Interface')).toBe(f.interfaceEndpoints);
    // every alarm in the templates is billed
    expect(count((r) => /^AWS::CloudWatch::(Composite)?Alarm$/.test(r.Type))).toBe(f.alarms);
    // and the two alarms Application Auto Scaling creates per target-tracking policy at deploy time
    expect(2 * count((r) => r.Type === 'AWS::ApplicationAutoScaling::ScalingPolicy' && r.Properties.PolicyType === 'TargetTrackingScaling')).toBe(f.targetTrackingAlarms);
  });
});
