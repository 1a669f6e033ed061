// The construct API (`import ... from 'docai-blueprint'`): the constructs, their props and handles, and
// what those props name. This is the surface jsii checks. The whole blueprint (stage config, stacks,
// app assembly, rule packs, cost, readiness, review) is `docai-blueprint/blueprint` (lib/blueprint.ts).
export * from './alarm-topic';
export * from './network';
export * from './intake-bucket';
export * from './ingestion';
export * from './vector-database';
export * from './document-pipeline';
export * from './gpu-inference';
export * from './observability';
export * from './cost-controls';
export * from './query-api';
export * from './model-gateway';
export { DocaiFunction } from './common/python-function';
export type { DocaiFunctionProps, OutsideVpc } from './common/python-function';
export type { FunctionPlacement } from './common/placement';
// BundlingRefusedError (an Error subclass, which jsii cannot express) is in docai-blueprint/blueprint.
export { LambdaBundling } from './common/bundling';
export { DocaiMetricFactory } from './common/metric-factory';
export type { DocaiMetricFactoryProps } from './common/metric-factory';
