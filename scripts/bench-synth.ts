/**
 * Where the time of `cdk synth` goes, per stage: the CLI synth as CI runs it (wall and CPU of the
 * whole process tree), then, in one process, the app alone (constructs + synth, no rule pack) and
 * each rule pack run by itself over that same assembly, as the synth runs them. CPU (user + sys,
 * children included: cfn-guard is a child process) is the number to compare; wall time depends on
 * what else the machine runs.
 *
 *   npm run bench:synth [-- --stage pilot --stage production] [--no-cli] [--json]
 */
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, CloudFormationValidatePlugin, IPolicyValidationContext } from 'aws-cdk-lib';
import { CfnGuardValidator } from '@cdklabs/cdk-validator-cfnguard';
import { controlTowerGuard, createDocaiStacks, nagPacks } from '../lib/app';
import { resolveStageConfig } from '../lib/config';
import { ProductionReadinessChecks } from '../lib/readiness';
import { Cli, parseCli, runCli } from './cli';

const ROOT = path.join(__dirname, '..');
const CDK_JSON_CONTEXT = JSON.parse(fs.readFileSync(path.join(ROOT, 'cdk.json'), 'utf8')).context;

const CLI: Cli = {
  name: 'npm run bench:synth',
  usage: 'npm run bench:synth -- [--stage pilot --stage production] [--no-cli] [--json]',
  summary: 'Measures cdk synth (wall and CPU) per stage and splits it: the app alone, then each rule pack over the same templates.',
  flags: {
    stage: { type: 'string', value: '<stage>', description: 'stage to measure (repeatable)', multiple: true, default: 'pilot and production' },
    'no-cli': { type: 'boolean', description: 'skip the CLI synth (npx cdk synth), measure in process only' },
    json: { type: 'boolean', description: 'print the numbers as JSON' },
  },
};

