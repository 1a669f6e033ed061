/**
 * What the npm package must hold, and nothing more: the compiled library (dist/lib: .js, .d.ts and the
 * JSON it imports), the Lambda sources the constructs bundle (lambda/ without its tests), the SQL and
 * prompts read at synth time, package.json and README.md. Used by test/package/pack-contents.test.ts
 * (on a skeleton of the repository, without building) and by scripts/consumer.sh (on the real tarball).
 *
 *   tsx scripts/pack-contents.ts <package.tgz>    exits 1 and lists the problems when the tarball differs
 */
import { spawnSync } from 'child_process';
import * as path from 'path';

/** Never in the package: tests, benchmarks, tooling, CI, the example app, TypeScript sources. */
const FORBIDDEN: readonly RegExp[] = [
  /^test\//, /^bench\//, /^scripts\//, /^\.ci\//, /^examples\//, /^docs\//, /^bin\//, /^lambda\/tests\//,
  /^lib\/.*\.ts$/, /(^|\/)__pycache__\//, /\.pyc$/, /^(cdk\.json|jest\.config\.js|package-lock\.json|tsconfig.*\.json)$/,
];

/** Lambda files that are development-only (tests, their requirements). */
const LAMBDA_DEV_ONLY: readonly RegExp[] = [/^lambda\/tests\//, /^lambda\/requirements-dev\.txt$/];

/** The package's files, derived from the repository's tracked files (`git ls-files`). */
export function expectedPackFiles(tracked: readonly string[]): string[] {
  const out = new Set<string>(['package.json', 'README.md']);
  for (const f of tracked) {
    if (f.startsWith('lambda/') && !LAMBDA_DEV_ONLY.some((r) => r.test(f))) out.add(f);
    else if (/^prompts\/[^/]+\.json$/.test(f)) out.add(f);
    else if (/^lib\/.*\.sql$/.test(f)) out.add(f);
    else if (/^lib\/.*\.json$/.test(f)) out.add(`dist/${f}`); // tsc copies the JSON a module imports
    else if (/^lib\/.*\.ts$/.test(f) && !f.endsWith('.d.ts')) {
      const base = `dist/${f.slice(0, -'.ts'.length)}`;
      out.add(`${base}.js`).add(`${base}.d.ts`);
    }
  }
  return [...out].sort();
}

/** One line per file that would ship but must not, or is needed but missing. */
export function packProblems(listed: readonly string[], expected: readonly string[]): string[] {
  const have = new Set(listed);
  const want = new Set(expected);
  return [
    ...listed.filter((f) => FORBIDDEN.some((r) => r.test(f))).map((f) => `would ship ${f} (tests, tooling and sources stay out of the package)`),
    ...listed.filter((f) => !want.has(f) && !FORBIDDEN.some((r) => r.test(f))).map((f) => `would ship ${f}, which the library does not read`),
    ...expected.filter((f) => !have.has(f)).map((f) => `missing ${f}`),
  ];
}

/** `git ls-files` of the repository at `root`. */
export function trackedFiles(root: string): string[] {
  const r = spawnSync('git', ['ls-files', '-z'], { cwd: root, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`git ls-files failed in ${root}: ${r.stderr}`);
  return r.stdout.split('\0').filter((f) => f.length > 0);
}

/** What `npm pack` would put in the package of the folder `dir` (no build: --ignore-scripts). */
export function npmPackListing(dir: string): string[] {
  const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: dir, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`npm pack --dry-run failed in ${dir}: ${r.stderr}`);
  return (JSON.parse(r.stdout)[0].files as { path: string }[]).map((f) => f.path).sort();
}

/** The files in a packed tarball (`package/` prefix removed). */
export function tarballListing(tgz: string): string[] {
  const r = spawnSync('tar', ['-tzf', tgz], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`tar -tzf ${tgz} failed: ${r.stderr}`);
  return r.stdout.split('\n').filter((l) => l && !l.endsWith('/')).map((l) => l.replace(/^package\//, '')).sort();
}

if (require.main === module) {
  const tgz = process.argv[2];
  if (!tgz || tgz === '--help' || tgz === '-h') {
    console.log('Usage: tsx scripts/pack-contents.ts <package.tgz>\n\nChecks that the tarball holds exactly the compiled library, its Lambda sources and assets.');
    process.exit(tgz ? 0 : 1);
  }
  const problems = packProblems(tarballListing(tgz), expectedPackFiles(trackedFiles(path.join(__dirname, '..'))));
  for (const p of problems) console.error(p);
  process.exit(problems.length ? 1 : 0);
}
