export * from './stage-config';
export * from './presets';
export * from './instance-catalog';
export * from './load';
