export * from './security-review';
