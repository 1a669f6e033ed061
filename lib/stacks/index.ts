export * from './stack-names';
export * from './data-stack';
export * from './app-stack';
