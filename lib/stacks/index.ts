export * from './stack-names';
export * from './data-stack';
export * from './app-stack';
export * from './inference-stack';
export * from './monitoring-stack';
export * from './read-side-props';
