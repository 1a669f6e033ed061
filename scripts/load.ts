/**
 * Load test of the query API: drives POST /v1/query (or /v1/search) at each concurrency for a
 * duration with autocannon, and prints per concurrency: requests/s, client latency p50/p95/p99,
 * error rate, and (locally) the handler's own latency per step (embed, retrieve, generate, audit).
 *
 *   npm run load -- --concurrency 10,100,500 --duration 30s                (local: bench/query_server.py)
 *   npm run load -- --url https://<api>.execute-api.<region>.amazonaws.com/v1 --token "$ID_TOKEN"
 *
 * Locally the real handlers run behind an HTTP adapter against PGlite with --chunks chunks and a
 * local model service with --model-latency-ms and --failure-rate (see bench/query_server.py). The
 * seeded database is kept in build/load-db/ and reused by the next run (--reseed seeds it again).
 */
import { ChildProcess, spawn } from 'child_process';
import * as path from 'path';
import { Cli, CliError, parseCli, runCli } from './cli';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const autocannon = require('autocannon');

const CLI: Cli = {
  name: 'npm run load',
  usage: 'npm run load -- [--concurrency 10,100,500] [--duration 30s] [--path /v1/query] [--url <api base> --token <id token>] [--chunks 10000] [--model-latency-ms 300] [--failure-rate 0] [--reseed]',
  summary: 'Load test of the query API: throughput, latency percentiles and errors per concurrency, and the latency of each step.',
  flags: {
    concurrency: { type: 'string', value: '<n,n,...>', description: 'concurrent connections, one run each', default: '10,100,500' },
    duration: { type: 'string', value: '<30s>', description: 'duration of each run (s or m suffix)', default: '30s' },
    path: { type: 'string', value: '</v1/query>', description: 'route to drive: /v1/query (answers) or /v1/search', default: '/v1/query' },
    url: { type: 'string', value: '<url>', description: 'a deployed API\'s base URL (stage included); without it, a local server is started' },
    token: { type: 'string', value: '<jwt>', description: 'with --url: a Cognito ID token for the Authorization header' },
    chunks: { type: 'string', value: '<n>', description: 'local: chunks in the vector store', default: '10000' },
    dim: { type: 'string', value: '<n>', description: 'local: embedding dimension', default: '384' },
    'model-latency-ms': { type: 'string', value: '<ms>', description: 'local: latency of each model answer', default: '300' },
    'failure-rate': { type: 'string', value: '<0..1>', description: 'local: share of model calls that fail (5xx)', default: '0' },
    reseed: { type: 'boolean', description: 'local: seed the database again instead of reusing the one a previous run kept in build/load-db/' },
    'distinct-questions': { type: 'string', value: '<n>', description: 'questions each connection cycles through, the same list for every connection (repeats hit the answer cache); 0: every question unique', default: '200' },
  },
};

interface Row {
  concurrency: number;
  requests: number;
  rps: number;
  p50: number;
  p95: number;
  p99: number;
  errorRate: number;
  statuses: Record<string, number>;
  steps?: Record<string, { n: number; p50: number | null; p95: number | null; p99: number | null }>;
}

const pct = (sorted: number[], p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.round((p / 100) * (sorted.length - 1)))] : NaN);

function seconds(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(s|m)?$/.exec(text.trim());
  if (!m) throw new CliError(`--duration: received ${JSON.stringify(text)}; expected seconds like 30s or minutes like 2m`);
  return Number(m[1]) * (m[2] === 'm' ? 60 : 1);
}

function positiveInts(flag: string, text: string): number[] {
  const values = text.split(',').map((v) => Number(v.trim()));
  if (values.some((v) => !Number.isInteger(v) || v < 1 || v > 10000)) throw new CliError(`--${flag}: received ${JSON.stringify(text)}; expected whole numbers from 1 to 10000, comma-separated`);
  return values;
}

function number(flag: string, text: string, min: number, max: number): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || n < min || n > max) throw new CliError(`--${flag}: received ${JSON.stringify(text)}; expected a number from ${min} to ${max}`);
  return n;
}

async function startLocal(v: Record<string, unknown>): Promise<{ url: string; proc: ChildProcess }> {
  const root = path.join(__dirname, '..');
  const args = [path.join(root, 'bench', 'query_server.py'), '--port', '0', '--chunks', String(v.chunks), '--dim', String(v.dim),
    '--model-latency-ms', String(v['model-latency-ms']), '--failure-rate', String(v['failure-rate']), ...(v.reseed ? ['--reseed'] : [])];
  const proc = spawn(path.join(root, '.venv', 'bin', 'python'), args, { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /ready (http:\/\/\S+)/.exec(out);
      if (m) {
        process.stderr.write(`${out.trim()}\n`);
        resolve({ url: m[1], proc });
      }
    });
    proc.on('exit', (code) => reject(new Error(`bench/query_server.py exited with ${code} before it served (run npm ci and bash scripts/venv.sh first)`)));
  });
}

