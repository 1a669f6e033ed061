export * from './audit-store';
export * from './query-api';
