export * from './acknowledge';
export * from './keys';
export * from './queues';
export * from './managed-policies';
export * from './python-function';
export * from './placement';
export * from './cdk-providers';
