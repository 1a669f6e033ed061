export * from './cost-controls';
