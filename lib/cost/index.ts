export * from './estimate';
export * from './custom-metrics';
export * from './resources';
