/**
 * One contract for both languages: lib/contract is the source, the Python side reads the generated
 * lambda/shared/docai_shared/contract.json, and neither side keeps its own copy of the tier list.
 */
import { spawnSync } from 'child_process';
import { App } from 'aws-cdk-lib';
import * as fs from 'fs';
import * as path from 'path';
import { ACCESS_TIERS, contractJson, CUSTOM_METRICS, FUNCTION_ENVIRONMENT, LOCAL_ENVIRONMENT, DEFAULT_ACCESS_TIER, EXTRACT_LIMIT_ENV, EXTRACT_LIMITS, METRIC_DIMENSIONS_ENV, METRICS_NAMESPACE, PYTHON_CONTRACT_PATH, QUERY_LIMITS } from '../../lib/contract';

import { DocaiMetricFactory } from '../../lib/common/metric-factory';
import { synthStage } from '../helpers';

const ROOT = path.join(__dirname, '..', '..');
const PYTHON = path.join(ROOT, '.venv', 'bin', 'python');

test('the Python copy is current (npm run contract writes it)', () => {
  expect(fs.readFileSync(path.join(ROOT, PYTHON_CONTRACT_PATH), 'utf8')).toBe(contractJson());
});

test('the Python modules use the contract: tiers, limits, metric namespace and environment names', () => {
  const script = `
import json
from docai_shared import contract, db, observability
import query_service, extraction
print(json.dumps({
  "db": list(db.ACCESS_TIERS), "query": list(query_service.TIERS), "question": query_service.MAX_QUESTION_CHARS,
  "limits": {f: getattr(extraction.Limits(), f) for f in extraction.Limits.__dataclass_fields__},
  "limitEnv": contract.EXTRACT_LIMIT_ENV, "namespace": observability.NAMESPACE, "dimensionsEnv": observability.METRIC_DIMENSIONS_ENV,
  "defaultTier": contract.DEFAULT_ACCESS_TIER,
}))`;
  const r = spawnSync(PYTHON, ['-c', script], { cwd: path.join(ROOT, 'lambda'), encoding: 'utf8', env: { ...process.env, PYTHONPATH: ['shared', 'query', 'pipeline'].map((d) => path.join(ROOT, 'lambda', d)).join(path.delimiter) } });
  expect(r.stderr).toBe('');
  const py = JSON.parse(r.stdout);
  const snake = (k: string) => k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
  expect(py).toEqual({
    db: [...ACCESS_TIERS], query: [...ACCESS_TIERS], question: QUERY_LIMITS.maxQuestionChars,
    limits: Object.fromEntries(Object.entries(EXTRACT_LIMITS).map(([k, v]) => [snake(k), v])),
    limitEnv: Object.fromEntries(Object.entries(EXTRACT_LIMIT_ENV).map(([k, v]) => [snake(k), v])),
    namespace: METRICS_NAMESPACE, dimensionsEnv: METRIC_DIMENSIONS_ENV, defaultTier: DEFAULT_ACCESS_TIER,
  });
});

test('no Python module outside the contract spells the tier list itself', () => {
  // Python's own parser: a tuple, list or set of exactly the tier names, in any order.
  const script = `
import ast, json, pathlib, sys
tiers = set(json.loads(sys.argv[2]))
found = []
for p in sorted(pathlib.Path(sys.argv[1]).rglob("*.py")):
    rel = p.relative_to(sys.argv[1]).as_posix()
    if rel.startswith("tests/"):
        continue
    for node in ast.walk(ast.parse(p.read_text(), filename=rel)):
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)) and len(node.elts) > 1 and all(isinstance(e, ast.Constant) and e.value in tiers for e in node.elts):
            found.append(f"{rel}:{node.lineno}")
print(json.dumps(found))`;
  const r = spawnSync(PYTHON, ['-c', script, path.join(ROOT, 'lambda'), JSON.stringify(ACCESS_TIERS)], { encoding: 'utf8' });
  expect(r.stderr).toBe('');
  expect(JSON.parse(r.stdout)).toEqual([]);
});

test('no TypeScript module outside lib/contract spells the tier list itself', () => {
  const list = new RegExp(ACCESS_TIERS.map((t) => `['"]${t}['"]`).join('\\s*[,|]\\s*'));
  const hits: string[] = [];
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) { if (p !== path.join(ROOT, 'lib', 'contract')) walk(p); } else if (p.endsWith('.ts') && list.test(fs.readFileSync(p, 'utf8'))) hits.push(path.relative(ROOT, p));
    }
  };
  walk(path.join(ROOT, 'lib'));
  expect(hits).toEqual([]);
});

test('the database schema knows the same tiers, in the same order, with one reader role each', () => {
  const sql = (f: string) => fs.readFileSync(path.join(ROOT, 'lambda', 'migrations', 'sql', f), 'utf8');
  const ranked = [...sql('0001_extension_and_tiers.sql').matchAll(/\('([a-z]+)', (\d+)\)/g)].map((m) => [m[1], Number(m[2])]);
  expect(ranked).toEqual(ACCESS_TIERS.map((t, i) => [t, i]));
  const roles = sql('0004_roles_and_row_level_security.sql').match(/ARRAY\[([^\]]+)\]/)![1];
  expect([...roles.matchAll(/'docai_reader_([a-z]+)'/g)].map((m) => m[1])).toEqual([...ACCESS_TIERS]);
});