const TICK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** CPU seconds of this process plus its waited-for children (/proc/self/stat utime..cstime). */
function cpuSeconds(): number {
  const stat = fs.readFileSync('/proc/self/stat', 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields 14-17 of proc(5): utime, stime, cutime, cstime; f[0] is field 3
  return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / TICK;
}

/** What the synth calls on every registered pack (cdk-nag's and aws-cdk-lib's plugin interfaces differ in versions only). */
interface Validator {
  validate(context: IPolicyValidationContext): { readonly violations: readonly unknown[] };
}

export interface Measure {
  readonly what: string;
  readonly wallSeconds: number;
  readonly cpuSeconds: number;
  readonly note?: string;
}

function measure<T>(what: string, fn: () => T, note?: (r: T) => string): { result: T; m: Measure } {
  const c0 = cpuSeconds();
  const t0 = process.hrtime.bigint();
  const result = fn();
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  return { result, m: { what, wallSeconds: wall, cpuSeconds: cpuSeconds() - c0, ...(note ? { note: note(result) } : {}) } };
}

/** `npx cdk synth` as CI runs it, timed by /usr/bin/time (the whole process tree's CPU). */
function cliSynth(stage: string, outdir: string): Measure {
  const r = spawnSync('/usr/bin/time', ['-f', 'BENCH %e %U %S', 'npx', 'cdk', 'synth', '--quiet', '--no-notices', '-c', `stage=${stage}`, '-o', outdir], {
    cwd: ROOT, encoding: 'utf8', env: { ...process.env, CDK_DISABLE_CLI_TELEMETRY: 'true' }, maxBuffer: 64 * 1024 * 1024,
  });
  const line = r.stderr.split('\n').find((l) => l.startsWith('BENCH '));
  if (r.status !== 0 || !line) throw new Error(`cdk synth -c stage=${stage} failed (exit ${r.status}):\n${r.stderr.slice(-4000)}`);
  const [, wall, user, sys] = line.split(' ').map(Number);
  return { what: 'cdk synth (CLI, every pack)', wallSeconds: wall, cpuSeconds: user + sys, note: `user ${user.toFixed(1)} s + sys ${sys.toFixed(1)} s` };
}

function inProcess(stage: string): Measure[] {
  const out: Measure[] = [];
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), `bench-synth-${stage}-`));
  try {
    // The packs are constructed as bin/app.ts constructs them (the nag packs add the aspect that
    // writes acknowledgements into the templates) but not registered: the app alone is measured
    // first, then each pack validates the assembly it would have validated.
    const { result: built, m: appM } = measure('app: constructs + synth, no rule pack', () => {
      const app = new App({ outdir, context: { ...CDK_JSON_CONTEXT, stage, 'aws:cdk:bundling-stacks': [] }, builtinCloudFormationValidation: false });
      const config = resolveStageConfig((k) => app.node.tryGetContext(k), { contextKeys: Object.keys(app.node.getAllContext()) });
      const readiness = new ProductionReadinessChecks(app, { stage: config.stage, acceptedDifferences: config.acceptedReadinessDifferences });
      const packs = nagPacks(app);
      const stacks = createDocaiStacks(app, config);
      const assembly = app.synth();
      return { app, readiness, packs, stacks, assembly };
    });
    out.push(appM);
    const stackArtifacts = built.assembly.stacksRecursively;
    const context: IPolicyValidationContext = {
      templatePaths: stackArtifacts.map((s) => s.templateFullPath),
      stackTemplates: stackArtifacts.map((s) => ({ stackConstructPath: s.hierarchicalId, templatePath: s.templateFullPath, accountId: undefined, region: undefined })),
      appConstruct: built.app,
    };
    const resources = stackArtifacts.reduce((n, s) => n + Object.keys(s.template.Resources ?? {}).length, 0);
    out[0] = { ...appM, note: `${stackArtifacts.length} stacks, ${resources} resources` };
    const plugins: Array<[string, Validator]> = [
      ...built.packs.map((p): [string, Validator] => [`cdk-nag ${p.readPackName}`, p]),
      ['readiness pack (ProductionReadiness)', built.readiness],
      ['CloudFormation Validate (built-in, @aws-cdk/core:validateAgainstDefaultRules)', new CloudFormationValidatePlugin()],
      ['Control Tower cfn-guard, as registered (lib/app/rule-packs.ts)', controlTowerGuard()],
      ['Control Tower cfn-guard, all 237 rules on every template (CfnGuardValidator)', new CfnGuardValidator({ maxBuffer: 64 * 1024 * 1024 })],
    ];
    for (const [what, plugin] of plugins) {
      out.push(measure(what, () => plugin.validate(context), (r) => `${r.violations.length} violation(s) before acknowledgements`).m);
    }
  } finally {
    fs.rmSync(outdir, { recursive: true, force: true });
  }
  return out;
}

runCli(() => {
  const { values } = parseCli(CLI);
  const stages = (values.stage as string[] | undefined) ?? ['pilot', 'production'];
  const loadCpu = cpuSeconds();
  const results: Record<string, Measure[]> = {};
  for (const stage of stages) {
    const rows: Measure[] = [];
    if (!values['no-cli']) {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), `bench-cli-${stage}-`));
      try {
        rows.push(cliSynth(stage, dir));
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    }
    rows.push(...inProcess(stage));
    results[stage] = rows;
  }
  const load = os.loadavg()[0];
  if (values.json) {
    console.log(JSON.stringify({ cpus: os.cpus().length, loadAverage1m: load, moduleLoadCpuSeconds: loadCpu, stages: results }, undefined, 2));
    return;
  }
  console.log(`synth benchmark: ${os.cpus().length} CPUs, load average ${load.toFixed(1)} (wall time depends on the load; compare CPU)`);
  console.log(`node + tsx + loading the app's modules: ${loadCpu.toFixed(1)} s CPU (before the first stage)`);
  for (const [stage, rows] of Object.entries(results)) {
    console.log(`\nstage ${stage}`);
    console.log(`  ${'what'.padEnd(82)} ${'wall s'.padStart(7)} ${'CPU s'.padStart(7)}`);
    for (const r of rows) console.log(`  ${r.what.padEnd(82)} ${r.wallSeconds.toFixed(1).padStart(7)} ${r.cpuSeconds.toFixed(1).padStart(7)}  ${r.note ?? ''}`);
  }
});
