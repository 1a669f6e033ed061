/**
 * Deploys every stack of a stage, after the quota preflight:
 *
 *   npm run deploy -- -c stage=pilot -c alarmEmail=oncall@example.com [--skip-preflight] [--dry-run] [other cdk deploy flags]
 *
 * 1. `npm run preflight` with the same -c values (quotas, API Gateway logging role, CDK bootstrap,
 *    model lifecycle and access); when one blocks it has printed what was found, what is needed and
 *    the fix, and this refuses to deploy. A config error is reported alone, before the preflight.
 *    `--skip-preflight` is for people who know the account can hold the stage.
 * 2. `cdk deploy --all` with the given flags and `-c deployNonce=<now>`, which makes the stage's
 *    per-deploy custom resources (cost-allocation tag activation, when enabled) run on every deploy.
 * `--dry-run` prints the cdk command instead of running it.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { nearest, resolveStageConfig, StageConfigError } from '../lib/config';
import { contextPairs } from './cli';
import { Cli, CliError, CONTEXT_FLAG, helpText, parseCli } from './cli';

const CLI: Cli = {
  name: 'npm run deploy',
  usage: 'npm run deploy -- -c stage=<pilot|production> [-c key=value ...] [--skip-preflight] [--dry-run] [cdk deploy flags]',
  summary: "Runs the preflight (scripts/preflight.ts: quotas and account prerequisites), then 'cdk deploy --all'. Refuses when one blocks. Other flags go to cdk deploy.",
  flags: {
    'skip-preflight': { type: 'boolean', description: 'deploy without the quota check (you know the account can hold the stage)' },
    'dry-run': { type: 'boolean', description: 'print the cdk command instead of running it' },
    rebuild: { type: 'boolean', description: "rebuilding a lost data stack: import the retained fixed-name resources (buckets, database log groups) instead of colliding with them, and update every consumer stack so it reads the rebuilt stack's outputs (README: Rebuild and restore)" },
    context: CONTEXT_FLAG,
  },
  passThrough: true,
};

/**
 * The flags `cdk deploy` takes, from the registry the installed CDK CLI is built from: a flag
 * neither ours nor cdk's is refused here, so `--dry-rn` cannot become a real deploy.
 */
function cdkDeployFlags(): string[] {
  // Not in the package's exports map, so read as a file next to its package.json.
  const registry = JSON.parse(fs.readFileSync(path.join(path.dirname(require.resolve('aws-cdk/package.json')), 'lib', 'cli', 'cli-type-registry.json'), 'utf8'));
  const options: Record<string, { type: string; alias?: string | string[] }> = { ...registry.globalOptions, ...registry.commands.deploy.options };
  const flags: string[] = [];
  for (const [name, o] of Object.entries(options)) {
    flags.push(`--${name}`);
    if (o.type === 'boolean') flags.push(`--no-${name}`);
    for (const a of [o.alias ?? []].flat()) flags.push(a.length === 1 ? `-${a}` : `--${a}`);
  }
  return flags;
}

let values: ReturnType<typeof parseCli>['values'];
let rest: string[];
try {
  ({ values, rest } = parseCli(CLI));
  const ours = Object.keys(CLI.flags).map((f) => `--${f}`);
  const known = cdkDeployFlags();
  for (const a of rest) {
    const flag = a.split('=')[0];
    if (!flag.startsWith('-') || known.includes(flag)) continue;
    throw new CliError(`${CLI.name}: unknown flag ${flag} (neither this script's nor cdk deploy's); did you mean ${nearest(flag, [...ours, ...known])}? (${CLI.name} -- --help; npx cdk deploy --help)`);
  }
} catch (e) {
  if (!(e instanceof CliError)) throw e;
  console.error(e.message);
  process.exit(2);
}
const skipPreflight = values['skip-preflight'] === true;
const dryRun = values['dry-run'] === true;
const context = ((values.context as string[] | undefined) ?? []).flatMap((c) => ['-c', c]);
const cdkArgs = [...context, ...rest];
if (!context.some((c) => c.startsWith('stage='))) {
  console.error(`docai-blueprint: name the stage to deploy, e.g. npm run deploy -- -c stage=pilot\n\n${helpText(CLI)}`);
  process.exit(1);
}

// A config error is only that: said alone, before any preflight or cdk output.
try {
  const ctx = contextPairs(CLI, values.context as string[] | undefined);
  resolveStageConfig((k) => ctx[k], { contextKeys: Object.keys(ctx), onWarning: () => undefined });
} catch (e) {
  if (!(e instanceof StageConfigError || e instanceof CliError)) throw e;
  console.error(e.message);
  process.exit(e instanceof CliError ? 2 : 1);
}

// A rebuild imports the retained buckets by name; in an environment-agnostic synth their names are
// Fn::Join expressions, which CloudFormation's automatic import cannot match (test/app/destroy-rebuild.test.ts).
if (values.rebuild === true) {
  const given = new Set(context.filter((c) => c !== '-c').map((c) => c.split('=')[0]));
  const missing = ['account', 'region'].filter((k) => !given.has(k));
  if (missing.length) {
    console.error(`docai-blueprint: --rebuild needs ${missing.map((k) => `-c ${k}=...`).join(' and ')}: the retained buckets are imported by name, and without a pinned account and region their names are Fn::Join expressions that CloudFormation cannot import. Fix: npm run deploy -- ${context.join(' ')} -c account=ACCOUNT -c region=REGION --rebuild`);
    process.exit(1);
  }
}

const root = path.join(__dirname, '..');
if (skipPreflight) {
  console.error('docai-blueprint: --skip-preflight: deploying without the quota check.');
} else {
  const tsx = path.join(root, 'node_modules', '.bin', 'tsx');
  const pre = spawnSync(tsx, [path.join(__dirname, 'preflight.ts'), ...context], { stdio: 'inherit', cwd: root, env: process.env });
  if (pre.status !== 0) {
    console.error('docai-blueprint: refusing to deploy: the preflight found a blocking quota or account prerequisite (FAIL lines above, each with its fix). ' +
      'Fix them and deploy again, or pass --skip-preflight if you know the account can hold the stage.');
    process.exit(1);
  }
}

const now = new Date().toISOString();
// --rebuild: CloudFormation imports existing resources that have custom names instead of failing
// on them (https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateChangeSet.html,
// ImportExistingResources), and a new rebuildId changes every consumer stack's template.
const rebuild = values.rebuild === true ? ['--import-existing-resources', '-c', `rebuildId=${now}`] : [];
const command = ['cdk', 'deploy', '--all', ...cdkArgs, ...rebuild, '-c', `deployNonce=${now}`];
if (dryRun) {
  console.log(`npx ${command.join(' ')}`);
  process.exit(0);
}
const r = spawnSync('npx', command, { stdio: 'inherit', cwd: root, env: process.env });
process.exit(r.status ?? 1);
