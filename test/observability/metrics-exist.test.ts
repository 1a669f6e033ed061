/**
 * Every alarm and dashboard metric of both stages watches a metric that something emits, with
 * exactly its dimensions: AWS's (lib/observability/published-metrics.ts, each row cited) or our
 * handlers' (read from the Python source by emitted_metrics.py, not retyped here). Custom metrics
 * carry the deployment's project and stage; alarms on a metric that stops while its condition
 * lasts hold their state on missing data.
 */
import { spawnSync } from 'child_process';
import * as path from 'path';
import { PUBLISHED_METRICS, SAGEMAKER_KIND } from '../../lib/observability/published-metrics';
import { synthStage } from '../helpers';

const ROOT = path.join(__dirname, '..', '..');
interface Watched { where: string; namespace: string; name: string; dimensions: Record<string, unknown> }
interface Emitted { file: string; name: string; dimensionSets: string[][] }

const scanned = spawnSync('python3', [path.join(__dirname, 'emitted_metrics.py'), path.join(ROOT, 'lambda')], { encoding: 'utf8' });
const emitted: { metrics: Emitted[]; deploymentDimensionsEnv: string } = JSON.parse(scanned.stdout);

/**
 * Metrics that are not emitted while the condition they report lasts: their alarms must not return
 * to OK on missing data. BudgetUsedPercent: once a budget is spent the gateway refuses the request
 * before any model call and meters nothing (lambda/shared/docai_shared/gateway/gateway.py).
 */
const SILENT_WHILE_ALARMING = ['BudgetUsedPercent'];

/** A dashboard body (a string or an Fn::Join of strings and tokens) as JSON, tokens as a placeholder. */
function dashboardBody(body: unknown): any {
  if (typeof body === 'string') return JSON.parse(body);
  const [sep, parts] = (body as any)['Fn::Join'];
  return JSON.parse(parts.map((p: unknown) => (typeof p === 'string' ? p : 'TOKEN')).join(sep));
}

function watched(templates: Record<string, any>): Watched[] {
  const out: Watched[] = [];
  for (const [stack, t] of Object.entries(templates)) {
    for (const [id, r] of Object.entries<any>(t.Resources ?? {})) {
      const where = `${stack}/${id}`;
      if (r.Type === 'AWS::CloudWatch::Alarm') {
        const p = r.Properties;
        const dims = (d: any[] = []) => Object.fromEntries(d.map((x) => [x.Name, x.Value]));
        if (p.MetricName) out.push({ where, namespace: p.Namespace, name: p.MetricName, dimensions: dims(p.Dimensions) });
        for (const m of p.Metrics ?? []) if (m.MetricStat) out.push({ where, namespace: m.MetricStat.Metric.Namespace, name: m.MetricStat.Metric.MetricName, dimensions: dims(m.MetricStat.Metric.Dimensions) });
      }
      if (r.Type === 'AWS::CloudWatch::Dashboard') {
        for (const w of dashboardBody(r.Properties.DashboardBody).widgets ?? []) {
          for (const m of w.properties?.metrics ?? []) {
            const arr = (m as unknown[]).filter((x) => typeof x !== 'object');
            if (arr.length < 2) continue; // a math expression
            const [namespace, name, ...kv] = arr as string[];
            const dimensions: Record<string, unknown> = {};
            for (let i = 0; i + 1 < kv.length; i += 2) dimensions[kv[i]] = kv[i + 1];
            out.push({ where: `${where} "${w.properties.title}"`, namespace, name, dimensions });
          }
        }
      }
    }
  }
  return out;
}

/** The kind of SageMaker endpoint a metric names: by its EndpointName, or the stage's only kind. */
function sagemakerKind(templates: Record<string, any>, endpointName: unknown): string | undefined {
  const endpoints = Object.values(templates).flatMap((t) => Object.values<any>(t.Resources ?? {}).filter((r) => r.Type === 'AWS::SageMaker::Endpoint').map((e) => ({ e, t })));
  const kindOf = ({ e, t }: { e: any; t: any }) => {
    const cfg = t.Resources[e.Properties.EndpointConfigName?.['Fn::GetAtt']?.[0]];
    return (cfg?.Properties?.ProductionVariants ?? []).some((v: any) => v.ModelName !== undefined) ? SAGEMAKER_KIND.modelVariant : SAGEMAKER_KIND.inferenceComponents;
  };
  const named = endpoints.find((x) => x.e.Properties.EndpointName === endpointName);
  if (named) return kindOf(named);
  const kinds = new Set(endpoints.map(kindOf));
  return kinds.size === 1 ? [...kinds][0] : undefined;
}

/** Why a watched metric is not one anything emits, or undefined when it is. */
function problem(w: Watched, templates: Record<string, any>, deployment: string[]): string | undefined {
  const keys = Object.keys(w.dimensions).sort();
  const same = (a: readonly string[]) => JSON.stringify([...a].sort()) === JSON.stringify(keys);
  if (w.namespace === 'DocAI') {
    const pattern = (n: string) => new RegExp(`^${n.replace(/[.]/g, '\\.').replace(/\*/g, '.+')}$`);
    const sources = emitted.metrics.filter((e) => pattern(e.name).test(w.name));
    if (!sources.length) return `no handler emits DocAI ${w.name}`;
    const sets = sources.flatMap((e) => e.dimensionSets.map((s) => [...s, ...deployment]));
    return sets.some(same) ? undefined : `DocAI ${w.name} is emitted with ${JSON.stringify(sets.map((s) => [...s].sort()))}, watched with ${JSON.stringify(keys)}`;
  }
  let rows = PUBLISHED_METRICS.filter((r) => r.namespace === w.namespace && r.metrics.includes(w.name));
  if (w.namespace === 'AWS/SageMaker') {
    const kind = sagemakerKind(templates, w.dimensions.EndpointName);
    if (!kind) return `cannot tell which kind of endpoint ${JSON.stringify(w.dimensions)} is`;
    rows = rows.filter((r) => r.kind === kind);
  }
  if (!rows.length) return `no published-metrics row has ${w.namespace} ${w.name}`;
  return rows.some((r) => r.dimensionSets.some(same)) ? undefined : `${w.namespace} ${w.name} is published with ${JSON.stringify(rows.flatMap((r) => r.dimensionSets))} (${rows.map((r) => r.kind).join(', ')}), watched with ${JSON.stringify(keys)}`;
}

