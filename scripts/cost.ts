/**
 * Prints the estimated monthly cost of a stage: idle, at a load, and at ten times that load.
 *
 *   npm run cost -- --stage pilot --docs-per-day 1000 [-c key=value ...] [--chunks-per-doc 30] [--active-hours 8]
 */
import { estimateMonthlyCost, formatEstimate } from '../lib/cost';
import { resolveStageConfig, StageConfigError } from '../lib/config';

const args = process.argv.slice(2);
const ctx: Record<string, string> = {};
const opt: Record<string, string> = {};
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === '-c' || a === '--context') {
    const [k, ...v] = args[++i].split('=');
    ctx[k] = v.join('=');
  } else if (a.startsWith('--')) {
    const [k, v] = a.includes('=') ? a.slice(2).split('=') : [a.slice(2), args[++i]];
    opt[k] = v;
  }
}
if (opt.stage) ctx.stage = opt.stage;
try {
  const config = resolveStageConfig((k) => ctx[k]);
  const docsPerDay = Number(opt['docs-per-day'] ?? 1000);
  if (!Number.isFinite(docsPerDay) || docsPerDay < 0) throw new Error(`--docs-per-day: received ${JSON.stringify(opt['docs-per-day'])}; expected a number >= 0`);
  const extra = {
    ...(opt['chunks-per-doc'] ? { chunksPerDoc: Number(opt['chunks-per-doc']) } : {}),
    ...(opt['active-hours'] ? { activeHoursPerDay: Number(opt['active-hours']) } : {}),
    ...(opt['doc-mb'] ? { docMb: Number(opt['doc-mb']) } : {}),
  };
  const idle = estimateMonthlyCost(config, { docsPerDay: 0, ...extra });
  const base = estimateMonthlyCost(config, { docsPerDay, ...extra });
  const tenX = estimateMonthlyCost(config, { docsPerDay: docsPerDay * 10, ...extra });
  console.log(formatEstimate(config, base, tenX, idle));
} catch (e) {
  console.error(e instanceof StageConfigError ? e.message : `cost: ${(e as Error).message}`);
  process.exit(1);
}
