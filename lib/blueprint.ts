// The whole blueprint (`import ... from 'docai-blueprint/blueprint'`): the construct API plus the stage
// config, the stacks and their assembly into an app, the rule packs, cost estimate, readiness and review.
export * from './index';
export * from './common';
export * from './config';
export * from './app';
export * from './stacks';
export * from './cost';
export * from './readiness';
export * from './review';
