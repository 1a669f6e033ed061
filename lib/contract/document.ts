import { FUNCTION_ENVIRONMENT, LOCAL_ENVIRONMENT } from './environment';
import { EXTRACT_LIMIT_ENV, EXTRACT_LIMITS, QUERY_LIMITS } from './limits';
import { CUSTOM_METRICS, METRIC_DIMENSIONS_ENV, METRICS_NAMESPACE, SEARCH_WORKFLOWS } from './metrics';
import { TAG_KEYS } from './tags';
import { ACCESS_TIERS, DEFAULT_ACCESS_TIER } from './tiers';

/** Where the Python copy lives (read by lambda/shared/docai_shared/contract.py), from the package root. */
export const PYTHON_CONTRACT_PATH = 'lambda/shared/docai_shared/contract.json';

/** The contract as the JSON the Python side reads: `npm run contract` writes it, test/contract fails when it is stale. */
export function contractJson(): string {
  const doc = {
    comment: 'Generated from lib/contract by `npm run contract`: do not edit (test/contract fails when this copy is stale).',
    accessTiers: ACCESS_TIERS,
    defaultAccessTier: DEFAULT_ACCESS_TIER,
    extractLimits: EXTRACT_LIMITS,
    extractLimitEnv: EXTRACT_LIMIT_ENV,
    queryLimits: QUERY_LIMITS,
    metricsNamespace: METRICS_NAMESPACE,
    metricDimensionsEnv: METRIC_DIMENSIONS_ENV,
    customMetrics: CUSTOM_METRICS,
    searchWorkflows: SEARCH_WORKFLOWS,
    tagKeys: TAG_KEYS,
    functionEnvironment: FUNCTION_ENVIRONMENT,
    localEnvironment: LOCAL_ENVIRONMENT,
  };
  return JSON.stringify(doc, null, 2) + '\n';
}
