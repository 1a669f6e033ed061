export * from './break-glass';
export * from './key-administration';
