/**
 * The layers of lib/, lowest first. A module may import from its own layer or any layer below it,
 * never from one above; inside a layer only where `internal` says so, and never in a circle.
 *
 *   contract   lib/contract        names and limits TypeScript and Python share; imports nothing of lib
 *   config     lib/config          stage config, presets, catalogues (models, instances, images, regions)
 *   common     lib/common          construct helpers (keys, queues, tags, metric dimensions)
 *              lib/cost            the cost estimate: a pure function of the config
 *   constructs lib/network ... lib/alarm-topic, lib/break-glass (the building blocks; one may use another)
 *   checks     lib/readiness       rule packs and the security review: they read what constructs
 *              lib/review          create, and are registered by the app
 *   stacks     lib/stacks          map the stage config to construct props
 *   app        lib/app             the stage, tags, rule packs and plans the CLI scripts use
 *   entry      lib/index.ts        the construct API (the package's main entry point)
 *              lib/blueprint.ts    the whole app (docai-blueprint/blueprint): re-exports everything
 *
 * Nothing under lib/ imports bin/, scripts/ or test/ (they sit above the app).
 */
import * as fs from 'fs';
import * as path from 'path';
import * as ts from 'typescript';

export interface Layer {
  readonly name: string;
  /** Top-level entries of lib/ (directories, or a file such as index.ts). */
  readonly members: readonly string[];
  /** Whether members of this layer may import each other (still without a circle). */
  readonly internal: boolean;
}

export const LAYERS: readonly Layer[] = [
  { name: 'contract', members: ['contract'], internal: false },
  { name: 'config', members: ['config'], internal: false },
  { name: 'common', members: ['common', 'cost'], internal: false },
  {
    name: 'constructs',
    members: ['network', 'vector-database', 'intake-bucket', 'ingestion', 'document-pipeline', 'query-api', 'model-gateway', 'gpu-inference', 'observability', 'cost-controls', 'alarm-topic',
      // seca's break-glass construct (branch seca), placed before it is merged
      'break-glass'],
    internal: true,
  },
  { name: 'checks', members: ['readiness', 'review'], internal: false },
  { name: 'stacks', members: ['stacks'], internal: false },
  { name: 'app', members: ['app'], internal: false },
  { name: 'entry', members: ['index.ts', 'blueprint.ts'], internal: true },
];

export interface Edge { readonly from: string; readonly to: string; readonly specifier: string }

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...sourceFiles(p));
    else if (/\.ts$/.test(e.name) && !e.name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** The file a relative specifier names, as TypeScript resolves it (file, .ts, directory index). */
function resolveRelative(fromFile: string, specifier: string): string {
  const base = path.resolve(path.dirname(fromFile), specifier);
  for (const c of [base, `${base}.ts`, `${base}.d.ts`, path.join(base, 'index.ts')]) {
    if (fs.existsSync(c) && fs.statSync(c).isFile()) return c;
  }
  throw new Error(`${fromFile}: cannot resolve import '${specifier}'`);
}

/**
 * Every relative import of every module under `root`, read by TypeScript's own pre-processor:
 * `import`, `import type`, `export ... from`, `import()` and `require()` alike.
 */
export function importEdges(root: string): Edge[] {
  const edges: Edge[] = [];
  for (const file of sourceFiles(root)) {
    const info = ts.preProcessFile(fs.readFileSync(file, 'utf8'), true, true);
    for (const imp of info.importedFiles) {
      if (!imp.fileName.startsWith('.')) continue;
      edges.push({ from: path.relative(root, file), to: path.relative(root, resolveRelative(file, imp.fileName)), specifier: imp.fileName });
    }
  }
  return edges;
}

/** Bare module specifiers (npm packages, node built-ins) the modules under `dir` import. */
export function packageImports(dir: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const file of sourceFiles(dir)) {
    for (const imp of ts.preProcessFile(fs.readFileSync(file, 'utf8'), true, true).importedFiles) {
      if (imp.fileName.startsWith('.')) continue;
      out.set(imp.fileName, [...(out.get(imp.fileName) ?? []), file]);
    }
  }
  return out;
}

