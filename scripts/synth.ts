/**
 * Synthesizes a stage in-process for the scripts that read its templates (plan, preflight), as
 * bin/app.ts does, without bundling (which changes assets, not templates) and without rule packs.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App } from 'aws-cdk-lib';
import { createDocaiStacks } from '../lib/app';
import { StageConfig } from '../lib/config';

const CDK_JSON_CONTEXT = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'cdk.json'), 'utf8')).context;

/** Templates of every stack of the stage, by stack name. */
export function synthesizeTemplates(config: StageConfig): Record<string, any> {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), `synth-${config.stage}-`));
  try {
    const app = new App({ outdir, context: { ...CDK_JSON_CONTEXT, 'aws:cdk:bundling-stacks': [] } });
    const stacks = createDocaiStacks(app, config);
    app.synth();
    return Object.fromEntries(Object.values(stacks).map((s) => [s.stackName, JSON.parse(fs.readFileSync(path.join(outdir, s.templateFile), 'utf8'))]));
  } finally {
    fs.rmSync(outdir, { recursive: true, force: true });
  }
}
