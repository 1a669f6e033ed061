/**
 * Prints the estimated monthly cost of a stage: idle, at a load, and at ten times that load, with
 * the assumptions it used, later months at the load (storage growth, key rotation) and the stage's
 * budget beside it.
 *
 *   npm run cost -- --stage pilot --docs-per-day 1000 [-c key=value ...] [--chunks-per-doc 30] [--active-hours 8] [--doc-mb 0.5]
 */
import { assumptionProblems, estimateMonthlyCost, formatEstimate, WorkloadAssumptions } from '../lib/cost';
import { resolveStageConfig } from '../lib/config';
import { Cli, CliError, CONTEXT_FLAG, contextPairs, parseCli, runCli } from './cli';

const CLI: Cli = {
  name: 'npm run cost',
  usage: 'npm run cost -- [--stage pilot] [--docs-per-day 1000] [--chunks-per-doc 30] [--active-hours 8] [--doc-mb 0.5] [--chunks-per-second 200] [-c key=value ...]',
  summary: 'Estimates the monthly cost of a stage (idle, at the load, at ten times the load) at list prices, and compares it with the stage budget.',
  flags: {
    stage: { type: 'string', value: '<name>', description: 'stage preset (same as -c stage=...)', default: 'pilot' },
    'docs-per-day': { type: 'string', value: '<n>', description: 'documents uploaded per day', default: '1000' },
    'chunks-per-doc': { type: 'string', value: '<n>', description: 'chunks per document', default: '30' },
    'active-hours': { type: 'string', value: '<h>', description: 'hours a day documents arrive (0 < h <= 24)', default: '8' },
    'doc-mb': { type: 'string', value: '<mb>', description: 'average document size in MB', default: '0.5' },
    'chunks-per-second': { type: 'string', value: '<n>', description: 'chunks one GPU instance embeds per second (npm run bench:pipeline measures the CPU side)', default: '200' },
    'cold-start-minutes': { type: 'string', value: '<min>', description: 'minutes a scaled-to-zero endpoint takes to serve', default: '6' },
    'scale-in-detect-minutes': { type: 'string', value: '<min>', description: 'minutes of no traffic before copies scale in (before the cooldown)', default: '15' },
    'queries-per-day': { type: 'string', value: '<n>', description: 'questions asked per day (POST /query); 10x scales it too', default: '500' },
    'query-hours': { type: 'string', value: '<h>', description: 'hours a day the questions come in (0 < h <= 24): how long a pausable database stays awake', default: '8' },
    'prompt-tokens': { type: 'string', value: '<n>', description: 'prompt tokens per answer (instructions + chunks + question)', default: '2800' },
    'answer-tokens': { type: 'string', value: '<n>', description: 'answer tokens', default: '300' },
    'cache-hit-percent': { type: 'string', value: '<pct>', description: 'percent of questions answered from the cache', default: '10' },
    context: CONTEXT_FLAG,
  },
};

/** Flag of each assumption, for error messages. */
const FLAG_OF: Record<keyof WorkloadAssumptions, string> = {
  docsPerDay: '--docs-per-day',
  chunksPerDoc: '--chunks-per-doc',
  activeHoursPerDay: '--active-hours',
  docMb: '--doc-mb',
  chunksPerSecondPerInstance: '--chunks-per-second',
  coldStartMinutes: '--cold-start-minutes',
  scaleInDetectMinutes: '--scale-in-detect-minutes',
  queriesPerDay: '--queries-per-day',
  queryHoursPerDay: '--query-hours',
  promptTokensPerQuery: '--prompt-tokens',
  answerTokensPerQuery: '--answer-tokens',
  cacheHitPercent: '--cache-hit-percent',
};

runCli(() => {
  const { values } = parseCli(CLI);
  const ctx = contextPairs(CLI, values.context as string[] | undefined);
  if (values.stage !== undefined) ctx.stage = values.stage as string;
  const config = resolveStageConfig((k) => ctx[k], { contextKeys: Object.keys(ctx) });

  const problems: string[] = [];
  const number = (field: keyof WorkloadAssumptions): number | undefined => {
    const raw = values[FLAG_OF[field].slice(2)] as string | undefined;
    if (raw === undefined) return undefined;
    const n = Number(raw);
    if (raw.trim() === '' || Number.isNaN(n)) {
      problems.push(`${FLAG_OF[field]}: received ${JSON.stringify(raw)}, which is not a number`);
      return undefined;
    }
    return n;
  };
  const given: Partial<Record<keyof WorkloadAssumptions, number>> = {};
  for (const field of Object.keys(FLAG_OF) as Array<keyof WorkloadAssumptions>) {
    const n = number(field);
    if (n !== undefined) given[field] = n;
  }
  problems.push(...assumptionProblems(given as WorkloadAssumptions, (f) => FLAG_OF[f]));
  if (problems.length) throw new CliError(`${CLI.name}: ${problems.join('; ')}`);

  const { docsPerDay = 1000, queriesPerDay = 500, ...extra } = given;
  const idle = estimateMonthlyCost(config, { ...extra, docsPerDay: 0, queriesPerDay: 0 });
  const base = estimateMonthlyCost(config, { ...extra, docsPerDay, queriesPerDay });
  const tenX = estimateMonthlyCost(config, { ...extra, docsPerDay: docsPerDay * 10, queriesPerDay: queriesPerDay * 10 });
  // Storage accumulates and keys rotate yearly: month 12, the first month after the first rotation, and after the second (the worst case from then on).
  const later = [12, 13, 25].map((month) => estimateMonthlyCost(config, { ...extra, docsPerDay, queriesPerDay }, { month }));
  console.log(formatEstimate(config, base, tenX, idle, later));
});
