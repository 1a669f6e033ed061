export * from './intake-bucket';
