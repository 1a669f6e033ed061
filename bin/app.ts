#!/usr/bin/env node
import * as path from 'path';
import { App } from 'aws-cdk-lib';
import { addRulePacks, cdkCliCommand, createDocaiStacks, decideBundling, dockerReachable } from '../lib/app';
import { resolveStageConfig, StageConfigError } from '../lib/config';
import { ProductionReadinessChecks, readinessSummary } from '../lib/readiness';

function fail(message: string): never {
  console.error(message);
  process.exit(1);
}

const bundling = decideBundling({ dockerAvailable: dockerReachable(), cliCommand: cdkCliCommand() });
if (bundling.refusal) fail(bundling.refusal);
if (bundling.notice) console.error(bundling.notice);

// `aws:cdk:bundling-stacks` is refused on the command line (aws: prefix) but may be set here.
const app = new App({ postCliContext: bundling.skipBundling ? { 'aws:cdk:bundling-stacks': [] } : {} });

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
createDocaiStacks(app, config, { deployNonce: typeof deployNonce === 'string' ? deployNonce : undefined });
app.synth();
// Reached only when every rule pack passed (a finding throws above, with the report).
if (readiness.lastReport) {
  const dir = path.relative(process.cwd(), app.outdir) || '.';
  console.error(readinessSummary(readiness.lastReport, dir.startsWith('..') ? app.outdir : dir).join('\n'));
}
