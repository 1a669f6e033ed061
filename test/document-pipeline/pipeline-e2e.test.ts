/**
 * End to end: the state machine definition as synthesized into the app template, executed by
 * aws-local-stepfunctions, each Task bound to the real Python handler (lambda/tests/pipeline_worker.py),
 * S3 on moto, the database on PGlite + pgvector, the endpoint a local fake that can fail transiently.
 */
import { ChildProcessWithoutNullStreams, spawn } from 'child_process';
import * as net from 'net';
import * as path from 'path';
import * as fs from 'fs';
import { synthStage } from '../helpers';
import { contractAssembly, deniedRecordedCalls, readRecordedCalls, RECORDED_CALLS_DIR } from '../permission-contract';

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

const ROOT = path.join(__dirname, '..', '..');
const PYTHON = path.join(ROOT, '.venv', 'bin', 'python');
const PGLITE = path.join(ROOT, 'node_modules', '@electric-sql', 'pglite-socket', 'dist', 'scripts', 'server.js');

/** Resolves the DefinitionString (Fn::Join with ARNs of functions and resources) into ASL. */
function definitionFromTemplate(template: any, logicalIdPrefix: string): any {
  const [id, sm] = Object.entries(template.Resources as Record<string, any>).find(([k, r]) => r.Type === 'AWS::StepFunctions::StateMachine' && k.startsWith(logicalIdPrefix))!;
  const def = sm.Properties.DefinitionString;
  const parts: any[] = typeof def === 'string' ? [def] : def['Fn::Join'][1];
  const text = parts.map((p) => (typeof p === 'string' ? p : `arn:aws:lambda:us-east-1:123456789012:function:${JSON.stringify(p).replace(/[^A-Za-z0-9]/g, '')}`)).join('');
  expect(id).toBeDefined();
  return JSON.parse(text);
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

async function waitForPort(port: number, timeoutMs = 90000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => { s.end(); resolve(true); });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`port ${port} not ready`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

class Worker {
  private nextId = 0;
  private pending = new Map<number, (v: any) => void>();
  private buffer = '';
  public stderr = '';
  public ready: Promise<void>;

  constructor(private readonly proc: ChildProcessWithoutNullStreams) {
    let markReady!: () => void;
    this.ready = new Promise((r) => { markReady = r; });
    proc.stderr.on('data', (d) => { this.stderr += d.toString(); });
    proc.stdout.on('data', (d) => {
      this.buffer += d.toString();
      let i;
      while ((i = this.buffer.indexOf('\n')) >= 0) {
        const line = this.buffer.slice(0, i);
        this.buffer = this.buffer.slice(i + 1);
        const msg = JSON.parse(line);
        if (msg.ready) markReady();
        else this.pending.get(msg.id)?.(msg);
      }
    });
  }

  request(req: Record<string, unknown>): Promise<any> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, (msg) => (msg.harnessError ? reject(new Error(`${msg.harnessError}\n${msg.trace}`)) : resolve(msg)));
      this.proc.stdin.write(JSON.stringify({ id, ...req }) + '\n');
    });
  }

  /** A Task override: runs the Python handler; a raised exception becomes a States error named after its class. */
  handler(name: string) {
    return async (input: unknown) => {
      const out = await this.request({ op: 'call', handler: name, event: input });
      if (out.error) {
        const e = new Error(JSON.stringify({ errorType: out.error.errorType, errorMessage: out.error.errorMessage }));
        e.name = out.error.errorType;
        throw e;
      }
      return out.result;
    };
  }

  async stop() {
    if (this.proc.exitCode !== null) return;
    const exited = new Promise((r) => this.proc.once('exit', r));
    this.proc.stdin.end();
    this.proc.kill();
    await exited;
  }
}

/** The worker records every AWS call the handlers make (lambda/tests/call_recorder.py). */
const CALL_LOG = path.join(RECORDED_CALLS_DIR, `e2e-${process.pid}.jsonl`);