async function run(url: string, route: string, concurrency: number, duration: number, headers: Record<string, string>, questions: number): Promise<Omit<Row, 'steps'>> {
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  const words = ['invoice', 'payment', 'contract', 'renewal', 'audit', 'policy', 'salary', 'merger', 'travel', 'expense', 'backup', 'privacy', 'budget', 'forecast'];
  const unique = questions === 0;
  const requests = Array.from({ length: unique ? 1 : questions }, (_, i) => ({
    // The base URL includes the stage (https://<api>.execute-api.<region>.amazonaws.com/v1); the route is relative to it.
    method: 'POST', path: new URL(route.replace(/^\/v1\//, ''), url.endsWith('/') ? url : `${url}/`).pathname,
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ question: `What does the ${words[i % words.length]} ${words[(i * 7) % words.length]} document say (${unique ? '[<id>]' : i})?` }),
  }));
  const instance = autocannon({ url: new URL(url).origin, connections: concurrency, duration, requests, timeout: 30, idReplacement: unique });
  instance.on('response', (_client: unknown, statusCode: number, _bytes: number, responseTime: number) => {
    latencies.push(responseTime);
    statuses[statusCode] = (statuses[statusCode] ?? 0) + 1;
  });
  const result = await instance;
  latencies.sort((a, b) => a - b);
  const errors = Object.entries(statuses).filter(([s]) => Number(s) >= 500).reduce((n, [, c]) => n + c, 0) + result.errors + result.timeouts;
  const total = latencies.length + result.errors + result.timeouts;
  return { concurrency, requests: total, rps: total / duration, p50: pct(latencies, 50), p95: pct(latencies, 95), p99: pct(latencies, 99), errorRate: total ? errors / total : 0, statuses };
}

runCli(async () => {
  const { values: v } = parseCli(CLI);
  const concurrencies = positiveInts('concurrency', String(v.concurrency ?? '10,100,500'));
  const duration = seconds(String(v.duration ?? '30s'));
  const route = String(v.path ?? '/v1/query');
  if (!['/v1/query', '/v1/search'].includes(route)) throw new CliError(`--path: received ${JSON.stringify(route)}; expected /v1/query or /v1/search`);
  const opts = { chunks: v.chunks ?? '10000', dim: v.dim ?? '384', 'model-latency-ms': v['model-latency-ms'] ?? '300', 'failure-rate': v['failure-rate'] ?? '0', reseed: Boolean(v.reseed) };
  number('chunks', String(opts.chunks), 10, 1_000_000);
  number('dim', String(opts.dim), 8, 2000);
  number('model-latency-ms', String(opts['model-latency-ms']), 0, 60_000);
  number('failure-rate', String(opts['failure-rate']), 0, 1);
  const questions = number('distinct-questions', String(v['distinct-questions'] ?? '200'), 0, 100_000);
  if (v.url && !v.token) throw new CliError('--url needs --token: the API authorizes every request (a Cognito ID token of a user in a tier group)');

  let local: { url: string; proc: ChildProcess } | undefined;
  const base = v.url ? String(v.url) : (local = await startLocal(opts)).url;
  const headers: Record<string, string> = v.url ? { authorization: String(v.token) } : { 'x-test-groups': 'docai-tier-internal', 'x-test-sub': 'load-user' };
  const rows: Row[] = [];
  try {
    for (const c of concurrencies) {
      if (local) await fetch(`${base}/_reset`, { method: 'POST' });
      process.stderr.write(`running ${c} connections for ${duration}s ...\n`);
      const row: Row = await run(base, route, c, duration, headers, questions);
      if (local) row.steps = ((await (await fetch(`${base}/_stats`)).json()) as any).steps;
      rows.push(row);
    }
  } finally {
    local?.proc.kill();
  }

  const f = (n: number | null | undefined) => (n === null || n === undefined || Number.isNaN(n) ? '-' : String(Math.round(n)));
  console.log(`Load test of ${route} at ${v.url ? base : `a local server (${opts.chunks} chunks, dim ${opts.dim}, model ${opts['model-latency-ms']} ms, failure rate ${opts['failure-rate']})`}, ${duration}s per run.`);
  console.log('client side (ms):');
  console.log('concurrency  requests   req/s    p50    p95    p99  errors  statuses');
  for (const r of rows) {
    console.log(`${String(r.concurrency).padStart(11)}  ${String(r.requests).padStart(8)}  ${r.rps.toFixed(1).padStart(6)}  ${f(r.p50).padStart(5)}  ${f(r.p95).padStart(5)}  ${f(r.p99).padStart(5)}  ${(100 * r.errorRate).toFixed(1).padStart(5)}%  ${JSON.stringify(r.statuses)}`);
  }
  if (local) {
    console.log('handler side, per step (ms, p50/p95/p99):');
    console.log(`concurrency  ${['embed', 'retrieve', 'generate', 'audit', 'total'].map((s) => s.padStart(18)).join('')}`);
    for (const r of rows) {
      console.log(`${String(r.concurrency).padStart(11)}  ${['embed', 'retrieve', 'generate', 'audit', 'total'].map((s) => {
        const st = r.steps?.[s];
        return `${f(st?.p50)}/${f(st?.p95)}/${f(st?.p99)}`.padStart(18);
      }).join('')}`);
    }
    console.log('Local numbers compare changes on this machine (one PGlite backend, Python threads); they are not Lambda + RDS numbers.');
  }
});
