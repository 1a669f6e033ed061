/**
 * Proves offline that one stage becomes another in place: synthesizes both (the target under the
 * source's project and environment name, so the stacks are the same stacks), diffs every stack with
 * @aws-cdk/cloudformation-diff and judges every resource change. Exits 1 when a change would lose
 * state or fail on a custom name.
 *
 *   npm run plan -- --from pilot --to production [-c key=value ...] [--from-config a.json] [--to-config b.json] [--json]
 *
 * Upgrade mode: the same judgement between two versions' templates of one stage, plus grants lost
 * and custom names moved to another logical id (lib/app/upgrade-plan.ts). Either side is a cloud
 * assembly (a cdk.out directory) or a git ref, synthesized in a temporary worktree.
 *
 *   npm run plan -- --from-ref e1608b6 --to-ref HEAD [--stage pilot] [-c key=value ...]
 *   npm run plan -- --from-assembly old/cdk.out --to-assembly cdk.out
 */
import { spawnSync } from 'child_process';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { BLOCKING, formatPlan, promotionPlan } from '../lib/app';
import { assemblyTemplates, formatUpgradePlan, upgradeBlocked, upgradePlan } from '../lib/app/upgrade-plan';
import { resolveStageConfig } from '../lib/config';
import { namePrefix } from '../lib/stacks';
import { Cli, CliError, CONTEXT_FLAG, contextPairs, parseCli, runCli } from './cli';
import { synthesizeTemplates } from './synth';

const ROOT = path.join(__dirname, '..');

const CLI: Cli = {
  name: 'npm run plan',
  usage: 'npm run plan -- --from pilot --to production [-c key=value ...] [--from-config a.json] [--to-config b.json] [--json]\n       npm run plan -- (--from-ref <git ref> | --from-assembly <dir>) (--to-ref <git ref> | --to-assembly <dir>) [--stage pilot] [-c key=value ...] [--json]',
  summary: 'Diffs the synthesized stacks of two stage configs (the second deployed over the first) and judges every resource change: fine, replaces stateless, replaces or deletes state, or fails on a custom name. Exit 1 on the last two. With --from-ref/--from-assembly and --to-ref/--to-assembly it compares two versions of one stage (an upgrade) and also reports grants lost and custom names moved to another logical id; exit 1 on any.',
  flags: {
    from: { type: 'string', value: '<stage>', description: 'the deployed stage', default: 'pilot' },
    to: { type: 'string', value: '<stage>', description: 'the stage it becomes', default: 'production' },
    'from-config': { type: 'string', value: '<file.json>', description: 'configFile for the --from stage' },
    'to-config': { type: 'string', value: '<file.json>', description: 'configFile for the --to stage' },
    'from-assembly': { type: 'string', value: '<dir>', description: 'upgrade: the deployed version\'s cloud assembly (cdk.out of the old version)' },
    'to-assembly': { type: 'string', value: '<dir>', description: 'upgrade: the new version\'s cloud assembly' },
    'from-ref': { type: 'string', value: '<git ref>', description: 'upgrade: synthesize this commit (in a temporary git worktree) as the deployed version' },
    'to-ref': { type: 'string', value: '<git ref>', description: 'upgrade: synthesize this commit as the new version' },
    stage: { type: 'string', value: '<stage>', description: 'upgrade: the stage a --from-ref/--to-ref is synthesized as', default: 'pilot' },
    json: { type: 'boolean', description: 'print the plan as JSON' },
    context: { ...CONTEXT_FLAG, description: 'context for both stages (projectName, region, ...)' },
  },
};

/**
 * The cloud assembly of `ref` for a stage: `cdk synth` (every rule pack, as CI) in a temporary
 * worktree sharing this checkout's node_modules, kept under build/plan/ per commit, stage and context.
 */
