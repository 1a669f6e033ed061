/**
 * State transitions per document when an embedding window meets a GPU endpoint at zero: the pilot's
 * state machine as synthesized, run by aws-local-stepfunctions (its retriers: intervals, backoff,
 * jitter) on a virtual clock. Every document of the window reaches Embed at the window's start; the
 * endpoint answers EndpointNotReady until a cold start after the first call (which starts the
 * scale-out). Handlers other than Embed return at once: the transitions are the state machine's.
 * Step Functions bills each state entered and each retry (https://aws.amazon.com/step-functions/pricing/).
 *
 * "before" is the same definition with the Embed retrier this project had before (every 30 s x1.5 up to
 * 120 s, full jitter, 12 attempts); "now" is what the pilot synthesizes.
 *
 *   npm run bench:embed-cold-start [-- --docs 40 --batches 2 --cold-start 4 --cold-start 6 --cold-start 10 --json]
 */
import { Cli, parseCli, runCli } from './cli';
import { synthStage } from '../test/helpers';

// aws-local-stepfunctions needs Promise.withResolvers (Node 22+); Node 20 lacks it.
if (!(Promise as any).withResolvers) {
  (Promise as any).withResolvers = function withResolvers<T>() {
    let resolve!: (v: T) => void;
    let reject!: (e: unknown) => void;
    const promise = new Promise<T>((res, rej) => { resolve = res; reject = rej; });
    return { promise, resolve, reject };
  };
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { StateMachine } = require('aws-local-stepfunctions');

const CLI: Cli = {
  name: 'npm run bench:embed-cold-start',
  usage: 'npm run bench:embed-cold-start -- [--docs N] [--batches N] [--cold-start MINUTES ...] [--json]',
  summary: 'Counts Step Functions state transitions per document when a window of documents meets the pilot GPU endpoint at zero, before and after the cold-start retrier.',
  flags: {
    docs: { type: 'string', value: '<n>', description: 'documents in the window', default: '40' },
    batches: { type: 'string', value: '<n>', description: 'embedding batches per document (30 chunks / 32 per batch: 1)', default: '1' },
    'cold-start': { type: 'string', value: '<minutes>', description: 'minutes from the first call until the endpoint serves (repeatable)', multiple: true, default: '4, 6, 8 and 10' },
    json: { type: 'boolean', description: 'print JSON' },
  },
};

/** The Embed retrier this project used before the cold-start one (document-pipeline.ts, 53f6d3d). */
const BEFORE_RETRIER = { ErrorEquals: ['EndpointNotReady'], IntervalSeconds: 30, BackoffRate: 1.5, MaxAttempts: 12, MaxDelaySeconds: 120, JitterStrategy: 'FULL' };

const WINDOW_START = Date.parse('2026-12-02T12:00:00Z');

/**
 * A virtual clock for setTimeout and Date.now (what the runner's Wait states and retriers use): time
 * jumps to the next timer once the promises in flight have settled.
 */
function virtualClock(start: number) {
  const real = { setTimeout: global.setTimeout, clearTimeout: global.clearTimeout, now: Date.now };
  let now = start;
  let seq = 0;
  const timers = new Map<number, { at: number; fn: () => void }>();
  (global as any).setTimeout = (fn: () => void, ms = 0) => {
    const id = ++seq;
    timers.set(id, { at: now + Math.max(0, ms), fn });
    return { id, unref() { return this; }, ref() { return this; }, hasRef: () => true, [Symbol.toPrimitive]: () => id };
  };
  (global as any).clearTimeout = (t: any) => { timers.delete(typeof t === 'object' && t ? t.id : t); };
  Date.now = () => now;
  const settle = () => new Promise<void>((r) => setImmediate(r));
  return {
    /** Runs timers in time order until `done()` or no timer is left. */
    async run(done: () => boolean): Promise<void> {
      for (;;) {
        for (let i = 0; i < 5; i++) await settle();
        if (done() || timers.size === 0) return;
        const [id, next] = [...timers.entries()].reduce((a, b) => (b[1].at < a[1].at ? b : a));
        timers.delete(id);
        now = Math.max(now, next.at);
        next.fn();
      }
    },
    uninstall() {
      global.setTimeout = real.setTimeout;
      global.clearTimeout = real.clearTimeout;
      Date.now = real.now;
    },
  };
}

/** Deterministic Math.random (mulberry32): full jitter draws from it. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function findState(states: Record<string, any>, name: string): any {
  for (const [k, s] of Object.entries(states)) {
    if (k === name) return s;
    const inner = s.ItemProcessor?.States ?? s.Iterator?.States;
    const hit = inner && findState(inner, name);
    if (hit) return hit;
  }
  return undefined;
}

interface Run { transitions: number; retries: number; embedCalls: number; failedDocuments: number; minutesToLastDocument: number }

async function simulate(definition: any, opts: { docs: number; batches: number; coldStartMinutes: number; seed: number }): Promise<Run> {
  const clock = virtualClock(WINDOW_START - 60_000);
  const random = Math.random;
  Math.random = seeded(opts.seed);
  try {
    let readyAt: number | undefined;
    let embedCalls = 0;
    let failedDocuments = 0;
    const embed = async () => {
      embedCalls++;
      if (readyAt === undefined) readyAt = Date.now() + opts.coldStartMinutes * 60_000; // this call starts the scale-out
      if (Date.now() < readyAt) {
        const e = new Error('Inference Component has no capacity to process this request');
        e.name = 'EndpointNotReady';
        throw e;
      }
      return { embeddingsKey: 'k', tokens: 1 };
    };
    const ok = (result: unknown) => async () => result;
    const batches = Array.from({ length: opts.batches }, (_, i) => `runs/r/chunks/${i}.json`);
    const handlers = {
      Validate: ok({}), Extract: ok({ metadata: { accessTier: 'internal' }, contentHash: 'h' }),
      Chunk: ok({ batches, chunkCount: 30, tokenCount: 9000, embedNotBefore: new Date(WINDOW_START).toISOString(), workflow: 'ingest' }),
      Embed: embed, Store: ok({ outcome: 'stored', chunks: 30 }), RecordFailure: ok({ outcome: 'failed' }),
    };
    const counts = { entered: 0, retried: 0 };
    let finished = 0;
    let lastDone = 0;
    const runs = Array.from({ length: opts.docs }, async (_, i) => {
      const sm = new StateMachine(definition, { validationOptions: { checkPaths: false, checkArn: false } });
      const input = { action: 'upsert', bucket: 'docai-intake', key: `doc-${i}.txt`, versionId: `v${i}`, sequencer: '0100', eventName: 'ObjectCreated:Put' };
      const execution = sm.run(input, {
        context: { Execution: { Id: `arn:aws:states:us-east-1:123456789012:execution:pipeline:run-${i}`, Name: `run-${i}`, Input: input, StartTime: new Date().toISOString() } },
        overrides: { taskResourceLocalHandlers: handlers },
      });
      const events = (async () => {
        for await (const ev of execution.eventLogs) {
          if (ev.type === 'StateEntered') counts.entered++;
          if (ev.type === 'StateRetried') counts.retried++;
        }
      })();
      try {
        await execution.result;
        lastDone = Math.max(lastDone, Date.now());
      } catch {
        failedDocuments++; // Embed gave up: RecordFailure, DocumentFailed
      }
      await events;
      finished++;
    });
    await clock.run(() => finished === opts.docs);
    if (finished < opts.docs) throw new Error(`${opts.docs - finished} document(s) never finished`);
    await Promise.all(runs);
    return { transitions: counts.entered + counts.retried, retries: counts.retried, embedCalls, failedDocuments, minutesToLastDocument: (lastDone - WINDOW_START) / 60_000 };
  } finally {
    Math.random = random;
    clock.uninstall();
  }
}

runCli(async () => {
  const { values } = parseCli(CLI);
  const docs = Number(values.docs ?? 40);
  const batches = Number(values.batches ?? 1);
  const coldStarts = ((values['cold-start'] as string[] | undefined) ?? ['4', '6', '8', '10']).map(Number);
  for (const [name, v] of [['docs', docs], ['batches', batches]] as const) {
    if (!Number.isInteger(v) || v < 1 || v > 1000) throw new Error(`${CLI.name}: --${name} must be an integer from 1 to 1000, received ${v}`);
  }
  for (const c of coldStarts) if (!(c >= 0 && c <= 60)) throw new Error(`${CLI.name}: --cold-start must be from 0 to 60 minutes, received ${c}`);

  const now = JSON.parse(JSON.stringify((synthStage('pilot').templates['docai-pilot-app'].toJSON() as any), null, 0));
  const [, sm] = Object.entries(now.Resources as Record<string, any>).find(([k, r]) => r.Type === 'AWS::StepFunctions::StateMachine' && k.startsWith('PipelineStateMachine'))!;
  const def = sm.Properties.DefinitionString;
  const parts: any[] = typeof def === 'string' ? [def] : def['Fn::Join'][1];
  const text = parts.map((p) => (typeof p === 'string' ? p : `arn:aws:lambda:us-east-1:123456789012:function:${JSON.stringify(p).replace(/[^A-Za-z0-9]/g, '')}`)).join('');
  const after = JSON.parse(text);
  const before = JSON.parse(text);
  const embedBefore = findState(before.States, 'Embed');
  const i = embedBefore.Retry.findIndex((r: any) => r.ErrorEquals.includes('EndpointNotReady'));
  embedBefore.Retry[i] = BEFORE_RETRIER;
  const nowRetrier = findState(after.States, 'Embed').Retry.find((r: any) => r.ErrorEquals.includes('EndpointNotReady'));

  const rows: any[] = [];
  for (const coldStartMinutes of coldStarts) {
    for (const [label, definition] of [['before', before], ['now', after]] as const) {
      const r = await simulate(definition, { docs, batches, coldStartMinutes, seed: 26 });
      rows.push({ coldStartMinutes, policy: label, transitionsPerDocument: r.transitions / docs, retriesPerDocument: r.retries / docs, embedCalls: r.embedCalls, failedDocuments: r.failedDocuments, minutesToLastDocument: r.minutesToLastDocument });
    }
  }
  if (values.json) {
    console.log(JSON.stringify({ docs, batches, nowRetrier, beforeRetrier: BEFORE_RETRIER, rows }, null, 2));
    return;
  }
  console.log(`${docs} documents x ${batches} batch(es) reach Embed at the window's start; the endpoint serves a cold start after the first call.`);
  console.log(`before: Embed retries EndpointNotReady every ${BEFORE_RETRIER.IntervalSeconds} s x${BEFORE_RETRIER.BackoffRate} up to ${BEFORE_RETRIER.MaxDelaySeconds} s, full jitter, ${BEFORE_RETRIER.MaxAttempts} attempts`);
  console.log(`now:    every ${nowRetrier.IntervalSeconds} s x${nowRetrier.BackoffRate ?? 2}, ${nowRetrier.MaxAttempts} attempts${nowRetrier.JitterStrategy ? `, ${nowRetrier.JitterStrategy} jitter` : ', no jitter'}`);
  console.log('cold start | policy | transitions/doc | retries/doc | Embed calls | failed docs | last document embedded (min after window start)');
  for (const r of rows) console.log(`${String(r.coldStartMinutes).padStart(7)} min | ${r.policy.padEnd(6)} | ${r.transitionsPerDocument.toFixed(2).padStart(15)} | ${r.retriesPerDocument.toFixed(2).padStart(11)} | ${String(r.embedCalls).padStart(11)} | ${String(r.failedDocuments).padStart(11)} | ${r.minutesToLastDocument.toFixed(1)}`);
});
