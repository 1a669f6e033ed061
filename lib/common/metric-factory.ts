import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { IConstruct } from 'constructs';
import { isCustomMetric, METRICS_NAMESPACE } from '../contract/metrics';
import { metricDimensions } from './metric-dimensions';

/** How a DocaiMetricFactory names its metrics. */
export interface DocaiMetricFactoryProps {
  /**
   * The namespace of the project's own (Embedded Metric Format) metrics.
   * @default DocaiMetricFactory.DEFAULT_NAMESPACE ('DocAI', where lambda/shared/docai_shared/observability.py emits)
   */
  readonly namespace?: string;
  /**
   * Dimensions every custom metric carries, so two deployments in one account never share a metric.
   * @default - the deployment dimensions set on the scope or an ancestor (setMetricDimensions: Project and Stage), none when none were set
   */
  readonly deploymentDimensions?: { readonly [name: string]: string };
  /**
   * Period of every metric and expression, unless a call gives its own.
   * @default DocaiMetricFactory.DEFAULT_PERIOD (5 minutes)
   */
  readonly period?: Duration;
}

/**
 * The one place metrics of this project are named, in the manner of cdk-monitoring-constructs'
 * MetricFactory: the namespace and the deployment dimensions (Project, Stage) are applied here, the
 * way every DocaiFunction hands the same dimensions to its handler (DOCAI_METRIC_DIMENSIONS), so a
 * watched metric carries exactly what the handler emits. Constructs build their `metricXxx()`
 * methods with it; dashboards and alarms use those methods.
 */
export class DocaiMetricFactory {
  /** The namespace the Python handlers emit under (lib/contract, read by docai_shared.observability). */
  public static readonly DEFAULT_NAMESPACE: string = METRICS_NAMESPACE;
  /** The period of the dashboards and alarms of this project. */
  public static readonly DEFAULT_PERIOD = Duration.minutes(5);

  /** A factory with the deployment dimensions in force at `scope`. */
  public static of(scope: IConstruct, props: DocaiMetricFactoryProps = {}): DocaiMetricFactory {
    return new DocaiMetricFactory(scope, props);
  }

  public readonly namespace: string;
  /** Added to every custom metric, after (and over) its own dimensions. */
  public readonly deploymentDimensions: { readonly [name: string]: string };
  public readonly period: Duration;

  constructor(scope: IConstruct, props: DocaiMetricFactoryProps = {}) {
    this.namespace = props.namespace ?? DocaiMetricFactory.DEFAULT_NAMESPACE;
    if (!/^[^:$][^$]{0,254}$/.test(this.namespace)) {
      throw new Error(`DocaiMetricFactory: namespace "${this.namespace}" is not a CloudWatch namespace (1-255 characters, not starting with ':' and without '$'); the handlers emit under "${DocaiMetricFactory.DEFAULT_NAMESPACE}"`);
    }
    this.deploymentDimensions = { ...(props.deploymentDimensions ?? metricDimensions(scope)) };
    this.period = props.period ?? DocaiMetricFactory.DEFAULT_PERIOD;
  }

  /**
   * A custom metric as a handler emits it: `dimensions` (e.g. Workflow, Step), then the deployment
   * dimensions, which a caller cannot override or leave out.
   */
  public metric(metricName: string, dimensions: { readonly [name: string]: string } = {}, props: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    // In the handlers' namespace a name nothing emits is a typo; another namespace is the caller's own.
    if (this.namespace === DocaiMetricFactory.DEFAULT_NAMESPACE && !isCustomMetric(metricName)) throw new Error(`DocaiMetricFactory.metric: ${metricName} is no custom metric of lib/contract (CUSTOM_METRICS): nothing emits it; use awsMetric for an AWS metric`);
    return new cloudwatch.Metric({
      ...props,
      namespace: this.namespace,
      metricName,
      dimensionsMap: { ...dimensions, ...props.dimensionsMap, ...this.deploymentDimensions },
      period: props.period ?? this.period,
    });
  }

  /**
   * A metric AWS publishes (its own namespace, exactly the dimensions AWS publishes it with: no
   * deployment dimensions, which would name a metric nothing emits), with the factory's period.
   */
  public awsMetric(namespace: string, metricName: string, dimensions: { readonly [name: string]: string }, props: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return new cloudwatch.Metric({
      ...props,
      namespace,
      metricName,
      dimensionsMap: { ...dimensions, ...props.dimensionsMap },
      period: props.period ?? this.period,
    });
  }

  /** A math expression over metrics, with the factory's period. */
  public expression(expression: string, usingMetrics: { readonly [id: string]: cloudwatch.IMetric }, props: cloudwatch.MathExpressionOptions = {}): cloudwatch.MathExpression {
    return new cloudwatch.MathExpression({ ...props, expression, usingMetrics: { ...usingMetrics }, period: props.period ?? this.period });
  }
}
