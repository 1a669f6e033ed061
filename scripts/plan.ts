/**
 * Proves offline that one stage becomes another in place: synthesizes both (the target under the
 * source's project and environment name, so the stacks are the same stacks), diffs every stack with
 * @aws-cdk/cloudformation-diff and judges every resource change. Exits 1 when a change would lose
 * state or fail on a custom name.
 *
 *   npm run plan -- --from pilot --to production [-c key=value ...] [--from-config a.json] [--to-config b.json] [--json]
 */
import { BLOCKING, formatPlan, promotionPlan } from '../lib/app';
import { resolveStageConfig } from '../lib/config';
import { namePrefix } from '../lib/stacks';
import { Cli, CONTEXT_FLAG, contextPairs, parseCli, runCli } from './cli';
import { synthesizeTemplates } from './synth';

const CLI: Cli = {
  name: 'npm run plan',
  usage: 'npm run plan -- --from pilot --to production [-c key=value ...] [--from-config a.json] [--to-config b.json] [--json]',
  summary: 'Diffs the synthesized stacks of two stage configs (the second deployed over the first) and judges every resource change: fine, replaces stateless, replaces or deletes state, or fails on a custom name. Exit 1 on the last two.',
  flags: {
    from: { type: 'string', value: '<stage>', description: 'the deployed stage', default: 'pilot' },
    to: { type: 'string', value: '<stage>', description: 'the stage it becomes', default: 'production' },
    'from-config': { type: 'string', value: '<file.json>', description: 'configFile for the --from stage' },
    'to-config': { type: 'string', value: '<file.json>', description: 'configFile for the --to stage' },
    json: { type: 'boolean', description: 'print the plan as JSON' },
    context: { ...CONTEXT_FLAG, description: 'context for both stages (projectName, region, ...)' },
  },
};

runCli(() => {
  const { values } = parseCli(CLI);
  const shared = contextPairs(CLI, values.context as string[] | undefined);
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