describe.each(['pilot', 'production'])('%s: every alarm and tile watches an emitted metric', (stage) => {
  const s = synthStage(stage);
  const templates = Object.fromEntries(Object.entries(s.templates).map(([n, t]) => [n, t.toJSON()]));
  const all = watched(templates);
  const functions = Object.values(templates).flatMap((t) => Object.entries<any>(t.Resources).filter(([, r]) => r.Type === 'AWS::Lambda::Function' && r.Properties.Environment?.Variables?.WORKFLOW !== undefined));
  const expected = { Project: s.config.projectName, Stage: s.config.environmentName ?? s.config.stage };

  test('the scan found the handlers\' metrics, and the check has material', () => {
    expect(scanned.status).toBe(0);
    expect(emitted.metrics.length).toBeGreaterThan(20);
    expect(all.filter((w) => w.namespace === 'DocAI').length).toBeGreaterThan(10);
    expect(all.filter((w) => w.namespace === 'AWS/SageMaker').length).toBeGreaterThan(3);
  });

  test('every DocaiFunction names the deployment\'s project and stage for its metrics', () => {
    expect(functions.length).toBeGreaterThan(5);
    for (const [id, f] of functions) {
      const raw = f.Properties.Environment.Variables[emitted.deploymentDimensionsEnv];
      expect({ id, dims: raw === undefined ? undefined : JSON.parse(raw) }).toEqual({ id, dims: expected });
    }
  });

  test('every custom metric watched carries the project and stage of this deployment', () => {
    const missing = all.filter((w) => w.namespace === 'DocAI' && (w.dimensions.Project !== expected.Project || w.dimensions.Stage !== expected.Stage)).map((w) => `${w.where}: ${w.name} ${JSON.stringify(w.dimensions)}`);
    expect(missing).toEqual([]);
  });

  test('each alarm and dashboard metric is one AWS publishes or a handler emits, with exactly those dimensions', () => {
    const deployment = Object.keys(expected);
    const wrong = all.map((w) => [w, problem(w, templates, deployment)] as const).filter(([, p]) => p).map(([w, p]) => `${w.where}: ${p}`);
    expect([...new Set(wrong)]).toEqual([]);
  });

  test('an alarm on a metric that stops while its condition lasts holds its state on missing data', () => {
    const alarms = Object.values(templates).flatMap((t) => Object.entries<any>(t.Resources).filter(([, r]) => r.Type === 'AWS::CloudWatch::Alarm' && SILENT_WHILE_ALARMING.includes(r.Properties.MetricName)));
    expect(alarms.length).toBeGreaterThan(0);
    for (const [id, a] of alarms) expect({ id, missing: a.Properties.TreatMissingData }).toEqual({ id, missing: expect.stringMatching(/^(ignore|breaching)$/) });
  });
});

describe('the check itself', () => {
  const t = { s: { Resources: {
    C: { Type: 'AWS::SageMaker::EndpointConfig', Properties: { ProductionVariants: [{ VariantName: 'AllTraffic' }] } },
    E: { Type: 'AWS::SageMaker::Endpoint', Properties: { EndpointName: 'x-embed', EndpointConfigName: { 'Fn::GetAtt': ['C', 'EndpointConfigName'] } } },
  } } };
  const w = (namespace: string, name: string, dimensions: Record<string, unknown>) => ({ where: 'w', namespace, name, dimensions });

  test('an inference-component endpoint watched per EndpointName and VariantName is refused; per InferenceComponentName it is fine', () => {
    expect(problem(w('AWS/SageMaker', 'Invocation5XXErrors', { EndpointName: 'x-embed', VariantName: 'AllTraffic' }), t, [])).toMatch(/published with \[\["InferenceComponentName"\]\]/);
    expect(problem(w('AWS/SageMaker', 'Invocation5XXErrors', { InferenceComponentName: 'x-embed-ic' }), t, [])).toBeUndefined();
  });

  test('a custom metric without the deployment dimensions, or one nothing emits, is refused', () => {
    expect(problem(w('DocAI', 'BudgetUsedPercent', { Workflow: 'answer' }), t, ['Project', 'Stage'])).toMatch(/watched with \["Workflow"\]/);
    expect(problem(w('DocAI', 'BudgetUsedPercent', { Workflow: 'answer', Project: 'p', Stage: 's' }), t, ['Project', 'Stage'])).toBeUndefined();
    expect(problem(w('DocAI', 'Latency.total', { Workflow: 'answer', Project: 'p', Stage: 's' }), t, ['Project', 'Stage'])).toBeUndefined();
    expect(problem(w('DocAI', 'NoSuchMetric', { Workflow: 'answer' }), t, [])).toMatch(/no handler emits/);
    expect(problem(w('AWS/SQS', 'ApproximateAgeOfOldestMessage', { QueueName: 'q', Stage: 's' }), t, [])).toMatch(/published with \[\["QueueName"\]\]/);
  });
});
