export * from './alarm-topic';