describe('document pipeline, end to end on the synthesized definition', () => {
  let pglite: ChildProcessWithoutNullStreams;
  let worker: Worker;
  let definition: any;
  let review: { approve: boolean; reviewedTextKey?: string } = { approve: false };
  const reviewMessages: any[] = [];

  beforeAll(async () => {
    definition = definitionFromTemplate(synthStage('pilot').templates['docai-pilot-app'].toJSON(), 'PipelineStateMachine');
    const port = await freePort();
    pglite = spawn('node', [PGLITE, '-p', String(port), '-h', '127.0.0.1', '-e', '@electric-sql/pglite-pgvector:vector', '-m', '8'], { cwd: ROOT });
    await waitForPort(port);
    fs.mkdirSync(RECORDED_CALLS_DIR, { recursive: true });
    fs.rmSync(CALL_LOG, { force: true });
    worker = new Worker(spawn(PYTHON, [path.join(ROOT, 'lambda', 'tests', 'pipeline_worker.py')], { cwd: ROOT, env: { ...process.env, PGLITE_PORT: String(port), DOCAI_CALL_LOG: CALL_LOG } }));
    await Promise.race([worker.ready, new Promise((_, rej) => setTimeout(() => rej(new Error(`worker did not start: ${worker.stderr}`)), 90000))]);
  }, 180000);

  afterAll(async () => {
    await worker?.stop();
    fs.rmSync(CALL_LOG, { force: true });
    if (pglite && pglite.exitCode === null) {
      const exited = new Promise((r) => pglite.once('exit', r));
      pglite.kill();
      await exited;
    }
  });

  async function upload(key: string, body: Buffer | string, opts: { metadata?: Record<string, string>; tags?: Record<string, string>; contentType?: string } = {}) {
    const out = await worker.request({ op: 'put', key, body: Buffer.from(body).toString('base64'), ...opts });
    return out.versionId as string;
  }

  /** Holds an execution before a state until released: the other event runs meanwhile. */
  function gate() {
    let markReached!: () => void;
    let release!: () => void;
    const reached = new Promise<void>((r) => { markReached = r; });
    const until = new Promise<void>((r) => { release = r; });
    return { reached, markReached, release, until };
  }
  type Gate = ReturnType<typeof gate>;

  let runs = 0;
  async function run(input: Record<string, unknown>, opts: { holdBefore?: string; gate?: Gate; items?: any[] } = {}) {
    const at = (state: string, fn: (input: any) => Promise<any>) => async (i: any) => {
      if (opts.holdBefore === state && opts.gate) {
        opts.gate.markReached();
        await opts.gate.until;
      }
      if (state === 'Embed') opts.items?.push(i);
      return fn(i);
    };
    const sm = new StateMachine(definition, { validationOptions: { checkPaths: false, checkArn: false } });
    const name = `run-${++runs}`;
    const noWait = Object.fromEntries(['Validate', 'Extract', 'Chunk', 'Embed', 'Store', 'DeleteDocument', 'Retier', 'RecordFailure', 'MarkForReview', 'NotifyReviewer', 'WaitForReview'].map((s) => [s, 0]));
    const execution = sm.run(input, {
      context: { Execution: { Id: `arn:aws:states:us-east-1:123456789012:execution:pipeline:${name}`, Name: name, Input: input, StartTime: new Date().toISOString() }, Task: { Token: `token-${name}` } },
      overrides: {
        retryIntervalOverrides: noWait,
        // The pilot waits for the next embedding window (up to 12 h); here the window opens at once.
        waitTimeOverrides: { WaitForEmbedWindow: 0 },
        taskResourceLocalHandlers: {
          Validate: at('Validate', worker.handler('validate_handler')),
          Extract: at('Extract', worker.handler('extract_handler')),
          Chunk: at('Chunk', worker.handler('chunk_handler')),
          Embed: at('Embed', worker.handler('embed_handler')),
          Store: at('Store', worker.handler('store_handler')),
          DeleteDocument: at('DeleteDocument', worker.handler('delete_handler')),
          Retier: at('Retier', worker.handler('retier_handler')),
          RecordFailure: worker.handler('record_failure_handler'),
          MarkForReview: worker.handler('mark_for_review_handler'),
          NotifyReviewer: async () => ({}),
          WaitForReview: async (params: any) => {
            reviewMessages.push(params.MessageBody); // SQS SendMessage parameters: {QueueUrl, MessageBody}
            if (!review.approve) {
              const e = new Error('rejected by reviewer');
              e.name = 'ReviewRejected';
              throw e;
            }
            return { approved: true, reviewedTextKey: review.reviewedTextKey };
          },
        },
      },
    });
    try {
      return { status: 'SUCCEEDED', output: await execution.result, name };
    } catch (e: any) {
      return { status: 'FAILED', error: e.name, cause: e.message, name };
    }
  }

  const status = async (key: string) => {
    const { status: st, chunks } = await worker.request({ op: 'status', key });
    return { status: st, chunks };
  };
  const tiers = async (key: string) => (await worker.request({ op: 'status', key })).tiers as string[];
  const event = (key: string, versionId: string, sequencer: string, action = 'upsert', eventName = 'ObjectCreated:Put') => ({ action, bucket: 'docai-intake', key, versionId, sequencer, eventName });
  const text = (n: number, word: string) => Array.from({ length: n }, (_, i) => `${word} sentence number ${i} describes the contract terms in detail.`).join(' ');

  test('a good document ends with its chunks stored, with metadata from the object', async () => {
    const v = await upload('contracts/lease.txt', text(40, 'Lease'), { metadata: { 'access-tier': 'confidential', 'document-date': '2026-03-01' }, tags: { 'business-unit': 'legal' } });
    const r = await run(event('contracts/lease.txt', v, '0100'));
    expect(r.status).toBe('SUCCEEDED');
    const s = await status('contracts/lease.txt');
    expect(s.status).toEqual(expect.objectContaining({ status: 'stored', version_id: v, access_tier: 'confidential' }));
    expect(s.chunks.length).toBeGreaterThan(3);
    expect(s.chunks.join(' ')).toContain('Lease sentence number 39');
  });

  test('a duplicate run changes nothing', async () => {
    const before = await status('contracts/lease.txt');
    const v = before.status.version_id;
    const r = await run(event('contracts/lease.txt', v, '0100'));
    expect(r.status).toBe('SUCCEEDED');
    expect(r.output.stored.outcome).toBe('unchanged');
    expect(await status('contracts/lease.txt')).toEqual(before);
  });

  test('backfill turns a stored document into a re-embedding input for its current version, and skips one that is not stored', async () => {
    const stored = (await status('contracts/lease.txt')).status;
    const item = await worker.request({ op: 'call', handler: 'backfill_item_handler', event: { Key: 'contracts/lease.txt' } });
    expect(item.result).toEqual({ skip: false, input: expect.objectContaining({ action: 'upsert', reembed: true, bucket: 'docai-intake', key: 'contracts/lease.txt', versionId: stored.version_id, sequencer: stored.sequencer }) });
    await upload('drafts/unprocessed.txt', 'not yet through the pipeline');
    expect((await worker.request({ op: 'call', handler: 'backfill_item_handler', event: { Key: 'drafts/unprocessed.txt' } })).result.skip).toBe(true);
  });

  test('a newer version replaces the older; the older arriving late is superseded', async () => {
    const v2 = await upload('contracts/lease.txt', text(10, 'Amended'), { metadata: { 'access-tier': 'confidential' } });
    expect((await run(event('contracts/lease.txt', v2, '0200'))).status).toBe('SUCCEEDED');
    const s = await status('contracts/lease.txt');
    expect(s.status.version_id).toBe(v2);
    expect(s.chunks.join(' ')).toContain('Amended');
    expect(s.chunks.join(' ')).not.toContain('Lease sentence');
    const late = await run(event('contracts/lease.txt', s.status.version_id, '0150'));
    expect(late.status).toBe('SUCCEEDED'); // ends in Superseded, a Succeed state
    expect((await status('contracts/lease.txt')).chunks).toEqual(s.chunks);
  });

  test('a delete removes the rows', async () => {
    const r = await run(event('contracts/lease.txt', 'dm-1', '0300', 'delete', 'ObjectRemoved:DeleteMarkerCreated'));
    expect(r.status).toBe('SUCCEEDED');
    const s = await status('contracts/lease.txt');
    expect(s.status.status).toBe('deleted');
    expect(s.chunks).toEqual([]);
  });

  test('permanently deleting the current version indexes the version S3 serves now, and removing a delete marker brings the document back', async () => {
    const v1 = await upload('policies/handbook.txt', text(12, 'Original'), { metadata: { 'access-tier': 'internal' } });
    expect((await run(event('policies/handbook.txt', v1, '0100'))).status).toBe('SUCCEEDED');
    const v2 = await upload('policies/handbook.txt', text(12, 'Revised'), { metadata: { 'access-tier': 'internal' } });
    expect((await run(event('policies/handbook.txt', v2, '0200'))).status).toBe('SUCCEEDED');
    await worker.request({ op: 'delete_version', key: 'policies/handbook.txt', versionId: v2 });
    const r = await run(event('policies/handbook.txt', v2, '0300', 'delete', 'ObjectRemoved:Delete'));
    expect(r.status).toBe('SUCCEEDED');
    expect(r.output.deleted).toEqual({ outcome: 'deleted', reindex: { versionId: v1 } });
    let s = await status('policies/handbook.txt');
    expect(s.status).toEqual(expect.objectContaining({ status: 'stored', version_id: v1 }));
    expect(s.chunks.join(' ')).toContain('Original sentence number 11');
    expect(s.chunks.join(' ')).not.toContain('Revised');
    // a delete marker hides it; permanently removing the marker makes S3 serve v1 again
    const marker = (await worker.request({ op: 'delete_marker', key: 'policies/handbook.txt' })).versionId;
    expect((await run(event('policies/handbook.txt', marker, '0400', 'delete', 'ObjectRemoved:DeleteMarkerCreated'))).status).toBe('SUCCEEDED');
    expect((await status('policies/handbook.txt')).status.status).toBe('deleted');
    await worker.request({ op: 'delete_version', key: 'policies/handbook.txt', versionId: marker });
    const back = await run(event('policies/handbook.txt', marker, '0500', 'delete', 'ObjectRemoved:Delete'));
    expect(back.output.deleted).toEqual({ outcome: 'other-version', reindex: { versionId: v1 } });
    s = await status('policies/handbook.txt');
    expect(s.status).toEqual(expect.objectContaining({ status: 'stored', version_id: v1 }));
    // removing an old version that is not served changes nothing
    const v3 = await upload('policies/handbook.txt', text(5, 'Third'), { metadata: { 'access-tier': 'internal' } });
    expect((await run(event('policies/handbook.txt', v3, '0600'))).status).toBe('SUCCEEDED');
    await worker.request({ op: 'delete_version', key: 'policies/handbook.txt', versionId: v1 });
    const old = await run(event('policies/handbook.txt', v1, '0700', 'delete', 'ObjectRemoved:Delete'));
    expect(old.output.deleted).toEqual({ outcome: 'other-version' });
    expect((await status('policies/handbook.txt')).status.version_id).toBe(v3);
  });

  test('re-tagging a stored version re-tiers it and its chunks without re-embedding', async () => {
    const v = await upload('hr/review-2026.txt', text(8, 'Review'), { tags: { 'access-tier': 'internal' } });
    expect((await run(event('hr/review-2026.txt', v, '0100'))).status).toBe('SUCCEEDED');
    expect((await status('hr/review-2026.txt')).status.access_tier).toBe('internal');
    const calls = (await worker.request({ op: 'endpoint' })).calls;
    await worker.request({ op: 'put_tags', key: 'hr/review-2026.txt', versionId: v, tags: { 'access-tier': 'restricted' } });
    const r = await run(event('hr/review-2026.txt', v, '0200', 'retag', 'ObjectTagging:Put'));
    expect(r.status).toBe('SUCCEEDED');
    expect(r.output.retiered).toEqual({ outcome: 'retiered', accessTier: 'restricted' });
    const s = await status('hr/review-2026.txt');
    expect(s.status).toEqual(expect.objectContaining({ status: 'stored', version_id: v, access_tier: 'restricted' }));
    expect((await worker.request({ op: 'endpoint' })).calls).toBe(calls); // nothing embedded again
    // an invalid tier in a tag is a recorded failure: the document is no longer served (fail closed)
    await worker.request({ op: 'put_tags', key: 'hr/review-2026.txt', versionId: v, tags: { 'access-tier': 'top-secret' } });
    const bad = await run(event('hr/review-2026.txt', v, '0300', 'retag', 'ObjectTagging:Put'));
    expect(bad.status).toBe('FAILED');
    expect((await status('hr/review-2026.txt')).chunks).toEqual([]);
    // correcting the tag brings it back under the corrected tier (was: not-stored, it stayed failed until re-uploaded)
    await worker.request({ op: 'put_tags', key: 'hr/review-2026.txt', versionId: v, tags: { 'access-tier': 'confidential' } });
    const fixed = await run(event('hr/review-2026.txt', v, '0400', 'retag', 'ObjectTagging:Put'));
    expect(fixed.status).toBe('SUCCEEDED');
    const back = await status('hr/review-2026.txt');
    expect(back.status).toEqual(expect.objectContaining({ status: 'stored', version_id: v, access_tier: 'confidential', error: null }));
    expect(back.chunks.join(' ')).toContain('Review sentence number 7');
    expect(await tiers('hr/review-2026.txt')).toEqual(['confidential']);
  });

  test('a document failed at upload by an invalid tag tier is indexed once the tag is corrected, without a re-upload', async () => {
    const v = await upload('hr/bad-at-upload.txt', text(4, 'Onboarding'), { tags: { 'access-tier': 'secret' } });
    expect((await run(event('hr/bad-at-upload.txt', v, '0100'))).status).toBe('FAILED');
    expect((await status('hr/bad-at-upload.txt')).status.status).toBe('failed');
    await worker.request({ op: 'put_tags', key: 'hr/bad-at-upload.txt', versionId: v, tags: { 'access-tier': 'internal' } });
    expect((await run(event('hr/bad-at-upload.txt', v, '0200', 'retag', 'ObjectTagging:Put'))).status).toBe('SUCCEEDED');
    const s = await status('hr/bad-at-upload.txt');
    expect(s.status).toEqual(expect.objectContaining({ status: 'stored', version_id: v, access_tier: 'internal' }));
    expect(s.chunks.join(' ')).toContain('Onboarding sentence number 3');
  });

  test('the replay of a tag change whose Retier found the database down brings the version back under the new tier (was: stale, it stayed unindexed)', async () => {
    const key = 'blip/retag.txt';
    const v = await upload(key, text(4, 'Budget'), { tags: { 'access-tier': 'internal' } });
    expect((await run(event(key, v, '0100'))).status).toBe('SUCCEEDED');
    await worker.request({ op: 'put_tags', key, versionId: v, tags: { 'access-tier': 'restricted' } });
    await worker.request({ op: 'break_db', handler: 'retier_handler' });
    const down = await run(event(key, v, '0200', 'retag', 'ObjectTagging:Put'));
    await worker.request({ op: 'break_db' });
    expect(down.status).toBe('FAILED');
    expect((await status(key)).chunks).toEqual([]); // its tier unknown: failed closed
    const replay = await run({ ...event(key, v, '0200', 'retag', 'ObjectTagging:Put'), replay: 1 });
    expect(replay.status).toBe('SUCCEEDED');
    const s = await status(key);
    expect(s.status).toEqual(expect.objectContaining({ status: 'stored', version_id: v, access_tier: 'restricted', error: null }));
    expect(s.chunks.join(' ')).toContain('Budget sentence number 3');
    expect(await tiers(key)).toEqual(['restricted']);
  });

  test('an invalid tag on an old version leaves the current version stored (was: the current version was marked failed and its chunks deleted)', async () => {
    const key = 'hr/old-version-bad-tag.txt';
    const v1 = await upload(key, text(4, 'Draft'), { tags: { 'access-tier': 'internal' } });
    expect((await run(event(key, v1, '0100'))).status).toBe('SUCCEEDED');
    const v2 = await upload(key, text(4, 'Final'), { tags: { 'access-tier': 'internal' } });
    expect((await run(event(key, v2, '0200'))).status).toBe('SUCCEEDED');
    const before = await status(key);
    await worker.request({ op: 'put_tags', key, versionId: v1, tags: { 'access-tier': 'top-secret' } });
    await run(event(key, v1, '0300', 'retag', 'ObjectTagging:Put'));
    expect(await status(key)).toEqual(before);
  });

  // --- races: one execution held at a step while the other event's execution runs ----------------

  test('race: a tag change while the upsert runs is applied by its Store (was: lost, the document stored under the old, lower tier)', async () => {
    const key = 'race/retag-in-flight.txt';
    const v = await upload(key, text(6, 'Salary'), { tags: { 'access-tier': 'internal' } });
    const g = gate();
    const upsert = run(event(key, v, '0100'), { holdBefore: 'Store', gate: g }); // Extract has read tier internal
    await g.reached;
    await worker.request({ op: 'put_tags', key, versionId: v, tags: { 'access-tier': 'restricted' } });
    const retag = await run(event(key, v, '0200', 'retag', 'ObjectTagging:Put'));
    expect(retag.status).toBe('SUCCEEDED');
    g.release();
    expect((await upsert).status).toBe('SUCCEEDED');
    expect((await status(key)).status).toEqual(expect.objectContaining({ status: 'stored', version_id: v, access_tier: 'restricted' }));
    expect(await tiers(key)).toEqual(['restricted']);
  });

  test('race: a tag change recorded before the first row of the key exists is not lost, also when that Store is retried', async () => {
    // the same race, the tag change recorded before any row of the key exists (first version, no Extract yet)
    const key = 'race/retag-before-extract.txt';
    const v = await upload(key, text(6, 'Bonus'), { tags: { 'access-tier': 'public' } });
    const g = gate();
    const upsert = run(event(key, v, '0100'), { holdBefore: 'Store', gate: g });
    await g.reached;
    await worker.request({ op: 'put_tags', key, versionId: v, tags: { 'access-tier': 'confidential' } });
    expect((await run(event(key, v, '0200', 'retag', 'ObjectTagging:Put'))).status).toBe('SUCCEEDED');
    await worker.request({ op: 'break_db', handler: 'store_handler', count: 1 });
    g.release();
    expect((await upsert).status).toBe('SUCCEEDED');
    expect((await worker.request({ op: 'break_db' })).handed).toBe(1);
    expect(await tiers(key)).toEqual(['confidential']);
  });

  test('race: a version deleted for good while its run is in flight stays deleted (was: the late Store made the deleted text searchable)', async () => {
    const key = 'race/delete-in-flight.txt';
    const v1 = await upload(key, text(5, 'Published'), { tags: { 'access-tier': 'public' } });
    expect((await run(event(key, v1, '0100'))).status).toBe('SUCCEEDED');
    const v2 = await upload(key, text(5, 'Leaked'), { tags: { 'access-tier': 'public' } });
    const g = gate();
    const upsert = run(event(key, v2, '0200'), { holdBefore: 'Store', gate: g });
    await g.reached;
    await worker.request({ op: 'delete_version', key, versionId: v2 });
    const del = await run(event(key, v2, '0300', 'delete', 'ObjectRemoved:Delete'));
    expect(del.status).toBe('SUCCEEDED');
    g.release();
    expect((await upsert).status).toBe('SUCCEEDED'); // Superseded
    const s = await status(key);
    expect(s.status).toEqual(expect.objectContaining({ status: 'stored', version_id: v1 }));
    expect(s.chunks.join(' ')).toContain('Published');
    expect(s.chunks.join(' ')).not.toContain('Leaked');
  });

  test('race: the first version of a key deleted for good while its run is in flight is never stored', async () => {
    const key = 'race/first-version-deleted.txt';
    const v = await upload(key, text(5, 'Withdrawn'));
    const g = gate();
    const upsert = run(event(key, v, '0100'), { holdBefore: 'Store', gate: g });
    await g.reached;
    await worker.request({ op: 'delete_version', key, versionId: v });
    expect((await run(event(key, v, '0200', 'delete', 'ObjectRemoved:Delete'))).status).toBe('SUCCEEDED');
    g.release();
    await upsert;
    expect((await status(key)).chunks).toEqual([]);
  });

  test('a lost database connection during Store is retried on a new connection (was: not retried, the new version failed and the stored one was deleted)', async () => {
    const key = 'blip/report.txt';
    const v1 = await upload(key, text(5, 'Quarterly'));
    expect((await run(event(key, v1, '0100'))).status).toBe('SUCCEEDED');
    const v2 = await upload(key, text(5, 'Restated'));
    const g = gate();
    const upsert = run(event(key, v2, '0200'), { holdBefore: 'Store', gate: g });
    await g.reached;
    await worker.request({ op: 'break_db', handler: 'store_handler', count: 1 }); // as a warm container's cached connection after a failover
    g.release();
    const r = await upsert;
    expect((await worker.request({ op: 'break_db' })).handed).toBe(1);
    expect(r.status).toBe('SUCCEEDED');
    const s = await status(key);
    expect(s.status).toEqual(expect.objectContaining({ status: 'stored', version_id: v2 }));
    expect(s.chunks.join(' ')).toContain('Restated');
  });

  test('when the database stays unreachable through every retry, the stored version keeps serving (was: its chunks were deleted)', async () => {
    const key = 'blip/report.txt';
    const stored = await status(key);
    const v3 = await upload(key, text(5, 'Unfinished'));
    await worker.request({ op: 'break_db', handler: 'store_handler' });
    const r = await run(event(key, v3, '0300'));
    await worker.request({ op: 'break_db' });
    expect(r.status).toBe('FAILED');
    const s = await status(key);
    expect(s.chunks).toEqual(stored.chunks);
    expect(s.status).toEqual(expect.objectContaining({ status: 'stored', version_id: stored.status.version_id, error: expect.stringContaining('DatabaseUnavailable') }));
  });

  test('a document arriving while the database is paused (auto-pause, 0 ACU) is stored once it resumed: Store retries DatabaseResuming (was: the connect timeout was a raw error, not retried)', async () => {
    const key = 'paused/first-upload.txt';
    const v = await upload(key, text(6, 'Dormant'));
    // Held until 3 connections were held (the deployed 20 s connect timeout shortened to 0.5 s; Step
    // Functions' retry waits set to 0 here): Store's first two attempts give up, the third is served.
    await worker.request({ op: 'pause_db', attempts: 3, connectTimeout: 0.5 });
    const r = await run(event(key, v, '0100'));
    const seen = await worker.request({ op: 'pause_db' });
    expect(r.status).toBe('SUCCEEDED');
    expect(seen).toEqual(expect.objectContaining({ held: 3, forwarded: 1, resumingErrors: 2 }));
    const s = await status(key);
    expect(s.status).toEqual(expect.objectContaining({ status: 'stored', version_id: v }));
    expect(s.chunks.join(' ')).toContain('Dormant sentence number 5');
  });

  test('a delete whose Delete step finds the database down through every retry still stops serving the document (was: kept as for an upload)', async () => {
    const key = 'blip/deleted.txt';
    const v = await upload(key, text(4, 'Layoffs'));
    expect((await run(event(key, v, '0100'))).status).toBe('SUCCEEDED');
    const marker = (await worker.request({ op: 'delete_marker', key })).versionId;
    await worker.request({ op: 'break_db', handler: 'delete_handler' });
    const r = await run(event(key, marker, '0200', 'delete', 'ObjectRemoved:DeleteMarkerCreated'));
    await worker.request({ op: 'break_db' });
    expect(r.status).toBe('FAILED');
    const s = await status(key);
    expect(s.chunks).toEqual([]);
    expect(s.status.error).toContain('DatabaseUnavailable');
  });

  test('a bad document ends in RecordFailure with status failed, and nothing is stored', async () => {
    const v = await upload('scans/fake.pdf', Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 7919) % 256)));
    const r = await run(event('scans/fake.pdf', v, '0100'));
    // the local runner reports a Fail state as ExecutionError with the Fail state's cause
    expect(r).toEqual(expect.objectContaining({ status: 'FAILED', cause: expect.stringContaining('Recorded by RecordFailure') }));
    const s = await status('scans/fake.pdf');
    expect(s.status.status).toBe('failed');
    expect(s.status.error).toMatch(/UnsupportedDocument: .*not a PDF/);
    expect(s.chunks).toEqual([]);
  });

  test('an invalid access tier is a recorded failure, not a silent default', async () => {
    const v = await upload('notes/x.txt', text(3, 'Note'), { metadata: { 'access-tier': 'top-secret' } });
    const r = await run(event('notes/x.txt', v, '0100'));
    expect(r.status).toBe('FAILED');
    expect((await status('notes/x.txt')).status.error).toMatch(/InvalidMetadata: access-tier 'top-secret'/);
  });

  test('a transient endpoint failure (scaling from zero) is retried and then succeeds', async () => {
    const v = await upload('memos/cold-start.md', `# Memo\n\n${text(8, 'Memo')}`);
    const before = (await worker.request({ op: 'endpoint', failNext: 2 })).calls;
    const r = await run(event('memos/cold-start.md', v, '0100'));
    expect(r.status).toBe('SUCCEEDED');
    const after = (await worker.request({ op: 'endpoint', failNext: 0 })).calls;
    const s = await status('memos/cold-start.md');
    expect(s.status.status).toBe('stored');
    // two failed calls plus one per batch
    expect(after - before).toBe(2 + Math.ceil(s.chunks.length / 4));
  });

  test('a PDF without text waits for a person; reject records the failure, approve with supplied text stores it', async () => {
    const { pdfWithoutText } = await import('./pdf-fixture');
    const v = await upload('scans/receipt.pdf', pdfWithoutText());
    review = { approve: false };
    const rejected = await run(event('scans/receipt.pdf', v, '0100'));
    expect(rejected.status).toBe('FAILED');
    expect(reviewMessages.at(-1)).toEqual(expect.objectContaining({ key: 'scans/receipt.pdf', taskToken: expect.anything() }));
    expect((await status('scans/receipt.pdf')).status.status).toBe('failed');

    const runId = `run-${runs + 1}`;
    await worker.request({ op: 'put_work', key: `runs/${runId}/reviewed.json`, json: { sections: [{ text: 'Receipt: taxi 42 EUR, 3 March 2026.', page: 1, heading: null }], pages: 1 } });
    review = { approve: true, reviewedTextKey: `runs/${runId}/reviewed.json` };
    const reviewsBefore = reviewMessages.length;
    const approved = await run(event('scans/receipt.pdf', v, '0200'));
    expect(approved.status).toBe('SUCCEEDED');
    // one review for this run: the supplied text is stored, not extracted again and sent back to review
    expect(reviewMessages.length).toBe(reviewsBefore + 1);
    const s = await status('scans/receipt.pdf');
    expect(s.status.status).toBe('stored');
    expect(s.chunks).toEqual(['Receipt: taxi 42 EUR, 3 March 2026.']);
  });

  test('an approval naming another run\'s reviewed text is refused and recorded (was: that text was stored under this document)', async () => {
    const { pdfWithoutText } = await import('./pdf-fixture');
    const v = await upload('scans/other-run.pdf', pdfWithoutText());
    await worker.request({ op: 'put_work', key: 'runs/run-someone-else/reviewed.json', json: { sections: [{ text: 'Text of another document.', page: 1, heading: null }], pages: 1 } });
    review = { approve: true, reviewedTextKey: 'runs/run-someone-else/reviewed.json' };
    const r = await run(event('scans/other-run.pdf', v, '0100'));
    review = { approve: false };
    expect(r.status).toBe('FAILED');
    // the review task names the one key this run accepts
    expect(reviewMessages.at(-1)).toEqual(expect.objectContaining({ reviewedTextKey: `runs/${r.name}/reviewed.json` }));
    const s = await status('scans/other-run.pdf');
    expect(s.status.status).toBe('failed');
    expect(s.status.error).toMatch(/reviewedTextKey .*runs\/run-\d+\/reviewed\.json/);
    expect(s.chunks).toEqual([]);
  });

  test('backfill skips an object deleted since the listing (was: PermanentError, counted against the tolerance)', async () => {
    await upload('drafts/gone.txt', 'deleted before its backfill item ran');
    await worker.request({ op: 'delete_marker', key: 'drafts/gone.txt' });
    const item = await worker.request({ op: 'call', handler: 'backfill_item_handler', event: { Key: 'drafts/gone.txt' } });
    expect(item.error).toBeUndefined();
    expect(item.result).toEqual({ skip: true, reason: expect.stringMatching(/deleted since the listing/) });
  });

  test('a key PostgreSQL cannot store (NUL) ends in a recorded failure (was: RecordFailure failed too, nothing recorded)', async () => {
    const r = await run(event('odd/a\u0000b.txt', 'v-nul', '0100'));
    expect(r).toEqual(expect.objectContaining({ status: 'FAILED', cause: expect.stringContaining('Recorded by RecordFailure') }));
    const s = await status('odd/a\\x00b.txt');
    expect(s.status).toEqual(expect.objectContaining({ status: 'failed', error: expect.stringContaining('NUL') }));
  });

  test('the embedding Map carries the run\'s workflow to Embed: a backfill\'s tokens are counted as backfill, not ingest', async () => {
    const stored = (await status('memos/cold-start.md')).status;
    const items: any[] = [];
    const from = worker.stderr.length;
    const r = await run({ action: 'upsert', reembed: true, bucket: 'docai-intake', key: 'memos/cold-start.md', versionId: stored.version_id, sequencer: stored.sequencer, eventName: 'Backfill' }, { items });
    expect(r.status).toBe('SUCCEEDED');
    expect(items.length).toBeGreaterThan(0);
    expect(items.map((i) => i.workflow)).toEqual(items.map(() => 'backfill'));
    const emf = worker.stderr.slice(from).split('\n').filter((l) => l.includes('"_aws"') && l.includes('TokensEmbedded')).map((l) => JSON.parse(l));
    expect(emf.length).toBeGreaterThan(0);
    expect(emf.map((m) => m.Workflow)).toEqual(emf.map(() => 'backfill'));
  });

  // Runs last in this file: the calls of every test above, against what the pilot and production grant.
  test.each(['pilot', 'production'])('every AWS call the handlers made above is allowed by the %s templates (IAM, resource and KMS key policies)', async (stage) => {
    const calls = readRecordedCalls(CALL_LOG);
    const handlers = ['validate_handler', 'extract_handler', 'chunk_handler', 'embed_handler', 'store_handler', 'delete_handler', 'record_failure_handler', 'mark_for_review_handler', 'backfill_item_handler', 'retier_handler'];
    expect(handlers.filter((h) => !calls.some((c) => c.caller === `pipeline_handlers.${h}`))).toEqual([]);
    const denied = await deniedRecordedCalls(contractAssembly(stage), calls);
    expect(denied).toEqual([]);
  });
});
