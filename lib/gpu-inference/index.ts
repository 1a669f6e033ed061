export * from './images';
export * from './gpu-inference-endpoint';