const top = (rel: string) => rel.split(path.sep)[0];

/** The layer index of a path relative to lib/, or undefined for a path outside lib/ or in no layer. */
function layerOf(rel: string): number | undefined {
  if (rel.startsWith('..')) return undefined;
  const i = LAYERS.findIndex((l) => l.members.includes(top(rel)));
  return i < 0 ? undefined : i;
}

/** Problems with the edges: an import upward, sideways where not allowed, out of lib/, or from an unplaced module. */
export function layerViolations(edges: readonly Edge[]): string[] {
  const problems: string[] = [];
  for (const e of edges) {
    const a = layerOf(e.from);
    const b = layerOf(e.to);
    const show = `${e.from} -> ${e.to} ('${e.specifier}')`;
    if (a === undefined) { problems.push(`${show}: lib/${top(e.from)} is in no layer (add it to LAYERS in test/layering/layers.ts)`); continue; }
    if (e.to.startsWith('..')) { problems.push(`${show}: lib/ imports from outside lib/`); continue; }
    if (b === undefined) { problems.push(`${show}: lib/${top(e.to)} is in no layer (add it to LAYERS in test/layering/layers.ts)`); continue; }
    if (top(e.from) === top(e.to)) continue;
    if (b > a) problems.push(`${show}: upward edge, ${top(e.from)} (layer ${LAYERS[a].name}) imports ${top(e.to)} (layer ${LAYERS[b].name})`);
    else if (b === a && !LAYERS[a].internal) problems.push(`${show}: sideways edge inside layer ${LAYERS[a].name} (${top(e.from)} and ${top(e.to)} do not import each other)`);
  }
  return problems;
}

/** The circles of a graph (its strongly connected components with more than one node, or a self-loop), each as a path. */
export function circles(edges: ReadonlyArray<readonly [string, string]>): string[][] {
  const next = new Map<string, Set<string>>();
  for (const [a, b] of edges) {
    if (!next.has(a)) next.set(a, new Set());
    if (!next.has(b)) next.set(b, new Set());
    next.get(a)!.add(b);
  }
  // Tarjan's algorithm
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string) => {
    index.set(v, counter); low.set(v, counter); counter++;
    stack.push(v); onStack.add(v);
    for (const w of next.get(v)!) {
      if (!index.has(w)) { visit(w); low.set(v, Math.min(low.get(v)!, low.get(w)!)); }
      else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do { w = stack.pop()!; onStack.delete(w); scc.push(w); } while (w !== v);
      if (scc.length > 1 || next.get(v)!.has(v)) found.push(cyclePath(scc, next));
    }
  };
  for (const v of [...next.keys()].sort()) if (!index.has(v)) visit(v);
  return found;
}

/** One concrete circle through the component, from its first member back to it (breadth-first). */
function cyclePath(scc: string[], next: Map<string, Set<string>>): string[] {
  const members = new Set(scc);
  const start = [...scc].sort()[0];
  const prev = new Map<string, string>();
  const queue = [start];
  while (queue.length) {
    const v = queue.shift()!;
    for (const w of [...next.get(v)!].sort()) {
      if (!members.has(w)) continue;
      if (w === start) {
        const p = [start];
        for (let x = v; x !== start; x = prev.get(x)!) p.splice(1, 0, x);
        return [...p, start];
      }
      if (!prev.has(w)) { prev.set(w, v); queue.push(w); }
    }
  }
  return [start, start];
}

/** Everything wrong with the imports under `root`: circles between files, between lib/ entries, and layer violations. */
export function layeringProblems(root: string): string[] {
  const edges = importEdges(root);
  return [
    ...circles(edges.map((e) => [e.from, e.to] as const)).map((c) => `circle between files: ${c.join(' -> ')}`),
    ...circles(edges.filter((e) => !e.to.startsWith('..') && top(e.from) !== top(e.to)).map((e) => [top(e.from), top(e.to)] as const)).map((c) => `circle between lib/ entries: ${c.join(' -> ')}`),
    ...layerViolations(edges),
  ];
}
