/**
 * Writes a security review of a synthesized app for reviewers who do not read TypeScript:
 *
 *   npx cdk synth && npm run review                 # reviews cdk.out/
 *   npm run review -- --assembly cdk.out.production  # any cloud assembly
 *
 * Reads only the cloud assembly (manifest, templates, validation-report.json, readiness-report.json,
 * docai-build-info.json) and writes security-review.md and security-review.html into it, each headed
 * with the synth's time, git commit, aws-cdk-lib version, stage and context, and a fingerprint of
 * the templates: a later synth into the same directory marks the review STALE.
 */
import * as fs from 'fs';
import * as path from 'path';
import { assemblyFingerprint, flaggedStatementCount, readBuildInfo, reviewCloudAssembly, securityReviewHtml, securityReviewMarkdown, withMarkdownHeader } from '../lib/review';
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
  const header = { generatedAt: new Date().toISOString(), assembly: dir, fingerprint: assemblyFingerprint(dir), build: readBuildInfo(dir) };
  const md = securityReviewMarkdown(review);
  const mdFile = path.join(dir, 'security-review.md');
  const htmlFile = path.join(dir, 'security-review.html');
  fs.writeFileSync(mdFile, withMarkdownHeader(md, header));
  fs.writeFileSync(htmlFile, securityReviewHtml(md, header));
  const roles = review.stacks.reduce((n, s) => n + s.roles.length, 0);
  const flagged = flaggedStatementCount(review);
  console.log(`security review of ${review.stacks.length} stacks: ${roles} IAM roles, ${flagged} IAM statements flagged for a closer look, ${review.acknowledgements.length} acknowledged findings, ${review.openFindings.length} open`);
  const out = review.stacks.flatMap((s) => s.network.outbound.filter((o) => o.internet)).length;
  const allOut = review.stacks.flatMap((s) => s.securityGroups.filter((g) => g.allOutbound)).length;
  const everyTier = review.dataClassification.filter((c) => c.tiers !== 'none' && c.tiers !== 'UNCLASSIFIED').length;
  const unclassified = review.dataClassification.filter((c) => c.tiers === 'UNCLASSIFIED').length;
  const unalarmed = review.breakGlass.filter((b) => !b.alarmedBy.length).length;
  console.log(`${out} paths out to the internet, ${allOut} security groups allowing all outbound, ${everyTier} stores holding every tier's text, ${unclassified} unclassified, ${unalarmed} of ${review.breakGlass.length} break-glass paths without an alarm`);
  console.log(`${review.keyAudiences.length} customer-managed keys, ${review.keysSharingAnAudience.reduce((n, g) => n + g.keys.length, 0)} sharing a key-policy audience with another key of their stack`);
  console.log(`wrote ${mdFile} and ${htmlFile}`);
} catch (e) {
  console.error((e as Error).message);
  process.exit(1);
}
