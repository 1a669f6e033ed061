/** The CloudWatch namespace of the handlers' custom metrics (Embedded Metric Format lines) and of the alarms on them. */
export const METRICS_NAMESPACE = 'DocAI';

/**
 * The environment variable through which a function receives its deployment's metric dimensions
 * (project, stage) as JSON; docai_shared.observability adds them to every metric it emits.
 */
export const METRIC_DIMENSIONS_ENV = 'DOCAI_METRIC_DIMENSIONS';
