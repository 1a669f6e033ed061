export * from './security-review';
export * from './build-info';
export * from './html';
