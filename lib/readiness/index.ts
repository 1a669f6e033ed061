export * from './rule';
export * from './rules';
export { REQUIRED_TAGS } from './rules/cost-allocation-tags';
export { budgetFiltersEnvironment } from './rules/budget-exists';
export * from './report';
export * from './pack';
