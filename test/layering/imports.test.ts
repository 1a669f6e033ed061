/**
 * The import layering of lib/ (the layers are defined in ./layers.ts): no circle between files or
 * between lib/ entries, no edge upward, and the config loads without the CDK or the rule packs.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { LAYERS, layeringProblems, packageImports } from './layers';

const ROOT = path.join(__dirname, '..', '..');
const LIB = path.join(ROOT, 'lib');

test('lib/ has no import circle and no upward or sideways edge', () => {
  expect(layeringProblems(LIB)).toEqual([]);
});

test('every entry of lib/ is placed in a layer', () => {
  const placed = LAYERS.flatMap((l) => l.members);
  const entries = fs.readdirSync(LIB).filter((e) => e.endsWith('.ts') || fs.statSync(path.join(LIB, e)).isDirectory());
  expect(entries.filter((e) => !placed.includes(e))).toEqual([]);
});

test('the contract and the config import no npm package but the few they need', () => {
  const allowed: Record<string, string[]> = { contract: [], config: ['fs', 'path', 'fastest-levenshtein'] };
  for (const [dir, ok] of Object.entries(allowed)) {
    const extra = [...packageImports(path.join(LIB, dir))].filter(([pkg]) => !ok.includes(pkg));
    expect({ dir, extra: extra.map(([pkg, files]) => `${pkg} (${files.map((f) => path.relative(ROOT, f)).join(', ')})`) }).toEqual({ dir, extra: [] });
  }
});

test('loading the config loads neither aws-cdk-lib nor cdk-nag', () => {
  const script = "require('./lib/config'); const m = Object.keys(require.cache); console.log(JSON.stringify({ n: m.length, cdk: m.filter((f) => /node_modules[\\\\/](aws-cdk-lib|cdk-nag)[\\\\/]/.test(f)).length }))";
  const r = spawnSync(process.execPath, ['--require', 'tsx/cjs', '-e', script], { cwd: ROOT, encoding: 'utf8' });
  expect(r.stderr).toBe('');
  const loaded = JSON.parse(r.stdout);
  expect(loaded.cdk).toBe(0);
  expect(loaded.n).toBeLessThan(50);
});

describe('the checker itself', () => {
  let dir: string;
  const lib = () => path.join(dir, 'lib');
  const write = (rel: string, text: string) => { fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true }); fs.writeFileSync(path.join(dir, rel), text); };
  beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'layers-')); });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('names an upward edge made by `import type`, a re-export, or a dynamic import', () => {
    write('lib/config/a.ts', "import type { S } from '../stacks';\nexport const a: S | undefined = undefined;\n");
    write('lib/config/b.ts', "export * from '../app/tags';\n");
    write('lib/common/c.ts', "export const c = () => import('../network/n');\n");
    write('lib/stacks/index.ts', 'export interface S { x: number }\n');
    write('lib/app/tags.ts', 'export const t = 1;\n');
    write('lib/network/n.ts', 'export const n = 1;\n');
    expect(layeringProblems(lib()).sort()).toEqual([
      "common/c.ts -> network/n.ts ('../network/n'): upward edge, common (layer common) imports network (layer constructs)",
      "config/a.ts -> stacks/index.ts ('../stacks'): upward edge, config (layer config) imports stacks (layer stacks)",
      "config/b.ts -> app/tags.ts ('../app/tags'): upward edge, config (layer config) imports app (layer app)",
    ]);
  });

  test('names a circle between files and between lib/ entries, and a sideways edge', () => {
    write('lib/network/a.ts', "import { b } from '../ingestion/b';\nexport const a = b;\n");
    write('lib/ingestion/b.ts', "import { a } from '../network/a';\nexport const b = 1; export const c = a;\n");
    write('lib/readiness/r.ts', "import '../review/v';\n");
    write('lib/review/v.ts', 'export {};\n');
    expect(layeringProblems(lib()).sort()).toEqual([
      'circle between files: ingestion/b.ts -> network/a.ts -> ingestion/b.ts',
      'circle between lib/ entries: ingestion -> network -> ingestion',
      "readiness/r.ts -> review/v.ts ('../review/v'): sideways edge inside layer checks (readiness and review do not import each other)",
    ]);
  });

  test('an import out of lib/ and a directory in no layer are named', () => {
    write('lib/config/a.ts', "import '../../scripts/x';\n");
    write('scripts/x.ts', 'export {};\n');
    write('lib/extras/e.ts', "import '../config/a';\n");
    expect(layeringProblems(lib()).sort()).toEqual([
      "config/a.ts -> ../scripts/x.ts ('../../scripts/x'): lib/ imports from outside lib/",
      "extras/e.ts -> config/a.ts ('../config/a'): lib/extras is in no layer (add it to LAYERS in test/layering/layers.ts)",
    ]);
  });
});
