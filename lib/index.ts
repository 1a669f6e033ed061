export * from './config';
export * from './app';
export * from './alarm-topic';
export * from './stacks';
export * from './common';
export * from './network';
export * from './intake-bucket';
export * from './ingestion';
