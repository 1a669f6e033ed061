import { NagMessageLevel } from 'cdk-nag';
import { CfnScalableTarget } from 'aws-cdk-lib/aws-applicationautoscaling';
import { COMPLIANT, NON_COMPLIANT, NOT_APPLICABLE, ReadinessRule, resolve } from '../rule';

export const ProductionEndpointMinimum: ReadinessRule = {
  name: 'ProductionEndpointMinimum',
  category: 'compute',
  level: NagMessageLevel.ERROR,
  info: 'An inference endpoint may scale to zero instances or copies.',
  explanation: 'From zero, the first requests fail for about five minutes while an instance starts: acceptable for a pilot, not for production latency targets.',
  check: (node) => {
    if (!(node instanceof CfnScalableTarget) || node.serviceNamespace !== 'sagemaker') return NOT_APPLICABLE;
    return Number(resolve(node, node.minCapacity)) >= 1 ? COMPLIANT : NON_COMPLIANT;
  },
};
