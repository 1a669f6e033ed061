#!/usr/bin/env node
import * as path from 'path';
import { App } from 'aws-cdk-lib';
import { addRulePacks, BundlingRefusedError, createDocaiStacks, LambdaBundling } from '../lib/app';
import { resolveStageConfig, StageConfigError } from '../lib/config';
import { ProductionReadinessChecks, readinessSummary } from '../lib/readiness';
import { BUILD_INFO_FILE, collectBuildInfo, markStaleReviews } from '../lib/review';
import * as fs from 'fs';

function fail(message: string): never {
  console.error(message);
  process.exit(1);
}

// Without Docker: synth skips bundling (one notice), deploy is refused. The same switch a consumer's app uses.
let appProps;
try {
  appProps = LambdaBundling.appProps();
} catch (e) {
  if (e instanceof BundlingRefusedError) fail(e.message);
  throw e;
}
const app = new App(appProps);

let config;
try {
  config = resolveStageConfig((key) => app.node.tryGetContext(key), { contextKeys: Object.keys(app.node.getAllContext()) });
} catch (e) {
  if (e instanceof StageConfigError) fail(e.message);
  throw e;
}

const readiness = new ProductionReadinessChecks(app, { stage: config.stage, acceptedDifferences: config.acceptedReadinessDifferences });
addRulePacks(app, [readiness]);
// scripts/deploy.ts passes -c deployNonce=<time>: per-deploy custom resources then run on every deploy.
const deployNonce = app.node.tryGetContext('deployNonce');
const rebuildId = app.node.tryGetContext('rebuildId');
createDocaiStacks(app, config, { deployNonce: typeof deployNonce === 'string' ? deployNonce : undefined, rebuildId: typeof rebuildId === 'string' ? rebuildId : undefined });
app.synth();
// Reached only when every rule pack passed (a finding throws above, with the report).
fs.writeFileSync(path.join(app.outdir, BUILD_INFO_FILE), JSON.stringify(collectBuildInfo({ stage: config.stage, projectName: config.projectName, context: app.node.getAllContext() }), undefined, 2));
const rel = path.relative(process.cwd(), app.outdir) || '.';
const shown = rel.startsWith('..') ? app.outdir : rel;
if (readiness.lastReport) console.error(readinessSummary(readiness.lastReport, shown).join('\n'));
for (const f of markStaleReviews(app.outdir)) console.error(`${path.join(shown, path.basename(f))} is from an earlier synth (marked STALE): run npm run review${shown === 'cdk.out' ? '' : ` -- --assembly ${shown}`}`);