describe('environment variable names', () => {
  /** name -> handlers that get it, over both stages' synthesized functions. */
  const set: Record<string, Set<string>> = {};
  for (const stage of ['pilot', 'production']) {
    for (const t of Object.values(synthStage(stage).templates)) {
      for (const fn of Object.values<any>(t.findResources('AWS::Lambda::Function'))) {
        for (const name of Object.keys(fn.Properties.Environment?.Variables ?? {})) (set[name] ??= new Set()).add(fn.Properties.Handler);
      }
    }
  }
  const r = spawnSync(PYTHON, [path.join(__dirname, 'environment_reads.py'), path.join(ROOT, 'lambda')], { encoding: 'utf8' });
  const read: Record<string, string[]> = JSON.parse(r.stdout);
  const listed = (name: string, handler: string) =>
    (FUNCTION_ENVIRONMENT[name] ?? []).some((h) => h === handler || (h.endsWith('.*') && handler.startsWith(h.slice(0, -1))));

  test('the scan of the Python reads works (it finds the ones every layer reads)', () => {
    expect(r.stderr).toBe('');
    expect(read).toMatchObject({ DB_HOST: ['db'], GATEWAY_CONFIG: ['gateway'], JWKS: ['retrieve_handler'], ENDPOINT_NAME: ['pipeline_handlers'], AUDIT_BUCKET: ['query_service'] });
  });

  test('every variable a function of either stage sets is in the contract, for that function', () => {
    expect(set.DB_HOST).toContain('retrieve_handler.handler');
    const unlisted = Object.entries(set).flatMap(([name, hs]) => [...hs].filter((h) => !listed(name, h)).map((h) => `${name} on ${h}`));
    expect(unlisted).toEqual([]);
  });

  test('every name the Python code reads is in the contract', () => {
    expect(Object.keys(read).filter((n) => !(n in FUNCTION_ENVIRONMENT) && !(n in LOCAL_ENVIRONMENT))).toEqual([]);
  });

  test('no contract name is stale: each is set by some function or read by some module', () => {
    const names = [...Object.keys(FUNCTION_ENVIRONMENT), ...Object.keys(LOCAL_ENVIRONMENT)];
    expect(names.filter((n) => !(n in set) && !(n in read))).toEqual([]);
    // a local name is one no function gets: set by a construct, it belongs in FUNCTION_ENVIRONMENT
    expect(Object.keys(LOCAL_ENVIRONMENT).filter((n) => n in set || !(n in read))).toEqual([]);
  });

  test('the Python copy names them all (docai_shared.contract.ENVIRONMENT_NAMES)', () => {
    const py = spawnSync(PYTHON, ['-c', 'import json; from docai_shared import contract; print(json.dumps(sorted(contract.ENVIRONMENT_NAMES)))'], { encoding: 'utf8', env: { ...process.env, PYTHONPATH: path.join(ROOT, 'lambda', 'shared') } });
    expect(py.stderr).toBe('');
    expect(JSON.parse(py.stdout)).toEqual([...Object.keys(FUNCTION_ENVIRONMENT), ...Object.keys(LOCAL_ENVIRONMENT)].sort());
  });
});

test('the custom metric names of the contract are exactly those the handlers emit', () => {
  const r = spawnSync(PYTHON, [path.join(ROOT, 'test', 'observability', 'emitted_metrics.py'), path.join(ROOT, 'lambda')], { encoding: 'utf8' });
  expect(r.stderr).toBe('');
  const emitted = new Set<string>(JSON.parse(r.stdout).metrics.map((m: { name: string }) => m.name));
  expect([...emitted].sort()).toEqual([...CUSTOM_METRICS].sort());
});

test('the Python emitter refuses a metric name outside the contract, and the metric factory builds none', () => {
  const py = spawnSync(PYTHON, ['-c', `
from docai_shared.observability import Metrics, emf_line
m = Metrics("t")
m.add("Latency.retrieve", 1)
m.add("DocumentsFailed", 1)
for bad in (lambda: m.add("DocumentFailed", 1), lambda: emf_line({"Latencyx": (1, "Count")}, {}), lambda: m.add("Latency.", 1)):
    try:
        bad()
        print("accepted")
    except ValueError as e:
        print(e)
`], { encoding: 'utf8', env: { ...process.env, PYTHONPATH: path.join(ROOT, 'lambda', 'shared') } });
  expect(py.stderr).toBe('');
  expect(py.stdout.trim().split('\n')).toEqual(['DocumentFailed', 'Latencyx', 'Latency.'].map((n) => `metric '${n}' is not in the contract: add it to CUSTOM_METRICS in lib/contract/metrics.ts and run npm run contract`));
  const factory = new DocaiMetricFactory(new App(), { deploymentDimensions: {} });
  expect(factory.metric('DocumentsFailed').metricName).toBe('DocumentsFailed');
  expect(() => factory.metric('DocumentFailed')).toThrow(/DocumentFailed is no custom metric of lib\/contract/);
});
