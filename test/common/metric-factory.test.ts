import { App, Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { Template } from 'aws-cdk-lib/assertions';
import { DocaiMetricFactory } from '../../lib/common/metric-factory';
import { setMetricDimensions } from '../../lib/common/metric-dimensions';

function stackWithDimensions(): Stack {
  const stack = new Stack(new App(), 'S');
  setMetricDimensions(stack, { Project: 'docai', Stage: 'pilot' });
  return stack;
}

describe('DocaiMetricFactory', () => {
  test('a custom metric carries the namespace, its own dimensions, then the deployment\'s project and stage', () => {
    const stack = stackWithDimensions();
    const m = DocaiMetricFactory.of(stack).metric('Requests', { Workflow: 'answer' }, { statistic: 'Sum' });
    expect(m.namespace).toBe('DocAI');
    expect(m.metricName).toBe('Requests');
    expect(m.dimensions).toEqual({ Workflow: 'answer', Project: 'docai', Stage: 'pilot' });
    expect(Object.keys(m.dimensions!)).toEqual(['Workflow', 'Project', 'Stage']);
    expect(m.period.toSeconds()).toBe(300);
    expect(m.statistic).toBe('Sum');
  });

  test('an alarm on a factory metric synthesizes with exactly those dimensions', () => {
    const stack = stackWithDimensions();
    new cloudwatch.Alarm(stack, 'A', { metric: DocaiMetricFactory.of(stack).metric('BudgetUsedPercent', { Workflow: 'answer' }, { statistic: 'Maximum' }), threshold: 80, evaluationPeriods: 1 });
    Template.fromStack(stack).hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'DocAI', MetricName: 'BudgetUsedPercent', Statistic: 'Maximum', Period: 300,
      // the alarm lists dimensions by name
      Dimensions: [{ Name: 'Project', Value: 'docai' }, { Name: 'Stage', Value: 'pilot' }, { Name: 'Workflow', Value: 'answer' }],
    });
  });

  test('a caller cannot override or drop the deployment dimensions through its options', () => {
    const stack = stackWithDimensions();
    const m = DocaiMetricFactory.of(stack).metric('Requests', { Stage: 'production' }, { dimensionsMap: { Project: 'other' } });
    expect(m.dimensions).toEqual({ Project: 'docai', Stage: 'pilot' });
  });

  test('a metric AWS publishes gets no deployment dimensions (AWS publishes none), but the factory period', () => {
    const stack = stackWithDimensions();
    const m = DocaiMetricFactory.of(stack).awsMetric('AWS/ApiGateway', 'Latency', { ApiName: 'a', Stage: 'v1' }, { statistic: 'p95' });
    expect(m.namespace).toBe('AWS/ApiGateway');
    expect(m.dimensions).toEqual({ ApiName: 'a', Stage: 'v1' });
    expect(m.period.toSeconds()).toBe(300);
  });

  test('explicit props win over the scope: namespace, dimensions, period', () => {
    const stack = stackWithDimensions();
    const f = new DocaiMetricFactory(stack, { namespace: 'Other', deploymentDimensions: { Project: 'x' }, period: Duration.minutes(1) });
    const m = f.metric('M');
    expect([m.namespace, m.dimensions, m.period.toSeconds()]).toEqual(['Other', { Project: 'x' }, 60]);
    expect(f.expression('a + 1', { a: m }).period.toSeconds()).toBe(60);
  });

  test('without deployment dimensions on the scope, a metric has only its own', () => {
    const m = DocaiMetricFactory.of(new Stack(new App(), 'S')).metric('DocumentsProcessed', { Workflow: 'w' });
    expect(m.dimensions).toEqual({ Workflow: 'w' });
  });

  test('a namespace CloudWatch would refuse is named in the error', () => {
    expect(() => new DocaiMetricFactory(new Stack(new App(), 'S'), { namespace: '' })).toThrow(/namespace "".*DocAI/);
    expect(() => new DocaiMetricFactory(new Stack(new App(), 'S'), { namespace: 'a$b' })).toThrow(/namespace "a\$b"/);
  });
});
