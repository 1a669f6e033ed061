export * from './limits';
export * from './metrics';
export * from './tags';
export * from './tiers';
export * from './document';
export * from './environment';
