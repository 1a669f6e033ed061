import { NagMessageLevel } from 'cdk-nag';
import { CfnEndpointConfig } from 'aws-cdk-lib/aws-sagemaker';
import { SAGEMAKER_INSTANCE_TYPES } from '../../config/instance-catalog';
import { COMPLIANT, NON_COMPLIANT, NOT_APPLICABLE, ReadinessRule, resolve } from '../rule';

export const GpuInstanceForGpuContainer: ReadinessRule = {
  name: 'GpuInstanceForGpuContainer',
  category: 'compute',
  level: NagMessageLevel.ERROR,
  info: 'An inference endpoint runs on an instance type without a GPU (or one this project has no facts for).',
  explanation: 'The embedding (TEI) and generation (LMI) containers are GPU builds: on a CPU instance they fail to start or miss latency targets by orders of magnitude.',
  check: (node) => {
    if (!(node instanceof CfnEndpointConfig)) return NOT_APPLICABLE;
    const variants = resolve(node, node.productionVariants) as any[];
    return variants.every((v) => (SAGEMAKER_INSTANCE_TYPES[v.instanceType ?? v.InstanceType]?.gpus ?? 0) > 0) ? COMPLIANT : NON_COMPLIANT;
  },
};
