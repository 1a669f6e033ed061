import { ReadinessCategory, ReadinessRule } from './rule';

export type CategoryStatus = 'ready' | 'partially ready' | 'not ready';

export interface ReadinessFinding {
  readonly rule: string;
  readonly category: ReadinessCategory;
  readonly severity: 'error' | 'warning';
  readonly resources: string[];
  readonly info: string;
  /** Set when the stage config accepts this difference from production. */
  readonly acceptedBecause?: string;
}

export interface ReadinessReport {
  readonly stage?: string;
  readonly categories: Record<ReadinessCategory, { status: CategoryStatus; findings: ReadinessFinding[] }>;
  readonly accepted: ReadinessFinding[];
}

export const CATEGORIES: ReadinessCategory[] = ['compute', 'data', 'security-and-cost'];

/** `not ready` with any error, `partially ready` with only warnings, `ready` with none. */
export function categoryStatus(findings: ReadinessFinding[]): CategoryStatus {
  if (findings.some((f) => f.severity === 'error')) return 'not ready';
  return findings.length ? 'partially ready' : 'ready';
}

export function buildReadinessReport(
  violations: Array<{ ruleName: string; severity: string; violatingResources: Array<{ constructPath?: string; resourceLogicalId?: string }> }>,
  rules: ReadinessRule[],
  accepted: Record<string, string>,
  stage?: string,
): ReadinessReport {
  const byName = new Map(rules.map((r) => [r.name, r]));
  const findings: ReadinessFinding[] = violations.map((v) => {
    const name = v.ruleName.replace(/^ProductionReadiness-/, '');
    const rule = byName.get(name)!;
    return {
      rule: name,
      category: rule.category,
      severity: v.severity === 'error' ? 'error' : 'warning',
      resources: v.violatingResources.map((r) => r.constructPath ?? r.resourceLogicalId ?? '?'),
      info: rule.info,
      ...(accepted[name] ? { acceptedBecause: accepted[name] } : {}),
    };
  });
  const categories = Object.fromEntries(CATEGORIES.map((c) => {
    const fs = findings.filter((f) => f.category === c);
    return [c, { status: categoryStatus(fs), findings: fs }];
  })) as ReadinessReport['categories'];
  return { stage, categories, accepted: findings.filter((f) => f.acceptedBecause) };
}

export function readinessMarkdown(r: ReadinessReport): string {
  const lines = [`# Production readiness${r.stage ? `: ${r.stage}` : ''}`, '', '| category | status | findings |', '|---|---|---|'];
  for (const c of CATEGORIES) lines.push(`| ${c} | **${r.categories[c].status}** | ${r.categories[c].findings.length} |`);
  for (const c of CATEGORIES) {
    const fs = r.categories[c].findings;
    if (!fs.length) continue;
    lines.push('', `## ${c}`, '');
    for (const f of fs) {
      lines.push(`- **${f.rule}** (${f.severity}${f.acceptedBecause ? ', accepted for this stage' : ''}): ${f.info}`);
      if (f.acceptedBecause) lines.push(`  - accepted because: ${f.acceptedBecause}`);
      for (const res of f.resources) lines.push(`  - \`${res}\``);
    }
  }
  if (r.accepted.length) {
    lines.push('', '## Accepted differences from production', '');
    for (const f of r.accepted) lines.push(`- ${f.rule}: ${f.acceptedBecause}`);
  }
  return lines.join('\n') + '\n';
}

/**
 * What the synth prints last: one line per category with its verdict (accepted differences named
 * with the stage's reason), then where the reports are. `dir` is the cloud assembly directory as
 * the user should type it.
 */
export function readinessSummary(r: ReadinessReport, dir: string): string[] {
  const lines = [`Production readiness${r.stage ? ` of the ${r.stage} stage` : ''}:`];
  for (const c of CATEGORIES) {
    const { status, findings } = r.categories[c];
    const accepted = findings.filter((f) => f.acceptedBecause);
    const open = findings.filter((f) => !f.acceptedBecause);
    const parts = [
      ...accepted.map((f) => `accepted for this stage: ${f.rule} (${f.acceptedBecause})`),
      ...open.map((f) => `${f.severity}: ${f.rule} (${f.info})`),
    ];
    lines.push(`  ${c}: ${status}${parts.length ? ` - ${parts.join('; ')}` : ''}`);
  }
  lines.push(`Reports: ${dir}/readiness-report.md, ${dir}/validation-report.json; security review: npm run review${dir === 'cdk.out' ? '' : ` -- --assembly ${dir}`} (writes ${dir}/security-review.html)`);
  return lines;
}
