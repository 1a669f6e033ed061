/**
 * The custom metric series the estimate prices are the ones the handlers can emit: every metric
 * name with its dimension names (test/observability/emitted_metrics.py) and every dimension value
 * (steps, latency steps, workflows: test/cost/metric_values.py; the WORKFLOW each function gets:
 * the synthesized templates; providers: the model chain). A handler that adds a metric, a
 * dimension or a value fails here until lib/cost/custom-metrics.ts counts it.
 */
import { spawnSync } from 'child_process';
import * as path from 'path';
import { customMetricSeries, metricEmitters, seriesOf } from '../../lib/cost';
import { PILOT, PRODUCTION } from '../../lib/config';
import { allStacks, synthStage } from '../helpers';

const ROOT = path.join(__dirname, '..', '..');
const PYTHON = path.join(ROOT, '.venv', 'bin', 'python');

function python(script: string): any {
  const r = spawnSync(PYTHON, [script, path.join(ROOT, 'lambda')], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${script}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

const scanned: { metrics: Array<{ file: string; name: string; dimensionSets: string[][] }> } = python(path.join(ROOT, 'test', 'observability', 'emitted_metrics.py'));
const values: { steps: string[]; latencySteps: string[]; pipelineWorkflows: string[]; queryWorkflows: string[] } = python(path.join(ROOT, 'test', 'cost', 'metric_values.py'));
const emitters = metricEmitters(PILOT);
const key = (file: string, name: string, dims: string[]) => `${file} ${name} [${[...dims].sort().join(',')}]`;
const uniq = (xs: string[]) => [...new Set(xs)].sort();

test('every metric name and dimension set the handlers emit is priced, and nothing else', () => {
  const code = uniq(scanned.metrics.flatMap((m) => uniq(m.dimensionSets.map((d) => d.join(','))).map((d) => key(m.file, m.name, d ? d.split(',') : []))));
  const table = uniq(emitters.flatMap((e) => e.names.map((n) => key(e.file, n.startsWith('Latency.') ? 'Latency.*' : n, Object.keys(e.dimensions)))));
  expect(table).toEqual(code);
});

test('every dimension value the handlers give is priced: steps, latency steps, workflows, providers', () => {
  const tableValues = (dim: string, file?: string) => uniq(emitters.filter((e) => !file || e.file === file).flatMap((e) => [...(e.dimensions[dim] ?? [])]));
  expect(tableValues('Step')).toEqual(uniq(values.steps));
  expect(uniq(emitters.flatMap((e) => e.names.filter((n) => n.startsWith('Latency.')).map((n) => n.slice('Latency.'.length))))).toEqual(uniq(values.latencySteps));
  expect(tableValues('Workflow', 'pipeline/pipeline_handlers.py')).toEqual(uniq(values.pipelineWorkflows));
  expect(tableValues('Workflow', 'query/query_service.py')).toEqual(uniq(values.queryWorkflows));
  // the Workflow a function's Metrics default to is its WORKFLOW variable (lib/common/python-function.ts)
  const { stacks, templates } = synthStage('pilot');
  const workflowOf = (handler: string) => uniq(allStacks(stacks).flatMap((s) => Object.values<any>(templates[s.stackName].toJSON().Resources)
    .filter((r) => r.Type === 'AWS::Lambda::Function' && String(r.Properties.Handler ?? '').startsWith(handler))
    .map((r) => r.Properties.Environment?.Variables?.WORKFLOW)));
  expect(tableValues('Workflow', 'ingestion/ingestion_handler.py')).toEqual(workflowOf('ingestion_handler.'));
  expect(tableValues('Workflow', 'query/retrieve_handler.py')).toEqual(workflowOf('retrieve_handler.'));
  // providers: the answer chain (gateway) and the embedder
  for (const c of [PILOT, PRODUCTION]) {
    expect(uniq(metricEmitters(c).flatMap((e) => [...(e.dimensions.Provider ?? [])]))).toEqual(uniq([...c.gateway.workflows.answer.models, 'embedding']));
  }
});

test('the series count is the product of names and dimension values, per activity', () => {
  const s = customMetricSeries(PILOT);
  expect(s.total).toBe(emitters.reduce((n, e) => n + seriesOf(e), 0));
  expect(s.documents + s.embedding + s.questions + s.refusals + s.events + s.collector).toBe(s.total);
  // e.g. StepLatency alone: 3 workflows x 9 steps
  expect(emitters.filter((e) => e.names.includes('StepLatency')).reduce((n, e) => n + seriesOf(e) / e.names.length, 0)).toBe(3 * 9);
});
