export * from './model-gateway';
