export * from './ingestion-queue';
export * from './ingestion-function';
