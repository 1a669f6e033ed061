export * from './observability';
