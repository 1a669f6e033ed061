import { NagMessageLevel } from 'cdk-nag';
import { CfnEventSourceMapping } from 'aws-cdk-lib/aws-lambda';
import { COMPLIANT, NON_COMPLIANT, NOT_APPLICABLE, ReadinessRule, resolve } from '../rule';

export const IngestionConcurrencyLimit: ReadinessRule = {
  name: 'IngestionConcurrencyLimit',
  category: 'compute',
  level: NagMessageLevel.ERROR,
  info: 'A queue-driven function has no maximum concurrency.',
  explanation: 'A burst of uploads would otherwise take the whole account concurrency and stampede the database and the endpoint.',
  check: (node) => {
    if (!(node instanceof CfnEventSourceMapping)) return NOT_APPLICABLE;
    const scaling = resolve(node, node.scalingConfig);
    return scaling?.maximumConcurrency ?? scaling?.MaximumConcurrency ? COMPLIANT : NON_COMPLIANT;
  },
};
