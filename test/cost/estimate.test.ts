import { answerBudget, API_METHODS, auroraShape, DATABASE, DEFAULT_ASSUMPTIONS, EMBED_NOT_READY_RETRY, EMBED_NOT_READY_RETRY_SCALE_TO_ZERO, embedNotReadyRetry, estimateMonthlyCost, fixedResources, gpuSchedule, PRICES, QUESTION_EMBEDDING, RESOURCE_PRICING, retriesWhileWaiting } from '../../lib/cost';
import { allStacks, synthStage } from '../helpers';
import { MODEL_CATALOG, PILOT, PRODUCTION, SAGEMAKER_INSTANCE_TYPES } from '../../lib/config';

/** A state machine's definition as JSON: the string parts of its Fn::Join, each token replaced by a placeholder string. */
function definitionOf(r: any): any {
  const d = r.Properties.DefinitionString;
  const text = typeof d === 'string' ? d : d['Fn::Join'][1].map((p: any) => (typeof p === 'string' ? p : 'TOKEN')).join('');
  return JSON.parse(text);
}

/** Every Retry entry of every state (nested Map and Parallel states too) whose ErrorEquals names `error`. */
function retriesOn(error: string, node: any): any[] {
  if (!node || typeof node !== 'object') return [];
  const own = Array.isArray(node.Retry) ? node.Retry.filter((x: any) => (x.ErrorEquals ?? []).includes(error)) : [];
  return [...own, ...Object.values(node).flatMap((v) => retriesOn(error, v))];
}

