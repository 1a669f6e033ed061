import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { expectedPackFiles, npmPackListing, packProblems, trackedFiles } from '../../scripts/pack-contents';

const ROOT = path.join(__dirname, '..', '..');

/**
 * A copy of the repository with every tracked file (empty), the compiled files a build would add, and
 * the junk a working tree collects, so `npm pack` shows what the package.json's `files` selects
 * without building (the real tarball is checked by scripts/consumer.sh).
 */
function skeleton(pkg: Record<string, unknown>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pack-'));
  const tracked = trackedFiles(ROOT);
  const extra = [
    ...expectedPackFiles(tracked).filter((f) => f.startsWith('dist/')),
    'dist/tsconfig.build.tsbuildinfo', 'lambda/shared/docai_shared/__pycache__/db.cpython-311.pyc', 'lambda/tests/__pycache__/conftest.cpython-311.pyc',
    'cdk.out/manifest.json', 'build/recorded-calls/x.jsonl', '.jest-tmp/x', 'examples/consumer/bin/app.js',
  ];
  for (const f of [...tracked, ...extra]) {
    fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    fs.writeFileSync(path.join(dir, f), '');
  }
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify(pkg));
  return dir;
}

const PKG = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));

describe('npm package contents', () => {
  test('the package holds exactly the compiled library, its Lambda sources, SQL and prompts', () => {
    const expected = expectedPackFiles(trackedFiles(ROOT));
    // the assets the constructs read at synth time are among them
    for (const f of ['lambda/shared/requirements.txt', 'lambda/migrations/sql/0001_extension_and_tiers.sql', 'prompts/answer.json',
      'lib/query-api/queries/which-requests-saw-a-document.sql', 'dist/lib/index.js', 'dist/lib/index.d.ts', 'dist/lib/blueprint.d.ts',
      'dist/lib/config/region-availability.json']) expect(expected).toContain(f);
    expect(packProblems(npmPackListing(skeleton(PKG)), expected)).toEqual([]);
  });

  test('a test, benchmark or script that would ship, or a missing asset, is reported by name', () => {
    const expected = expectedPackFiles(trackedFiles(ROOT));
    const leaky = { ...PKG, files: [...PKG.files, 'test/', 'bench/'] };
    const problems = packProblems(npmPackListing(skeleton(leaky)), expected);
    expect(problems).toContain('would ship test/helpers.ts (tests, tooling and sources stay out of the package)');
    expect(problems.some((p) => /^would ship bench\//.test(p))).toBe(true);
    const noPrompts = { ...PKG, files: PKG.files.filter((f: string) => !f.startsWith('prompts')) };
    expect(packProblems(npmPackListing(skeleton(noPrompts)), expected)).toEqual(['missing prompts/answer.json']);
  });

  test('the entry points a consumer imports are declared for node, for TypeScript with and without exports maps', () => {
    expect(PKG.main).toBe('dist/lib/index.js');
    expect(PKG.types).toBe('dist/lib/index.d.ts');
    expect(PKG.exports['.']).toEqual({ types: './dist/lib/index.d.ts', default: './dist/lib/index.js' });
    expect(PKG.exports['./blueprint']).toEqual({ types: './dist/lib/blueprint.d.ts', default: './dist/lib/blueprint.js' });
    expect(PKG.typesVersions['*'].blueprint).toEqual(['dist/lib/blueprint.d.ts']);
    // one copy of aws-cdk-lib and constructs: the consumer's
    expect(PKG.dependencies['aws-cdk-lib']).toBeUndefined();
    expect(PKG.dependencies.constructs).toBeUndefined();
    expect(PKG.peerDependencies).toEqual({ 'aws-cdk-lib': expect.stringMatching(/^\^2\./), constructs: expect.stringMatching(/^\^10\./) });
  });
});
