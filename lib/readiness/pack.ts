import * as fs from 'fs';
import * as path from 'path';
import { CfnResource, IPolicyValidationContext, PolicyValidationPluginReport } from 'aws-cdk-lib';
import { NagMessageLevel, NagPack, NagPackProps } from 'cdk-nag';
import { IConstruct } from 'constructs';
import { buildReadinessReport, readinessMarkdown, ReadinessReport } from './report';
import { READINESS_RULES } from './rules';

export interface ProductionReadinessProps extends NagPackProps {
  /**
   * Rules this stage deliberately does not meet, with the reason (e.g. a pilot's single-AZ database).
   * Their findings become warnings ("partially ready") and are listed as accepted, not hidden.
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
      this.applyRule({
        ruleSuffixOverride: rule.name,
        info: rule.info,
        explanation: rule.explanation,
        level: this.accepted[rule.name] ? NagMessageLevel.WARN : rule.level,
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
