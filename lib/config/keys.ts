import { closest } from 'fastest-levenshtein';
import { PILOT, PRODUCTION } from './presets';

/**
 * The flat overrides a user can give with `-c key=value` (or in `cdk.json` / `cdk.context.json`),
 * mapped to their place in the config. Everything else: `-c configFile=path.json` with a partial
 * `StageConfig` that is deep-merged over the preset.
 */
export const CONTEXT_OVERRIDES: Readonly<Record<string, { path: string; type: 'string' | 'number' | 'boolean' }>> = {
  projectName: { path: 'projectName', type: 'string' },
  environmentName: { path: 'environmentName', type: 'string' },
  account: { path: 'account', type: 'string' },
  region: { path: 'region', type: 'string' },
  alarmEmail: { path: 'alarmEmail', type: 'string' },
  monthlyBudgetUsd: { path: 'budget.monthlyLimitUsd', type: 'number' },
  anomalyMonitor: { path: 'budget.anomalyMonitor', type: 'string' },
  activateCostAllocationTags: { path: 'budget.activateCostAllocationTags', type: 'boolean' },
  costCenter: { path: 'tags.costCenter', type: 'string' },
  businessUnit: { path: 'tags.businessUnit', type: 'string' },
  owner: { path: 'tags.owner', type: 'string' },
  databaseMinCapacityAcu: { path: 'database.minCapacityAcu', type: 'number' },
  databaseMaxCapacityAcu: { path: 'database.maxCapacityAcu', type: 'number' },
  embeddingInstanceType: { path: 'embedding.instanceType', type: 'string' },
  embeddingModelId: { path: 'embedding.modelId', type: 'string' },
  generationEnabled: { path: 'generation.enabled', type: 'boolean' },
  apiGatewayAccountRole: { path: 'query.apiGatewayAccountRole', type: 'boolean' },
};

/**
 * Context keys an earlier release read, with what replaced them: `-c databaseInstanceClass=...` would
 * otherwise be refused with a did-you-mean that names an unrelated key.
 */
export const RENAMED_CONTEXT_KEYS: Readonly<Record<string, { readonly now: string; readonly why: string }>> = {
  databaseInstanceClass: {
    now: 'databaseMaxCapacityAcu',
    why: 'the database is Aurora PostgreSQL Serverless v2, sized in Aurora capacity units (ACUs), not an instance class (README "Upgrading")',
  },
};

/** Context keys the app reads besides the flat overrides. */
export const CONTEXT_KEYS_OF_APP = [
  'stage', // picks the preset
  'configFile', // a JSON file with a partial stage config
  'deployNonce', // set by scripts/deploy.ts on every deploy
  'rebuildId', // set by scripts/deploy.ts --rebuild
] as const;

/**
 * The valid key nearest to `key`, for a "did you mean": the shortest candidate that starts with it
 * (`--docs` -> `--docs-per-day`), else the one at the least Levenshtein distance; case-insensitive.
 */
export function nearest(key: string, candidates: readonly string[]): string {
  const lower = candidates.map((c) => c.toLowerCase());
  const k = key.toLowerCase();
  const prefixed = candidates.filter((_, i) => lower[i].startsWith(k)).sort((a, b) => a.length - b.length);
  if (prefixed.length) return prefixed[0];
  return candidates[lower.indexOf(closest(k, lower))];
}

/**
 * Context keys this app reads. Anything else a user passes with `-c` (or writes into cdk.json's
 * context) is a typo until proven otherwise: `-c stag=production` would otherwise synthesize the
 * pilot. Keys the CDK itself owns are left alone: feature flags (`@aws-cdk/...`), `aws:cdk:*`
 * settings the CLI injects, and lookup results (`availability-zones:account=...`), which all
 * contain `@` or `:`.
 */
export function contextKeyProblems(keys: readonly string[]): string[] {
  const valid = [...CONTEXT_KEYS_OF_APP, ...Object.keys(CONTEXT_OVERRIDES)];
  return keys
    .filter((k) => !k.startsWith('@') && !k.includes(':') && !valid.includes(k))
    .map((k) => RENAMED_CONTEXT_KEYS[k]
      ? `${k}: no longer read: ${RENAMED_CONTEXT_KEYS[k].why}; did you mean "${RENAMED_CONTEXT_KEYS[k].now}"? Fix: -c ${RENAMED_CONTEXT_KEYS[k].now}=<ACUs> (and -c databaseMinCapacityAcu=<ACUs>, 0 to pause when idle)`
      : `${k}: not a context key of this app; did you mean "${nearest(k, valid)}"? Fix: -c ${nearest(k, valid)}=... (valid keys: ${valid.join(', ')}; anything else goes in a -c configFile=<file.json>)`);
}

/** A map whose keys are data (checked by the validation of its values), not config fields. */
const FREE_MAPS = new Set(['budget.workloadLimitsUsd', 'acceptedReadinessDifferences', 'rebuild.keys', 'gateway.models', 'query.tierGroups']);
/** Optional top-level fields the presets leave unset. */
const OPTIONAL_TOP_LEVEL = ['account', 'region', 'alarmEmail', 'environmentName'];
/** Optional sections the presets leave out, with their fields. */
const OPTIONAL_SECTIONS: Record<string, Record<string, true>> = { rebuild: { restoreFromSnapshot: true, keys: true } };

type Shape = { [key: string]: Shape | true };

function shapeOf(values: unknown[], at: string): Shape {
  const shape: Shape = {};
  for (const v of values) {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) continue;
    for (const [k, child] of Object.entries(v)) {
      const p = at ? `${at}.${k}` : k;
      const isObject = typeof child === 'object' && child !== null && !Array.isArray(child) && !FREE_MAPS.has(p);
      if (isObject) shape[k] = shapeOf([...values.map((x) => (x as Record<string, unknown>)?.[k])], p);
      else if (!(k in shape)) shape[k] = true;
    }
  }
  return shape;
}

/** Every field a stage config can hold: the union of the presets' fields plus the optional ones. */
export function stageConfigShape(): Shape {
  const shape = shapeOf([PILOT, PRODUCTION], '');
  for (const k of OPTIONAL_TOP_LEVEL) shape[k] = true;
  Object.assign(shape, OPTIONAL_SECTIONS);
  return shape;
}

/**
 * One problem per key of a `configFile` that no stage config has, naming the key's full path
 * and the nearest valid key at that level: `{"embeding": {...}}` is refused, not ignored.
 */
export function configFileKeyProblems(value: Record<string, unknown>, file: string, shape: Shape = stageConfigShape(), at = ''): string[] {
  const problems: string[] = [];
  for (const [k, v] of Object.entries(value)) {
    const p = at ? `${at}.${k}` : k;
    if (!at && k === 'stage') continue; // reported on its own: the stage is chosen with -c stage=
    const expected = shape[k];
    if (expected === undefined) {
      const valid = Object.keys(shape);
      const near = nearest(k, valid);
      problems.push(`configFile ${file}: unknown key "${p}"; did you mean "${at ? `${at}.` : ''}${near}"? Valid keys${at ? ` of ${at}` : ''}: ${valid.join(', ')}`);
    } else if (expected !== true && typeof v === 'object' && v !== null && !Array.isArray(v)) {
      problems.push(...configFileKeyProblems(v as Record<string, unknown>, file, expected, p));
    }
  }
  return problems;
}
