export * from './vector-database';
