import { buildReadinessReport, categoryStatus, READINESS_RULES, readinessMarkdown, readinessSummary, ReadinessFinding } from '../../lib/readiness';

const finding = (severity: 'error' | 'warning', category: ReadinessFinding['category'] = 'data'): ReadinessFinding => ({ rule: 'R', category, severity, resources: ['a/b'], info: 'i' });

describe('readiness report', () => {
  test('a category is ready with no finding, partially ready with only warnings, not ready with any error', () => {
    expect(categoryStatus([])).toBe('ready');
    expect(categoryStatus([finding('warning'), finding('warning')])).toBe('partially ready');
    expect(categoryStatus([finding('warning'), finding('error')])).toBe('not ready');
  });

  test('findings land in their rule category with resources, and accepted ones are listed with the reason', () => {
    const report = buildReadinessReport(
      [
        { ruleName: 'ProductionReadiness-DatabaseMultiAz', severity: 'warning', violatingResources: [{ constructPath: 'x-data/Db/Resource' }] },
        { ruleName: 'ProductionReadiness-LambdaExplicitLimits', severity: 'error', violatingResources: [{ constructPath: 'x-app/Fn/Resource' }, { resourceLogicalId: 'Fn2' }] },
      ],
      READINESS_RULES,
      { DatabaseMultiAz: 'pilot runs single-AZ' },
      'pilot',
    );
    expect(report.stage).toBe('pilot');
    expect(report.categories.data.status).toBe('partially ready');
    expect(report.categories.compute.status).toBe('not ready');
    expect(report.categories['security-and-cost'].status).toBe('ready');
    expect(report.categories.compute.findings[0].resources).toEqual(['x-app/Fn/Resource', 'Fn2']);
    expect(report.accepted.map((f) => [f.rule, f.acceptedBecause])).toEqual([['DatabaseMultiAz', 'pilot runs single-AZ']]);

    const md = readinessMarkdown(report);
    expect(md).toMatch(/\| compute \| \*\*not ready\*\* \| 1 \|/);
    expect(md).toMatch(/\| data \| \*\*partially ready\*\* \| 1 \|/);
    expect(md).toMatch(/accepted because: pilot runs single-AZ/);
    expect(md).toContain('`x-app/Fn/Resource`');

    // What the synth prints last: one line per category, then where the reports are.
    const summary = readinessSummary(report, 'cdk.out.production');
    expect(summary).toEqual([
      'Production readiness of the pilot stage:',
      '  compute: not ready - error: LambdaExplicitLimits (' + READINESS_RULES.find((r) => r.name === 'LambdaExplicitLimits')!.info + ')',
      '  data: partially ready - accepted for this stage: DatabaseMultiAz (pilot runs single-AZ)',
      '  security-and-cost: ready',
      'Reports: cdk.out.production/readiness-report.md, cdk.out.production/validation-report.json; security review: npm run review -- --assembly cdk.out.production (writes cdk.out.production/security-review.html)',
    ]);
  });
});
