import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

/**
 * AWS's Guard Rules Registry as an outside yardstick: every `.guard` file of a rules directory (a
 * copy of the registry's `rules/` tree, or its released rule sets) run with the cfn-guard binary
 * that @cdklabs/cdk-validator-cfnguard ships, over every template of the given assemblies. Each
 * failing (rule, stack, resource) must be listed in the exceptions file with a reason; an exception
 * no finding matches any more is reported too, so the file stays true.
 */

export interface GuardFinding {
  readonly rule: string;
  /** The stack's role without project and stage (`data`, `app`): one exception covers both stages. */
  readonly stack: string;
  readonly resource: string;
  readonly template: string;
}

export interface GuardException {
  readonly rule: string;
  readonly stack: string;
  /** A logical id, or `*` for every resource of the stack that fails the rule. */
  readonly resource: string;
  readonly reason: string;
}

export interface GuardRun {
  readonly ruleFiles: number;
  readonly templates: string[];
  readonly findings: GuardFinding[];
  readonly unexcepted: GuardFinding[];
  readonly stale: GuardException[];
  readonly errors: string[];
}

export const GUARD_BINARY = (() => {
  const os = process.platform === 'darwin' ? 'macos' : 'ubuntu';
  const arch = process.arch === 'arm64' ? 'aarch64' : 'x86_64';
  return path.join(path.dirname(require.resolve('@cdklabs/cdk-validator-cfnguard/package.json')), 'bin', os, arch, 'cfn-guard');
})();

/** Rule files under `dir`, leaving out the registry's own tests and templates. */
export function guardRuleFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) {
        if (e.name !== 'tests' && !e.name.startsWith('_') && !e.name.startsWith('.')) walk(p);
      } else if (e.name.endsWith('.guard')) out.push(p);
    }
  };
  walk(dir);
  return out.sort();
}

export function readGuardExceptions(file: string): GuardException[] {
  if (!fs.existsSync(file)) return [];
  const doc = JSON.parse(fs.readFileSync(file, 'utf8'));
  const list: GuardException[] = doc.exceptions ?? [];
  list.forEach((e, i) => {
    for (const k of ['rule', 'stack', 'resource', 'reason'] as const) {
      if (typeof e[k] !== 'string' || !e[k].trim()) throw new Error(`${file}: exceptions[${i}].${k} is missing or empty: every exception names the rule, the stack (data, app, ...), the resource (logical id or *) and the reason`);
    }
  });
  return list;
}

/** `docai-pilot-data.template.json` -> `data`: the part of the stack name both stages share. */
export function stackRole(templateFile: string, stackName?: string): string {
  const name = stackName ?? path.basename(templateFile).replace(/\.template\.json$/, '');
  return name.split('-').pop() ?? name;
}

function templatesOf(assembly: string): Array<{ file: string; stack: string }> {
  const manifest = JSON.parse(fs.readFileSync(path.join(assembly, 'manifest.json'), 'utf8'));
  return Object.values<any>(manifest.artifacts ?? {})
    .filter((a) => a.type === 'aws:cloudformation:stack')
    .map((a) => ({ file: path.join(assembly, a.properties.templateFile), stack: a.properties.stackName ?? a.displayName }));
}

/** Logical ids a non-compliant rule points at (cfn-guard reports paths like /Resources/<id>/...). */
function resourcesOfRule(rule: unknown): string[] {
  return [...new Set([...JSON.stringify(rule).matchAll(/\/Resources\/([A-Za-z0-9]+)/g)].map((m) => m[1]))];
}

export function runGuardRegistry(opts: { rulesDir: string; assemblies: string[]; exceptions: GuardException[]; binary?: string }): GuardRun {
  const rules = guardRuleFiles(opts.rulesDir);
  if (!rules.length) throw new Error(`${opts.rulesDir} holds no .guard files: point DOCAI_GUARD_RULES_DIR at the registry's rules/ directory (or its released rule sets)`);
  const templates = opts.assemblies.flatMap(templatesOf);
  const findings: GuardFinding[] = [];
  const errors: string[] = [];
  for (const t of templates) {
    // One run per template: --structured prints one JSON report per data file, all rule files merged.
    const r = spawnSync(opts.binary ?? GUARD_BINARY, ['validate', '--structured', '-o', 'json', '-S', 'none', '-d', t.file, ...rules.flatMap((f) => ['-r', f])], { encoding: 'utf8', maxBuffer: 512 * 1024 * 1024 });
    // cfn-guard exits 0 (all pass), 19 (some rule failed), anything else is an error of the run.
    if (r.status !== 0 && r.status !== 19) {
      errors.push(`${t.file}: cfn-guard exited ${r.status}: ${(r.stderr || r.stdout).slice(0, 2000)}`);
      continue;
    }
    let reports: any[];
    try {
      const parsed = JSON.parse(r.stdout);
      reports = Array.isArray(parsed) ? parsed : [parsed];
    } catch (e) {
      errors.push(`${t.file}: cfn-guard output is not JSON (${(e as Error).message}): ${r.stdout.slice(0, 500)}`);
      continue;
    }
    for (const report of reports) {
      for (const nc of report.not_compliant ?? []) {
        const rule = nc.Rule?.name ?? '?';
        const ids = resourcesOfRule(nc);
        for (const resource of ids.length ? ids : ['(template)']) findings.push({ rule, stack: stackRole(t.file, t.stack), resource, template: path.relative(process.cwd(), t.file) });
      }
    }
  }
  const covers = (e: GuardException, f: GuardFinding) => e.rule === f.rule && e.stack === f.stack && (e.resource === '*' || e.resource === f.resource);
  return {
    ruleFiles: rules.length,
    templates: templates.map((t) => t.file),
    findings,
    unexcepted: findings.filter((f) => !opts.exceptions.some((e) => covers(e, f))),
    stale: opts.exceptions.filter((e) => !findings.some((f) => covers(e, f))),
    errors,
  };
}
