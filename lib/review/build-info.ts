import { spawnSync } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';

/**
 * What a reviewer needs to know about the synth an assembly came from, written by bin/app.ts into
 * the assembly (`docai-build-info.json`) so the security review, which reads only the assembly,
 * can say which code, library version, stage and context it describes.
 */
export interface BuildInfo {
  readonly synthesizedAt: string;
  /** `git rev-parse HEAD`, with " (with uncommitted changes)" when the work tree differs; "unknown" outside git. */
  readonly gitCommit: string;
  readonly awsCdkLibVersion: string;
  readonly stage: string;
  readonly projectName: string;
  /** The context the user gave (-c, cdk.json), without CDK's feature flags and internal settings. */
  readonly context: Record<string, unknown>;
}

export const BUILD_INFO_FILE = 'docai-build-info.json';
export const REVIEW_FILES = ['security-review.md', 'security-review.html'] as const;
const FINGERPRINT = /docai-assembly-fingerprint: ([0-9a-f]{64})/;

function git(args: string[], cwd: string): string | undefined {
  const r = spawnSync('git', args, { cwd, encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

export function collectBuildInfo(opts: { stage: string; projectName: string; context: Record<string, unknown>; cwd?: string; now?: Date }): BuildInfo {
  const cwd = opts.cwd ?? process.cwd();
  const head = git(['rev-parse', 'HEAD'], cwd);
  const dirty = head !== undefined && (git(['status', '--porcelain', '--untracked-files=no'], cwd) ?? '') !== '';
  return {
    synthesizedAt: (opts.now ?? new Date()).toISOString(),
    gitCommit: head ? `${head}${dirty ? ' (with uncommitted changes)' : ''}` : 'unknown (not a git work tree)',
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    awsCdkLibVersion: require('aws-cdk-lib/package.json').version,
    stage: opts.stage,
    projectName: opts.projectName,
    context: Object.fromEntries(Object.entries(opts.context).filter(([k]) => !k.startsWith('@') && !k.includes(':')).sort(([a], [b]) => a.localeCompare(b))),
  };
}

export function readBuildInfo(dir: string): BuildInfo | undefined {
  const file = path.join(dir, BUILD_INFO_FILE);
  return fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : undefined;
}

/** SHA-256 over the assembly's templates (names and contents): what a review describes. */
export function assemblyFingerprint(dir: string): string {
  const h = crypto.createHash('sha256');
  for (const f of fs.readdirSync(dir).filter((n) => n.endsWith('.template.json')).sort()) {
    h.update(f).update('\0').update(fs.readFileSync(path.join(dir, f))).update('\0');
  }
  return h.digest('hex');
}

/** The marker a review carries (in a comment) so a later synth can tell it is stale. */
export function fingerprintMarker(fingerprint: string): string {
  return `docai-assembly-fingerprint: ${fingerprint}`;
}

const STALE_BANNER = 'STALE REVIEW: the templates in this assembly changed after this review was generated. Run npm run review again before relying on it.';

/**
 * Reviews in `dir` generated from other templates than the ones there now. Each is marked in place
 * with a banner at its top (so a reader opening it sees the warning), and returned.
 */
export function markStaleReviews(dir: string): string[] {
  const current = assemblyFingerprint(dir);
  const stale: string[] = [];
  for (const name of REVIEW_FILES) {
    const file = path.join(dir, name);
    if (!fs.existsSync(file)) continue;
    const text = fs.readFileSync(file, 'utf8');
    const recorded = FINGERPRINT.exec(text)?.[1];
    if (recorded === current) continue;
    stale.push(file);
    if (text.includes(STALE_BANNER)) continue;
    fs.writeFileSync(file, name.endsWith('.html')
      ? text.replace(/<body>/, `<body>\n<p class="stale" role="alert">${STALE_BANNER}</p>`)
      : `> **${STALE_BANNER}**\n\n${text}`);
  }
  return stale;
}
