/**
 * Writes what `npm run cost -- --stage pilot` prints into README.md, between the markers of the
 * "What does it cost" section, so the figures the README shows are the command's
 * (test/app/readme-figures.test.ts compares them and names the command to run).
 *
 *   npx tsx scripts/cost-readme.ts
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { Cli, parseCli, runCli } from './cli';

const CLI: Cli = {
  name: 'npx tsx scripts/cost-readme.ts',
  usage: 'npx tsx scripts/cost-readme.ts',
  summary: "Writes what npm run cost -- --stage pilot prints into README.md's cost section (and the prose figures the README figures test compares).",
  flags: {},
};

export const BEGIN = '<!-- npm run cost -- --stage pilot (written by npx tsx scripts/cost-readme.ts) -->';
export const END = '<!-- end of npm run cost -- --stage pilot -->';

/** The table rows of the output: item, idle, at load, at 10x (USD). */
export function costRows(out: string): Array<{ item: string; idle: number; load: number; tenX: number }> {
  return [...out.matchAll(/^(\S.*?)\s+([\d,.]+)\s+([\d,.]+)\s+([\d,.]+)$/gm)].map((m) => ({ item: m[1], idle: num(m[2]), load: num(m[3]), tenX: num(m[4]) }));
}
const num = (s: string) => Number(s.replace(/,/g, ''));

export function costOutput(root: string): string {
  const r = spawnSync(path.join(root, 'node_modules', '.bin', 'tsx'), [path.join(root, 'scripts', 'cost.ts'), '--stage', 'pilot'], { cwd: root, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`npm run cost -- --stage pilot failed: ${r.stderr}`);
  return r.stdout.trimEnd();
}

if (require.main === module) runCli(() => {
  parseCli(CLI);
  const root = path.join(__dirname, '..');
  const file = path.join(root, 'README.md');
  const readme = fs.readFileSync(file, 'utf8');
  const start = readme.indexOf(BEGIN);
  const end = readme.indexOf(END);
  if (start < 0 || end < start) throw new Error(`README.md: the markers ${BEGIN} and ${END} are missing`);
  const out = costOutput(root);
  const rows = costRows(out);
  const total = rows.find((r) => r.item === 'TOTAL')!;
  const gpu = rows.find((r) => r.item.startsWith('SageMaker: embedding endpoint'))!;
  const block = `${BEGIN}\n\`\`\`text\n${out}\n\`\`\`\n`;
  // the prose figures the test compares too (the idle lines' own values are explained by hand, line by line)
  const text = (readme.slice(0, start) + block + readme.slice(end))
    .replace(/The pilot's idle floor \(estimate, [\d.A-Z]+ USD\/month/, `The pilot's idle floor (estimate, ${total.idle.toFixed(2)} USD/month`)
    .replace(/The pilot then idles at about \d+ USD\/month/, `The pilot then idles at about ${Math.round(total.idle)} USD/month`)
    .replace(/the pilot estimates about [\dA-Z]+ USD\/month all in/, `the pilot estimates about ${Math.round(total.load)} USD/month all in`)
    .replace(/twice a day in the pilot: about \d+ USD\/month/, `twice a day in the pilot: about ${Math.round(gpu.load)} USD/month`);
  fs.writeFileSync(file, text);
  console.log('README.md: the npm run cost -- --stage pilot block is rewritten');
});
