export * from './images';
export * from './gpu-inference-endpoint';
export * from './serverless-embedding-endpoint';
export * from './model-artifacts';
