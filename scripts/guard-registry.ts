/**
 * AWS's Guard Rules Registry over both stages, with the cfn-guard binary the project ships:
 *
 *   DOCAI_GUARD_RULES_DIR=/path/to/aws-guard-rules-registry/rules npx tsx scripts/guard-registry.ts
 *   ... -- --assembly cdk.out --assembly cdk.out.production --exceptions docs/guard-registry-exceptions.json
 *
 * Every failing (rule, stack, resource) must be listed in the exceptions file with its reason, and
 * every listed exception must still match a finding. The registry's rule files are not on npm or in
 * Debian, so without DOCAI_GUARD_RULES_DIR the run is NOT RUN (said so, exit 0, never reported as a
 * pass); --require makes that exit 3, for a CI that has the rules.
 */
import * as fs from 'fs';
import { readGuardExceptions, runGuardRegistry } from '../lib/review/guard-registry';
import { Cli, CliError, parseCli } from './cli';

const CLI: Cli = {
  name: 'guard-registry',
  usage: 'DOCAI_GUARD_RULES_DIR=<rules dir> npx tsx scripts/guard-registry.ts [--assembly cdk.out --assembly cdk.out.production] [--exceptions file] [--require]',
  summary: 'Runs the Guard Rules Registry rule files over the synthesized templates and compares the findings with the exceptions file.',
  flags: {
    assembly: { type: 'string', multiple: true, value: '<dir>', description: 'a cloud assembly (repeat for each stage)', default: 'cdk.out and cdk.out.production' },
    exceptions: { type: 'string', value: '<file>', description: 'the listed findings, each with its reason', default: 'docs/guard-registry-exceptions.json' },
    require: { type: 'boolean', description: 'exit 3 instead of 0 when DOCAI_GUARD_RULES_DIR is not set' },
  },
};

let values: ReturnType<typeof parseCli>['values'];
try {
  values = parseCli(CLI).values;
} catch (e) {
  if (!(e instanceof CliError)) throw e;
  console.error(e.message);
  process.exit(2);
}
const assemblies = (values.assembly as string[] | undefined) ?? ['cdk.out', 'cdk.out.production'];
const exceptionsFile = (values.exceptions as string | undefined) ?? 'docs/guard-registry-exceptions.json';
const rulesDir = process.env.DOCAI_GUARD_RULES_DIR;

if (!rulesDir) {
  console.log([
    'guard registry: NOT RUN (this is not a pass): DOCAI_GUARD_RULES_DIR is not set.',
    '  The Guard Rules Registry rule files (the aws-cloudformation/aws-guard-rules-registry repository, rules/) are published',
    '  on GitHub and as release archives only: no npm package or Debian package ships them. Put a copy of its rules/',
    '  directory (or an unpacked release) on the machine and set DOCAI_GUARD_RULES_DIR to it.',
  ].join('\n'));
  process.exit(values.require ? 3 : 0);
}
if (!fs.existsSync(rulesDir) || !fs.statSync(rulesDir).isDirectory()) {
  console.error(`guard registry: DOCAI_GUARD_RULES_DIR=${rulesDir} is not a directory: point it at the registry's rules/ directory`);
  process.exit(1);
}
for (const a of assemblies) {
  if (!fs.existsSync(`${a}/manifest.json`)) {
    console.error(`guard registry: ${a} is not a cloud assembly (no manifest.json): synthesize it first (npx cdk synth -c stage=... -o ${a})`);
    process.exit(1);
  }
}

try {
  const run = runGuardRegistry({ rulesDir, assemblies, exceptions: readGuardExceptions(exceptionsFile) });
  console.log(`guard registry: ${run.ruleFiles} rule files over ${run.templates.length} templates: ${run.findings.length} findings, ${run.findings.length - run.unexcepted.length} listed in ${exceptionsFile}, ${run.unexcepted.length} not listed, ${run.stale.length} listed but no longer found, ${run.errors.length} errors`);
  for (const f of run.unexcepted) console.log(`  NOT LISTED: ${f.rule} on ${f.stack}/${f.resource} (${f.template}): fix it, or add {"rule": "${f.rule}", "stack": "${f.stack}", "resource": "${f.resource}", "reason": "..."} to ${exceptionsFile}`);
  for (const e of run.stale) console.log(`  NO LONGER FOUND: ${e.rule} on ${e.stack}/${e.resource}: remove it from ${exceptionsFile}`);
  for (const e of run.errors) console.log(`  ERROR: ${e}`);
  process.exit(run.unexcepted.length || run.stale.length || run.errors.length ? 1 : 0);
} catch (e) {
  console.error(`guard registry: ${(e as Error).message}`);
  process.exit(1);
}
