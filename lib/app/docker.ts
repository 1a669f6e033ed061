// The bundling decision lives with the constructs (lib/common/bundling.ts), which check it too; the app
// layer re-exports it for bin/app.ts and the tests.
export { BundlingRefusedError, cdkCliCommand, decideBundling, dockerReachable, LambdaBundling } from '../common/bundling';
export type { BundlingDecision } from '../common/bundling';
