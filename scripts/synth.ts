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
  return synthesizeStage(config).templates;
}

export interface SynthesizedStage {
  readonly templates: Record<string, any>;
  /** What the assembly requires of the CDK bootstrap: its SSM version parameter and the minimum version. */
  readonly bootstrap: { readonly parameter: string; readonly version: number };
  /** Regions stacks are pinned to whatever the stage's region (the cost stack: us-east-1). */
  readonly pinnedRegions: string[];
}

export function synthesizeStage(config: StageConfig): SynthesizedStage {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), `synth-${config.stage}-`));
  try {
    const app = new App({ outdir, context: { ...CDK_JSON_CONTEXT, 'aws:cdk:bundling-stacks': [] } });
    const stacks = createDocaiStacks(app, config);
    const assembly = app.synth();
    const templates = Object.fromEntries(Object.values(stacks).map((s) => [s.stackName, JSON.parse(fs.readFileSync(path.join(outdir, s.templateFile), 'utf8'))]));
    let parameter = '/cdk-bootstrap/hnb659fds/version';
    let version = 0;
    for (const a of assembly.artifacts) {
      const p = (a.manifest.properties ?? {}) as { requiresBootstrapStackVersion?: number; bootstrapStackVersionSsmParameter?: string };
      if (p.requiresBootstrapStackVersion && p.requiresBootstrapStackVersion > version) version = p.requiresBootstrapStackVersion;
      if (p.bootstrapStackVersionSsmParameter) parameter = p.bootstrapStackVersionSsmParameter;
    }
    const pinnedRegions = [...new Set(Object.values(stacks).map((s) => s.region).filter((r) => !r.startsWith('${') && r !== config.region))];
    return { templates, bootstrap: { parameter, version }, pinnedRegions };
  } finally {
    fs.rmSync(outdir, { recursive: true, force: true });
  }
}
