export * from './vector-database';
export * from './vector-store-metrics';
