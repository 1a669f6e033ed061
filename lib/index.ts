export * from './config';
export * from './app';
export * from './alarm-topic';
export * from './stacks';
