import * as fs from 'fs';
import * as path from 'path';
import { CfnResource, IPolicyValidationContext, PolicyValidationPluginReport, Validations } from 'aws-cdk-lib';
import { NagMessageLevel, NagPack, NagPackProps, NagRuleCompliance } from 'cdk-nag';
import { IConstruct } from 'constructs';
import { buildReadinessReport, readinessMarkdown, ReadinessReport } from './report';
import { READINESS_RULES } from './rules';

export interface ProductionReadinessProps extends NagPackProps {
  /**
   * Rules this stage deliberately does not meet, with the reason (e.g. a pilot's single-AZ database).
   * Each finding is acknowledged on its resource as "accepted for this stage: <reason>" (so it is
   * in the validation report's acknowledgements and the security review, not printed as a warning
   * to fix), and its category is "partially ready" in the readiness report.
   * @default - none: every rule is a production requirement
   */
  readonly acceptedDifferences?: Record<string, string>;
  /** Shown in the report. */
  readonly stage?: string;
}

/**
 * The production-readiness checklist as a cdk-nag pack, in three categories: compute, data, and
 * security and cost. On every synth it also writes `readiness-report.json` and `readiness-report.md`
 * next to the validation report.
 *
 * Only unaccepted errors fail the synth; accepted differences and warnings are reported.
 */
export class ProductionReadinessChecks extends NagPack {
  public readonly name = 'ProductionReadiness';
  public lastReport?: ReadinessReport;
  private readonly accepted: Record<string, string>;
  private readonly stage?: string;

  constructor(scope?: IConstruct, props: ProductionReadinessProps = {}) {
    super(scope, props);
    this.packName = 'ProductionReadiness';
    this.accepted = props.acceptedDifferences ?? {};
    this.stage = props.stage;
    for (const name of Object.keys(this.accepted)) {
      if (!READINESS_RULES.some((r) => r.name === name)) throw new Error(`ProductionReadinessChecks: acceptedDifferences names unknown rule "${name}"; rules: ${READINESS_RULES.map((r) => r.name).join(', ')}`);
    }
  }

  protected checkResource(node: CfnResource): void {
    for (const rule of READINESS_RULES) {
      const reason = this.accepted[rule.name];
      // An accepted finding is reported as a warning (the readiness report counts it) and
      // acknowledged on its resource, so the synth files it under the acknowledgements with the
      // stage's reason instead of printing it as something to fix.
      if (reason && rule.check(node) === NagRuleCompliance.NON_COMPLIANT) {
        Validations.of(node).acknowledge({ id: `${this.packName}::${this.packName}-${rule.name}`, reason: acceptedReason(reason) });
      }
      this.applyRule({
        ruleSuffixOverride: rule.name,
        info: rule.info,
        explanation: rule.explanation,
        level: reason ? NagMessageLevel.WARN : rule.level,
        node,
        rule: rule.check,
      });
    }
  }

  public validateScope(scope: IConstruct): PolicyValidationPluginReport {
    const report = super.validateScope(scope);
    this.lastReport = buildReadinessReport(report.violations as any, READINESS_RULES, this.accepted, this.stage);
    return { ...report, success: report.violations.every((v) => v.severity !== 'error') };
  }

  public validate(context: IPolicyValidationContext): PolicyValidationPluginReport {
    const report = super.validate(context);
    const dir = context.templatePaths.length ? path.dirname(context.templatePaths[0]) : undefined;
    if (dir && this.lastReport) {
      fs.writeFileSync(path.join(dir, 'readiness-report.json'), JSON.stringify(this.lastReport, undefined, 2));
      fs.writeFileSync(path.join(dir, 'readiness-report.md'), readinessMarkdown(this.lastReport));
    }
    return report;
  }
}

/** How an accepted difference reads in the validation report, the synth output and the review. */
export function acceptedReason(reason: string): string {
  return `accepted for this stage: ${reason}`;
}
