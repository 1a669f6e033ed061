/**
 * Writes a security review of a synthesized app for reviewers who do not read TypeScript:
 *
 *   npx cdk synth && npm run review                 # reviews cdk.out/
 *   npm run review -- --assembly cdk.out.production  # any cloud assembly
 *
 * Reads only the cloud assembly (manifest, templates, validation-report.json, readiness-report.json)
 * and writes security-review.md and security-review.html into it.
 */
import * as fs from 'fs';
import * as path from 'path';
import { marked } from 'marked';
import { reviewCloudAssembly, securityReviewMarkdown } from '../lib/review';
import { Cli, CliError, parseCli } from './cli';

const CLI: Cli = {
  name: 'npm run review',
  usage: 'npm run review -- [--assembly cdk.out]',
  summary: 'Writes security-review.md and security-review.html into a cloud assembly, from the assembly alone.',
  flags: { assembly: { type: 'string', value: '<dir>', description: 'the cloud assembly to review (cdk synth -o <dir>)', default: 'cdk.out' } },
};

let dir: string;
try {
  dir = (parseCli(CLI).values.assembly as string | undefined) ?? 'cdk.out';
} catch (e) {
  if (!(e instanceof CliError)) throw e;
  console.error(e.message);
  process.exit(2);
}

try {
  const review = reviewCloudAssembly(dir);
  const md = securityReviewMarkdown(review);
  const mdFile = path.join(dir, 'security-review.md');
  const htmlFile = path.join(dir, 'security-review.html');
  fs.writeFileSync(mdFile, md);
  const body = marked.parse(md, { async: false });
  fs.writeFileSync(htmlFile, `<!doctype html>\n<html><head><meta charset="utf-8"><title>Security review</title>
<style>body{font-family:system-ui,sans-serif;margin:2rem;max-width:110rem}table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #ccc;padding:.2rem .4rem;vertical-align:top;font-size:.9rem}code{font-size:.85rem}strong{color:#a40000}</style>
</head><body>\n${body}</body></html>\n`);
  const roles = review.stacks.reduce((n, s) => n + s.roles.length, 0);
  const flagged = review.stacks.flatMap((s) => s.roles.flatMap((r) => r.statements)).filter((s) => s.flags.length).length;
  console.log(`security review of ${review.stacks.length} stacks: ${roles} IAM roles (${flagged} statements flagged), ${review.acknowledgements.length} acknowledged findings, ${review.openFindings.length} open`);
  console.log(`wrote ${mdFile} and ${htmlFile}`);
} catch (e) {
  console.error((e as Error).message);
  process.exit(1);
}
