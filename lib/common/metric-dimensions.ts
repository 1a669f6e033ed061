import { IConstruct } from 'constructs';

/** Context key under which a stack names the dimensions every DocAI metric of its functions carries. */
export const METRIC_DIMENSIONS_CONTEXT = 'docai:metricDimensions';
/** Environment variable through which every DocaiFunction hands them to docai_shared.observability (lib/contract). */
export { METRIC_DIMENSIONS_ENV } from '../contract';

/**
 * Names the dimensions (project and stage) that every custom metric emitted and watched under
 * `scope` carries, so two stages or projects in one account never sum into the same alarm. Call it
 * first in a stack's constructor: context cannot be set once the scope has children.
 */
export function setMetricDimensions(scope: IConstruct, dimensions: Record<string, string>): void {
  scope.node.setContext(METRIC_DIMENSIONS_CONTEXT, dimensions);
}

/** The dimensions set for `scope` (or an ancestor), empty when none were. */
export function metricDimensions(scope: IConstruct): Record<string, string> {
  return { ...(scope.node.tryGetContext(METRIC_DIMENSIONS_CONTEXT) ?? {}) };
}
