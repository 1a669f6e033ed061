export * from './docker';
export * from './rule-packs';
export * from './tags';
export * from './docai-stage';
export * from './cfn-lint';
export * from './promotion-plan';
