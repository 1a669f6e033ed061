/**
 * Deploys every stack of a stage, after the quota preflight:
 *
 *   npm run deploy -- -c stage=pilot -c alarmEmail=oncall@example.com [--skip-preflight] [--dry-run] [other cdk deploy flags]
 *
 * 1. `npm run preflight` with the same -c values; when a blocking quota is short it has printed the
 *    quota, the value found, the value needed and the increase request, and this refuses to deploy.
 *    `--skip-preflight` is for people who know the account can hold the stage.
 * 2. `cdk deploy --all` with the given flags and `-c deployNonce=<now>`, which makes the stage's
 *    per-deploy custom resources (cost-allocation tag activation, when enabled) run on every deploy.
 * `--dry-run` prints the cdk command instead of running it.
 */
import { spawnSync } from 'child_process';
import * as path from 'path';

const USAGE = `Usage: npm run deploy -- -c stage=<pilot|production> [-c key=value ...] [--skip-preflight] [--dry-run] [cdk deploy flags]

Runs the quota preflight (scripts/preflight.ts), then 'cdk deploy --all'. Refuses when a blocking quota is short.
  --skip-preflight  deploy without the quota check (you know the account can hold the stage)
  --dry-run         print the cdk command instead of running it
  --help            this text`;

const args = process.argv.slice(2);
if (args.includes('--help') || args.includes('-h')) {
  console.log(USAGE);
  process.exit(0);
}
const skipPreflight = args.includes('--skip-preflight');
const dryRun = args.includes('--dry-run');
const cdkArgs = args.filter((a) => a !== '--skip-preflight' && a !== '--dry-run');
const context: string[] = [];
for (let i = 0; i < cdkArgs.length; i++) {
  if (cdkArgs[i] === '-c' || cdkArgs[i] === '--context') context.push('-c', cdkArgs[++i]);
}
if (!context.some((c) => c.startsWith('stage='))) {
  console.error(`docai-blueprint: name the stage to deploy, e.g. npm run deploy -- -c stage=pilot\n\n${USAGE}`);
  process.exit(1);
}

const root = path.join(__dirname, '..');
if (skipPreflight) {
  console.error('docai-blueprint: --skip-preflight: deploying without the quota check.');
} else {
  const tsx = path.join(root, 'node_modules', '.bin', 'tsx');
  const pre = spawnSync(tsx, [path.join(__dirname, 'preflight.ts'), ...context], { stdio: 'inherit', cwd: root, env: process.env });
  if (pre.status !== 0) {
    console.error('docai-blueprint: refusing to deploy: the preflight found a blocking quota too low (FAIL lines above, each with the increase request). ' +
      'Request the increase and deploy again once it is granted, or pass --skip-preflight if you know the account can hold the stage.');
    process.exit(1);
  }
}

const command = ['cdk', 'deploy', '--all', ...cdkArgs, '-c', `deployNonce=${new Date().toISOString()}`];
if (dryRun) {
  console.log(`npx ${command.join(' ')}`);
  process.exit(0);
}
const r = spawnSync('npx', command, { stdio: 'inherit', cwd: root, env: process.env });
process.exit(r.status ?? 1);
