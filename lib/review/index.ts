export * from './security-review';
export * from './build-info';
export * from './html';
export * from './key-audience';
