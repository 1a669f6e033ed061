export * from './stage-config';
export * from './presets';
export * from './instance-catalog';
export * from './load';
export { CONTEXT_OVERRIDES, CONTEXT_KEYS_OF_APP, contextKeyProblems, configFileKeyProblems, nearest } from './keys';
export * from './model-catalog';
export * from './regions';