describe('cost estimate', () => {
  test('the idle pilot total equals the sum of its parts, computed by hand from the price table', () => {
    const e = estimateMonthlyCost(PILOT, { docsPerDay: 0, queriesPerDay: 0 });
    const f = fixedResources(PILOT); // the counts: compared with the synthesized templates below
    const days = 730 / 24;
    const byHand =
      2 * (15 + 5 + 600) / 3600 * 0.5 * days * PRICES.auroraAcuHour + // paused, but woken twice a day by the vector store collector (resume, run, pause delay) at 0.5 ACU
      0 + // no interface endpoint, a scale-to-zero GPU endpoint, storage only as used
      f.kmsKeys * PRICES.kmsKeyMonth +
      1 * PRICES.secretMonth + // the RDS-managed master secret
      1 * PRICES.cloudwatchDashboardMonth + (f.alarms + 2) * PRICES.cloudwatchAlarmMonth + // alarm metrics + the 2 of the copy target-tracking policy
      1 * PRICES.cloudwatchCompositeAlarmMonth + // "pipeline unhealthy", billed as a composite alarm
      4 * (30 * 2) / 730 * PRICES.cloudwatchCustomMetricMonth + // the collector's 4 size metrics, in the 2 hours a day it runs
      PRICES.wafWebAclMonth + 3 * PRICES.wafRuleMonth; // the query API's web ACL and its 3 rules
    expect(e.idleTotalUsd).toBeCloseTo(byHand, 6);
    expect(e.totalUsd).toBeCloseTo(byHand, 6);
  });

  test('the idle production total includes the always-on GPU floor and the database minimum on writer and reader', () => {
    const e = estimateMonthlyCost(PRODUCTION, { docsPerDay: 0 });
    const gpu = e.lines.find((l) => l.service === 'SageMaker')!;
    expect(gpu.idleUsd).toBeCloseTo(2 * 730 * SAGEMAKER_INSTANCE_TYPES['ml.g5.xlarge'].usdPerHour, 6);
    expect(e.lines.find((l) => l.service === 'Aurora Serverless v2')!.idleUsd).toBeCloseTo(2 * PRODUCTION.database.minCapacityAcu * 730 * PRICES.auroraAcuHour, 6);
  });

  test('scaling the load scales only the usage-driven lines', () => {
    const one = estimateMonthlyCost(PILOT, { docsPerDay: 1000, queriesPerDay: 500 });
    const ten = estimateMonthlyCost(PILOT, { docsPerDay: 10000, queriesPerDay: 5000 });
    for (let i = 0; i < one.lines.length; i++) {
      expect(ten.lines[i].idleUsd).toBe(one.lines[i].idleUsd);
      // GPU instance-hours follow the arrival window, not the count; serverless cold starts are capped at one an hour;
      // custom metrics are billed by the hours they receive data; the answer budget caps the answers (tokens, and the
      // answers' share of functions, guardrails and DynamoDB); a pausable database is awake by the hour.
      const capped = ['SageMaker', 'SageMaker Serverless', 'Bedrock', 'Bedrock Guardrails', 'DynamoDB', 'Aurora Serverless v2'].includes(one.lines[i].service)
        || /metric|query and retrieve/.test(one.lines[i].item);
      if (!capped) expect({ line: one.lines[i].item, usd: ten.lines[i].usageUsd }).toEqual({ line: one.lines[i].item, usd: expect.closeTo(one.lines[i].usageUsd * 10, 6) });
    }
    expect(ten.totalUsd).toBeGreaterThan(one.totalUsd);
  });

  test('the pilot meets its cost goals: idle at most 50 USD and 1,000 documents a day at most 120 USD all in (the read side adds ~10 idle: WAF and two keys), 1,000 questions at most 2 USD', () => {
    expect(estimateMonthlyCost(PILOT, { docsPerDay: 0, queriesPerDay: 0 }).totalUsd).toBeLessThanOrEqual(50);
    expect(estimateMonthlyCost(PILOT, { docsPerDay: 1000, queriesPerDay: 0 }).totalUsd).toBeLessThanOrEqual(120);
    expect(estimateMonthlyCost(PILOT, { docsPerDay: 0, queriesPerDay: 500 }).per1000QueriesUsd).toBeLessThanOrEqual(2);
  });

  test('prices the read side per 1,000 questions: Bedrock tokens of the primary model, guardrails, DynamoDB, API, WAF, audit', () => {
    const unlimited = { ...PILOT, gateway: { ...PILOT.gateway, workflows: { answer: { ...PILOT.gateway.workflows.answer, budget: { dailyTokens: 0, monthlyTokens: 0, callerDailyTokens: 0, dailyUsd: 0, monthlyUsd: 0 } } } } };
    const e = estimateMonthlyCost(unlimited, { docsPerDay: 0, queriesPerDay: 1000, promptTokensPerQuery: 2000, answerTokensPerQuery: 200, cacheHitPercent: 0 });
    const bedrock = e.lines.find((l) => l.service === 'Bedrock')!;
    expect(bedrock.usageUsd).toBeCloseTo(30 * 1000 * (2000 * 0.06 + 200 * 0.24) / 1e6, 6); // Nova Lite, the first model of the pilot's chain (lib/config/model-catalog.ts)
    const guardrails = e.lines.find((l) => l.service === 'Bedrock Guardrails')!;
    // 1 text unit per question in, 1 per 200-token (~800 character) answer out, both policies
    expect(guardrails.usageUsd).toBeCloseTo(30 * 1000 * (1 + 1) * (0.15 + 0.1) / 1000, 6);
    expect(e.lines.find((l) => l.service === 'DynamoDB')!.usageUsd).toBeGreaterThan(0);
    const readSide = ['API Gateway', 'WAF', 'Cognito', 'Bedrock', 'Bedrock Guardrails', 'DynamoDB'].map((svc) => e.lines.find((l) => l.service === svc)!.usageUsd).reduce((a, b) => a + b, 0);
    expect(e.per1000QueriesUsd).toBeGreaterThan(readSide / 30);
    const cached = estimateMonthlyCost(unlimited, { docsPerDay: 0, queriesPerDay: 1000, promptTokensPerQuery: 2000, answerTokensPerQuery: 200, cacheHitPercent: 50 });
    expect(cached.lines.find((l) => l.service === 'Bedrock')!.usageUsd).toBeCloseTo(bedrock.usageUsd / 2, 6);
    // only cache misses are screened on the way out (lambda/shared/docai_shared/gateway/gateway.py: a hit returns before guardrailOut)
    expect(cached.lines.find((l) => l.service === 'Bedrock Guardrails')!.usageUsd).toBeCloseTo(30 * 1000 * (1 + 0.5) * (0.15 + 0.1) / 1000, 6);
  });

  test('the answer model priced is the first of each preset\'s chain, active on Bedrock, at its catalogue price', () => {
    for (const c of [PILOT, PRODUCTION]) {
      const e = estimateMonthlyCost(c, { docsPerDay: 0 });
      const primary = c.gateway.models[c.gateway.workflows.answer.models[0]];
      const card = MODEL_CATALOG[primary.modelId];
      expect({ lifecycle: card.lifecycle, in: primary.usdPerMillionInputTokens, out: primary.usdPerMillionOutputTokens }).toEqual({ lifecycle: 'ACTIVE', in: card.usdPerMillionInputTokens, out: card.usdPerMillionOutputTokens });
      expect(e.lines.find((l) => l.service === 'Bedrock')!.item.startsWith(`${primary.modelId}:`)).toBe(true);
    }
  });

  test('answers are limited by the stage\'s answer budget: what it allows is priced, what it refuses is counted', () => {
    // pilot: 5,000,000 tokens a month; each answer reserves 2,800 x 4 bytes + 32 framing + 512 output tokens and settles at 3,100
    const b = answerBudget(PILOT, { ...DEFAULT_ASSUMPTIONS, docsPerDay: 0 });
    expect(b.answersPerMonthLimit).toBe(Math.floor((5_000_000 - (2800 * 4 + 32 + 512)) / 3100) + 1);
    expect(b.answersPerDayLimit).toBe(Math.floor((500_000 - (2800 * 4 + 32 + 512)) / 3100) + 1);
    expect(b).toMatchObject({ missesPerMonth: 13_500, answeredPerMonth: 1610, refusedPerMonth: 13_500 - 1610, limitedBy: 'monthly tokens' });
    const e = estimateMonthlyCost(PILOT, { docsPerDay: 0 });
    expect(e.lines.find((l) => l.service === 'Bedrock')!.usageUsd).toBeCloseTo(1610 * (2800 * 0.06 + 300 * 0.24) / 1e6, 9);
    // production's budget (30M tokens a day) lets all of them through
    expect(answerBudget(PRODUCTION, { ...DEFAULT_ASSUMPTIONS, docsPerDay: 0 })).toMatchObject({ answeredPerMonth: 13_500, refusedPerMonth: 0 });
  });

  test('KMS: each yearly rotation adds 1 USD a key-month, for the first two rotations only', () => {
    const keys = fixedResources(PILOT).kmsKeys;
    const kms = (month: number) => estimateMonthlyCost(PILOT, { docsPerDay: 0, queriesPerDay: 0 }, { month }).lines.find((l) => l.service === 'KMS')!.idleUsd;
    expect([kms(1), kms(12), kms(13), kms(25), kms(37)]).toEqual([keys, keys, 2 * keys, 3 * keys, 3 * keys]);
  });

  test('Embed retries while the GPU starts, and Store retries while the database resumes, are state transitions', () => {
    // always on (production's policy, once the pilot's): expected full-jitter waits 15, 22.5, 33.75, 50.6, 60, 60, 60, 60 s: 8 retries cover 360 s
    expect(retriesWhileWaiting(EMBED_NOT_READY_RETRY, 360)).toBe(8);
    expect(retriesWhileWaiting(EMBED_NOT_READY_RETRY, 0)).toBe(0);
    expect(retriesWhileWaiting(EMBED_NOT_READY_RETRY, 1e6)).toBe(EMBED_NOT_READY_RETRY.maxAttempts);
    // scale to zero (the pilot): one wait of a cold start + 1 minute covers a 6-minute cold start
    expect(retriesWhileWaiting(EMBED_NOT_READY_RETRY_SCALE_TO_ZERO, 360)).toBe(1);
    const e = estimateMonthlyCost(PILOT, { docsPerDay: 1000, queriesPerDay: 0 });
    expect(e.embedRetriesPerDoc).toBe(1);
    // 10 + 2 per Embed call + the window wait, + 1 Embed retry + 1 Store retry (the database resuming at the window)
    expect(e.lines.find((l) => l.service === 'Step Functions')!.usageUsd).toBeCloseTo(30 * 1000 * (10 + 2 + 1 + 1 + 1) * 0.025 / 1000, 9);
    // always on (production): no cold start, a database that never pauses: no retries
    expect(estimateMonthlyCost(PRODUCTION, { docsPerDay: 1000 }).embedRetriesPerDoc).toBe(0);
    expect(estimateMonthlyCost(PRODUCTION, { docsPerDay: 1000 }).lines.find((l) => l.service === 'Step Functions')!.usageUsd).toBeCloseTo(30 * 1000 * (10 + 2) * 0.025 / 1000, 9);
  });

  test('custom metrics are prorated by the hours they receive data: idle, only the collector\'s scheduled runs send any', () => {
    const idle = estimateMonthlyCost(PILOT, { docsPerDay: 0, queriesPerDay: 0 });
    const metrics = (e: ReturnType<typeof estimateMonthlyCost>) => e.lines.find((l) => /custom metric series/.test(l.item))!;
    expect(metrics(idle)).toMatchObject({ idleUsd: expect.closeTo(4 * 30 * 2 / 730 * 0.3, 9), usageUsd: 0 });
    const noCollector = estimateMonthlyCost({ ...PILOT, observability: { ...PILOT.observability, vectorStoreMetricsHours: 0 } }, { docsPerDay: 0, queriesPerDay: 0 });
    expect(metrics(noCollector).idleUsd + metrics(noCollector).usageUsd).toBe(0);
    const e = estimateMonthlyCost(PILOT, { docsPerDay: 1000, queriesPerDay: 500 });
    expect(metrics(e).usageUsd + metrics(e).idleUsd).toBeCloseTo((e.metricSeries.billedSeriesHours / 730) * 0.3, 9);
    expect(metrics(e).usageUsd).toBeLessThan(e.metricSeries.total * 0.3);
    // method-level API metrics: 5 per method, for the hours with traffic
    const api = e.lines.find((l) => /method-level metrics/.test(l.item))!;
    expect(api.usageUsd).toBeCloseTo(5 * (API_METHODS.questions.length * 30 * 8 + API_METHODS.events.length * 30) / 730 * 0.3, 9);
  });

  describe('Aurora Serverless v2 (database.minCapacityAcu, maxCapacityAcu, autoPauseSeconds, readers)', () => {
    // the presets' shapes (pilot 0-4 ACU, pauses after 600 s; production 2-16 ACU, writer and reader), without the collector's schedule
    const pilot = { ...PILOT, observability: { ...PILOT.observability, vectorStoreMetricsHours: 0 } };
    const production = PRODUCTION;
    test('the presets are these shapes', () => {
      expect([auroraShape(PILOT), auroraShape(PRODUCTION)]).toEqual([{ minCapacityAcu: 0, maxCapacityAcu: 4, autoPauseSeconds: 600, readers: 0 }, { minCapacityAcu: 2, maxCapacityAcu: 16, autoPauseSeconds: 600, readers: 1 }]);
    });
    const line = (e: ReturnType<typeof estimateMonthlyCost>, service: string) => e.lines.find((l) => l.service === service)!;

    test('a pausable database bills no capacity idle, and its storage only as used', () => {
      const e = estimateMonthlyCost(pilot, { docsPerDay: 0, queriesPerDay: 0 });
      expect(line(e, 'Aurora Serverless v2')).toMatchObject({ idleUsd: 0, usageUsd: 0 });
      expect(e.lines.filter((l) => l.service === 'Aurora').map((l) => l.idleUsd + l.usageUsd)).toEqual([0, 0]);
      // the collector's scheduled runs wake it: 2 a day in the preset (observability.vectorStoreMetricsHours 12)
      const woken = estimateMonthlyCost(PILOT, { docsPerDay: 0, queriesPerDay: 0 });
      expect(woken.database!).toMatchObject({ collectorWakesPerDay: 2, resumesPerDay: 2 });
      expect(line(woken, 'Aurora Serverless v2').idleUsd).toBeCloseTo(2 * (DATABASE.resumeSeconds + DATABASE.collectorSeconds + 600) / 3600 * 0.5 * (730 / 24) * 0.12, 9);
    });

    test('awake while questions come in plus the pause delay and the idle connections, and per Store burst: ACU-hours priced, resumes counted', () => {
      const a = { ...DEFAULT_ASSUMPTIONS, docsPerDay: 1000 };
      const e = estimateMonthlyCost(pilot, a);
      const tail = 600 + DATABASE.idleConnectionSeconds;
      // 500 questions over 8 h: a gap longer than 15 min is rare, so awake ~8 h + one tail; 2 windows: 75 s of work + a tail each
      const qAwake = 499 * (1 - Math.exp(-(500 / 28800) * tail)) / (500 / 28800) + tail;
      const storeAwake = 2 * (30_000 / 2 / 200 + tail);
      expect(e.database!.awakeHoursPerDay).toBeCloseTo((qAwake + storeAwake) / 3600, 6);
      expect(line(e, 'Aurora Serverless v2').usageUsd).toBeCloseTo((730 / 24) * 0.12 * (qAwake / 3600 * 0.5 + storeAwake / 3600 * 1), 6);
      expect(e.database!.resumesPerDay).toBeGreaterThanOrEqual(3); // the question day, two windows
      // few questions: each may resume the database, and each wakes it for only a tail
      const sparse = estimateMonthlyCost(pilot, { ...a, docsPerDay: 0, queriesPerDay: 4 }).database!;
      expect(sparse.resumesPerDay).toBeGreaterThan(3);
      expect(sparse.awakeHoursPerDay).toBeLessThan((4 * tail) / 3600 + 1e-9);
    });

    test('storage and I/O follow the chunks stored, month by month; a stage that never pauses bills its minimum on every instance', () => {
      const m1 = estimateMonthlyCost(pilot, { docsPerDay: 1000 });
      const m12 = estimateMonthlyCost(pilot, { docsPerDay: 1000 }, { month: 12 });
      const bytes = DATABASE.tableBytesPerChunk + DATABASE.indexBytesPerChunk;
      expect(m1.lines.find((l) => l.item.startsWith('storage'))!.usageUsd).toBeCloseTo(900_000 * bytes / 1e9 * 0.1, 9);
      expect(m12.database!.storageGb).toBeCloseTo(12 * m1.database!.storageGb, 9);
      const idle = estimateMonthlyCost(production, { docsPerDay: 0, queriesPerDay: 0 });
      expect(line(idle, 'Aurora Serverless v2').idleUsd).toBeCloseTo(2 * 2 * 730 * 0.12, 9);
      expect(idle.database!.resumesPerDay).toBe(0);
      // at 10x a month's HNSW index (9M chunks) needs more than the minimum to stay in memory: capacity grows, up to the maximum
      const ten = estimateMonthlyCost(production, { docsPerDay: 10_000, queriesPerDay: 5000 });
      expect(ten.database!.servingAcu).toBe(Math.min(16, ten.database!.inMemoryAcu));
      expect(line(ten, 'Aurora Serverless v2').idleUsd + line(ten, 'Aurora Serverless v2').usageUsd).toBeCloseTo(2 * ten.database!.servingAcu * 730 * 0.12, 6);
    });
  });

  test('GPU hours follow the embedding window, the scale-in tail and the measured throughput, not a fixed day', () => {
    const a = { ...DEFAULT_ASSUMPTIONS, docsPerDay: 1000 };
    // twice a day: cold start 6 + work (15,000 chunks / 200 per s = 75 s) + scale-in detection 15 + cooldown 5 minutes
    const s = gpuSchedule({ maxInstances: 1, batchWindowMinutes: 720, scaleInCooldownMinutes: 5 }, a);
    expect(s).toEqual({ startsPerDay: 2, instances: 1, gpuHoursPerDay: expect.any(Number), maxWaitMinutes: 726, workSecondsPerStart: 75 });
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
    const resources = allStacks(stacks).flatMap((s) => Object.values<any>(templates[s.stackName].toJSON().Resources));
    // every resource type is priced or known to be free: a new one fails here until lib/cost/resources.ts says how it is priced
    expect([...new Set(resources.map((r) => r.Type))].filter((t) => !(t in RESOURCE_PRICING))).toEqual([]);
    expect(count((r) => r.Type === 'AWS::KMS::Key')).toBe(f.kmsKeys);
    expect(count((r) => r.Type === 'AWS::KMS::Key' && r.Properties.EnableKeyRotation === true)).toBe(f.rotatingKmsKeys);
    expect(count((r) => r.Type === 'AWS::SecretsManager::Secret')).toBe(f.templateSecrets);
    // and the one RDS creates for a cluster that manages its master password
    expect(count((r) => r.Type === 'AWS::SecretsManager::Secret') + count((r) => r.Type === 'AWS::RDS::DBCluster' && r.Properties.ManageMasterUserPassword === true)).toBe(f.secrets);
    expect(count((r) => r.Type === 'AWS::CloudWatch::Dashboard')).toBe(f.dashboards);
    expect(count((r) => r.Type === 'AWS::EC2::VPCEndpoint' && r.Properties.VpcEndpointType === 'Interface')).toBe(f.interfaceEndpoints);
    // every alarm in the templates is billed: a metric alarm per metric it evaluates (metric math: each metric of
    // the expression; an anomaly detection band: 3), a composite alarm at its own price
    const alarmMetrics = (r: any) => (r.Properties.Metrics
      ? r.Properties.Metrics.filter((m: any) => m.MetricStat).length + 2 * r.Properties.Metrics.filter((m: any) => /ANOMALY_DETECTION_BAND/.test(m.Expression ?? '')).length
      : 1);
    expect(resources.filter((r) => r.Type === 'AWS::CloudWatch::Alarm').reduce((n, r) => n + alarmMetrics(r), 0)).toBe(f.alarms);
    expect(count((r) => r.Type === 'AWS::CloudWatch::CompositeAlarm')).toBe(f.compositeAlarms);
    // method-level metrics on the API stage are priced, for every method
    const detailed = resources.filter((r) => r.Type === 'AWS::ApiGateway::Stage').some((r) => (r.Properties.MethodSettings ?? []).some((m: any) => m.MetricsEnabled));
    expect(detailed).toBe(f.apiDetailedMetrics);
    expect(count((r) => r.Type === 'AWS::ApiGateway::Method' && r.Properties.HttpMethod !== 'OPTIONS')).toBe(API_METHODS.questions.length + API_METHODS.events.length);
    // the database the estimate prices is the one the templates create: capacity range, pause delay, instances, Aurora Standard storage
    const aurora = auroraShape(config);
    const clusters = resources.filter((r) => r.Type === 'AWS::RDS::DBCluster');
    if (aurora) {
      expect(clusters.map((r) => ({ ...r.Properties.ServerlessV2ScalingConfiguration, storage: r.Properties.StorageType ?? 'aurora' }))).toEqual([{
        MinCapacity: aurora.minCapacityAcu, MaxCapacity: aurora.maxCapacityAcu, ...(aurora.minCapacityAcu === 0 ? { SecondsUntilAutoPause: aurora.autoPauseSeconds } : {}), storage: 'aurora',
      }]);
      expect(count((r) => r.Type === 'AWS::RDS::DBInstance' && r.Properties.DBInstanceClass === 'db.serverless')).toBe(1 + aurora.readers);
    } else {
      expect(clusters).toHaveLength(0);
    }
    // the Embed retry the estimate counts is the state machine's
    // (the document pipeline's state machine; the backfill re-embeds on its own schedule, not priced per document)
    const pipelines = allStacks(stacks).flatMap((st) => Object.entries<any>(templates[st.stackName].toJSON().Resources))
      .filter(([id, r]) => r.Type === 'AWS::StepFunctions::StateMachine' && /^PipelineStateMachine/.test(id)).map(([, r]) => r);
    expect(pipelines).toHaveLength(1);
    const notReady = pipelines.flatMap((r) => retriesOn('EndpointNotReady', definitionOf(r)));
    // the Embed task's (its Map iterator; any other state retrying EndpointNotReady waits on its own policy)
    const policies = notReady.map((r) => ({ intervalSeconds: r.IntervalSeconds ?? 1, maxAttempts: r.MaxAttempts ?? 3, backoffRate: r.BackoffRate ?? 2, maxDelaySeconds: r.MaxDelaySeconds, fullJitter: r.JitterStrategy === 'FULL' }));
    expect(policies).toContainEqual(Object.assign({ maxDelaySeconds: undefined }, embedNotReadyRetry(config)));
  });
});
