export * from './acknowledge';
export * from './keys';
export * from './queues';