function synthRef(ref: string, stage: string, context: Record<string, string>): string {
  const git = (...args: string[]) => {
    const r = spawnSync('git', args, { cwd: ROOT, encoding: 'utf8' });
    if (r.status !== 0) throw new CliError(`${CLI.name}: git ${args.join(' ')} failed: ${r.stderr.trim()}`);
    return r.stdout.trim();
  };
  const sha = git('rev-parse', '--verify', '--quiet', `${ref}^{commit}`);
  const ctx = { ...context, stage };
  const key = `${sha.slice(0, 12)}-${stage}-${createHash('sha256').update(JSON.stringify(ctx)).digest('hex').slice(0, 8)}`;
  const outdir = path.join(ROOT, 'build', 'plan', key);
  if (fs.existsSync(path.join(outdir, 'manifest.json'))) return outdir;
  const worktree = path.join(ROOT, 'build', 'plan', `worktree-${key}-${process.pid}`);
  git('worktree', 'add', '--detach', '--force', worktree, sha);
  try {
    fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(worktree, 'node_modules'));
    console.error(`${CLI.name}: synthesizing ${ref} (${sha.slice(0, 12)}) as stage ${stage} into ${path.relative(process.cwd(), outdir)} ...`);
    const args = ['cdk', 'synth', '--quiet', '--no-notices', ...Object.entries(ctx).flatMap(([k, v]) => ['-c', `${k}=${v}`]), '-o', `${outdir}.partial`];
    const r = spawnSync('npx', args, { cwd: worktree, encoding: 'utf8', env: { ...process.env, CDK_DISABLE_CLI_TELEMETRY: 'true' }, maxBuffer: 64 * 1024 * 1024 });
    if (r.status !== 0) throw new Error(`${CLI.name}: cdk synth of ${ref} failed (exit ${r.status}):\n${r.stderr.slice(-3000)}`);
    fs.rmSync(outdir, { recursive: true, force: true });
    fs.renameSync(`${outdir}.partial`, outdir);
  } finally {
    fs.rmSync(`${outdir}.partial`, { recursive: true, force: true });
    git('worktree', 'remove', '--force', worktree);
  }
  return outdir;
}

function upgrade(values: Record<string, unknown>, context: Record<string, string>): void {
  const stage = (values.stage as string | undefined) ?? context.stage ?? 'pilot';
  const side = (which: 'from' | 'to') => {
    const dir = values[`${which}-assembly`] as string | undefined;
    const ref = values[`${which}-ref`] as string | undefined;
    if (dir && ref) throw new CliError(`${CLI.name}: give --${which}-assembly or --${which}-ref, not both`);
    if (!dir && !ref) throw new CliError(`${CLI.name}: an upgrade needs both sides: --${which}-ref <git ref> or --${which}-assembly <dir> (e.g. --${which}-assembly cdk.out)`);
    const assembly = dir ? path.resolve(dir) : synthRef(ref!, stage, context);
    return { label: dir ? dir : `${ref}`, templates: assemblyTemplates(assembly) };
  };
  const from = side('from');
  const to = side('to');
  const plan = upgradePlan(from.templates, to.templates);
  if (values.json) console.log(JSON.stringify(plan, undefined, 2));
  else console.log(formatUpgradePlan(plan, `Upgrade plan: ${from.label} deployed, then ${to.label} (${values['from-ref'] || values['to-ref'] ? `stage ${stage}, ` : ''}same stacks)`));
  if (upgradeBlocked(plan)) process.exitCode = 1;
}

runCli(() => {
  const { values } = parseCli(CLI);
  const shared = contextPairs(CLI, values.context as string[] | undefined);
  if (['from-assembly', 'to-assembly', 'from-ref', 'to-ref'].some((k) => values[k] !== undefined)) {
    for (const k of ['from', 'to', 'from-config', 'to-config']) if (values[k] !== undefined) throw new CliError(`${CLI.name}: --${k} compares two stages; an upgrade (--from-ref/--to-ref/--from-assembly/--to-assembly) compares two versions of one`);
    upgrade(values, shared);
    return;
  }
  const resolve = (stage: string, file: string | undefined, extra: Record<string, string> = {}) => {
    const ctx: Record<string, string> = { ...shared, ...extra, stage, ...(file ? { configFile: file } : {}) };
    return resolveStageConfig((k) => ctx[k], { contextKeys: Object.keys(ctx) });
  };
  const from = resolve(values.from as string ?? 'pilot', values['from-config'] as string | undefined);
  // The target keeps the deployed stage's names: that is what promotion in place means.
  const to = resolve(values.to as string ?? 'production', values['to-config'] as string | undefined, { environmentName: from.environmentName ?? from.stage });
  const entries = promotionPlan(synthesizeTemplates(from), synthesizeTemplates(to));
  if (values.json) console.log(JSON.stringify(entries, undefined, 2));
  else console.log(formatPlan(entries, `Promotion plan: ${namePrefix(from)} deployed as stage "${from.stage}", then as stage "${to.stage}" (same stacks, same names)`));
  if (entries.some((e) => BLOCKING.includes(e.verdict))) process.exitCode = 1;
});
