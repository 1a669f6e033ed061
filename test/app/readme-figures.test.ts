/**
 * The figures the README quotes are the commands' output: whoever changes a figure (a key, an alarm,
 * a price, a resource) must update the README, or this fails naming the figure, the README's value
 * and the command's.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { SAGEMAKER_INSTANCE_TYPES } from '../../lib/config';
import { synthStage } from '../helpers';
import { BEGIN, costOutput, costRows, END } from '../../scripts/cost-readme';

const ROOT = path.join(__dirname, '..', '..');
// The prose only: the npm run cost block (compared as a whole below) would match the prose's patterns too.
const README_RAW = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
const README = (README_RAW.slice(0, README_RAW.indexOf(BEGIN)) + README_RAW.slice(README_RAW.indexOf(END))).replace(/\s+/g, ' ');
const TSX = path.join(ROOT, 'node_modules', '.bin', 'tsx');

function command(script: string, ...args: string[]): string {
  const r = spawnSync(TSX, [path.join(ROOT, 'scripts', script), ...args], { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${script} ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

/** The README's capture groups for `pattern`, which must occur exactly once. */
function quoted(pattern: RegExp): string[] {
  const all = [...README.matchAll(new RegExp(pattern.source, 'g'))];
  if (all.length !== 1) throw new Error(`README: expected one match of ${pattern}, found ${all.length}`);
  return all[0].slice(1);
}

describe('README figures', () => {
  // npm run cost -- --stage pilot: "<service>: <item>  idle  at-load  at-10x"
  let out: string;
  let lines: Array<{ item: string; idle: number; load: number }>;
  let total: { idle: number; load: number };
  beforeAll(() => {
    out = costOutput(ROOT);
    lines = costRows(out);
    const t = lines.find((l) => l.item === 'TOTAL')!;
    total = { idle: t.idle, load: t.load };
  });
  const line = (prefix: string) => {
    const l = lines.find((x) => x.item.startsWith(prefix));
    if (!l) throw new Error(`npm run cost prints no line starting ${prefix}`);
    return l;
  };

  test('the README shows what npm run cost -- --stage pilot prints (npx tsx scripts/cost-readme.ts writes it)', () => {
    const block = README_RAW.slice(README_RAW.indexOf(BEGIN) + BEGIN.length, README_RAW.indexOf(END)).trim().replace(/^```text\n|\n```$/g, '');
    expect(block).toBe(out);
  });

  test('the pilot\'s idle and at-load totals (npm run cost -- --stage pilot)', () => {
    expect(Number(quoted(/The pilot's idle floor \(estimate, ([\d.]+) USD\/month/)[0])).toBe(total.idle);
    expect(Number(quoted(/The pilot then idles at about (\d+) USD\/month/)[0])).toBe(Math.round(total.idle));
    expect(Number(quoted(/the pilot estimates about (\d+) USD\/month all in/)[0])).toBe(Math.round(total.load));
    expect(Number(quoted(/twice a day in the pilot: about (\d+) USD\/month/)[0])).toBe(Math.round(line('SageMaker: embedding endpoint').load));
  });

  test('every line of the idle floor is explained, with its figure as npm run cost prints it', () => {
    const kms = line('KMS: ');
    const [keys, keysUsd] = quoted(/(\d+) customer-managed keys \(([\d.]+)/).map(Number);
    expect({ keys, keysUsd }).toEqual({ keys: Number(/(\d+) customer-managed keys/.exec(kms.item)![1]), keysUsd: kms.idle });
    // "every line": a new idle cost must be explained in the README too.
    const paragraph = quoted(/(The pilot's idle floor .*? The GPU costs nothing idle\.)/)[0];
    for (const l of lines.filter((x) => x.idle > 0 && x.item !== 'TOTAL')) expect({ line: l.item, quoted: paragraph.includes(l.idle.toFixed(2)) }).toEqual({ line: l.item, quoted: true });
  });

  test('the promotion plan\'s counts (npm run plan -- --from pilot --to production)', () => {
    const out = command('plan.ts', '--from', 'pilot', '--to', 'production');
    const [, changes, , , stateless, fine] = /(\d+) resource changes: (\d+) fails: .*?, (\d+) replaces or deletes state, (\d+) replaces stateless, (\d+) fine/.exec(out)!.map(Number);
    const [readmeChanges, readmeFine, readmeStateless] = quoted(/after it, (\d+) changes \(`npm run plan -- --from pilot --to production`\): (\d+) in-place updates or additions and (\d+) stateless replacements/).map(Number);
    expect({ changes: readmeChanges, fine: readmeFine, stateless: readmeStateless }).toEqual({ changes, fine, stateless });
  }, 300_000);

  test('the GPU table: hourly price and the monthly figures derived from it', () => {
    const hourly = SAGEMAKER_INSTANCE_TYPES['ml.g5.xlarge'].usdPerHour;
    const money = (n: number) => Math.round(n).toLocaleString('en-US');
    expect(quoted(/2 h\/day ≈ (\d+) USD/)[0]).toBe(money(2 * 30 * hourly));
    expect(quoted(/\(for comparison: a typical pilot\) \| ([\d,]+) USD/)[0]).toBe(money(730 * hourly));
    expect(quoted(/\| ([\d,]+) USD \(2 × 730 h × ([\d.]+)\)/)).toEqual([money(2 * 730 * hourly), String(hourly)]);
    expect(quoted(/([\d,]+) USD at 6 instances/)[0]).toBe(money(6 * 730 * hourly));
  });
});

test('npm run review prints the counts its report holds', () => {
  const { outdir } = synthStage('pilot', {}, { rulePacks: true });
  const out = command('review.ts', '--assembly', outdir);
  const [, roles, flagged, acknowledged] = /(\d+) IAM roles, (\d+) IAM statements flagged for a closer look, (\d+) acknowledged findings/.exec(out)!.map(Number);
  const report = fs.readFileSync(path.join(outdir, 'security-review.md'), 'utf8');
  const row = (name: string) => Number(new RegExp(`\\| ${name} \\| (\\d+) \\|`).exec(report)![1]);
  expect({ roles, flagged, acknowledged }).toEqual({ roles: row('IAM roles'), flagged: row('IAM statements flagged for a closer look'), acknowledged: row('acknowledged findings') });
  expect(flagged).toBeGreaterThan(0);
  const [, everyTier, unalarmed, paths] = /(\d+) stores holding every tier's text, \d+ unclassified, (\d+) of (\d+) break-glass paths without an alarm/.exec(out)!.map(Number);
  const cellOf = (name: string) => new RegExp(`\\| ${name} \\| ([^|]+) \\|`).exec(report)![1];
  expect({ everyTier, unalarmed: `${unalarmed} of ${paths}` }).toEqual({ everyTier: Number(cellOf('stores holding text of every tier')), unalarmed: cellOf('break-glass paths without an alarm') });
  const [, keys, sharing] = /(\d+) customer-managed keys, (\d+) sharing a key-policy audience/.exec(out)!.map(Number);
  const perStack = cellOf('customer-managed keys').split(', ').reduce((n, x) => n + Number(x.split(': ')[1]), 0);
  const groups = cellOf('keys sharing a key-policy audience with another key of their stack').trim();
  const listed = groups === 'none' ? 0 : groups.split('; ').reduce((n, g) => n + g.split(' = ').length, 0);
  expect({ keys, sharing }).toEqual({ keys: perStack, sharing: listed });
}, 300_000);
