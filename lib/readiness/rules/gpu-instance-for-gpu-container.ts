import { NagMessageLevel } from 'cdk-nag';
import { CfnEndpointConfig, CfnModel } from 'aws-cdk-lib/aws-sagemaker';
import { SAGEMAKER_INSTANCE_TYPES } from '../../config/instance-catalog';
import { PUBLISHED_IMAGES } from '../../config/image-catalog';
import { COMPLIANT, NON_COMPLIANT, NOT_APPLICABLE, ReadinessRule, referencedResource, resolve } from '../rule';

/** `/<repository>:` of every published CPU build (TEI CPU): the containers a serverless variant can run. */
const CPU_REPOSITORIES = Object.values(PUBLISHED_IMAGES).filter((i) => !i.gpu).map((i) => `/${i.repository}:`);

export const GpuInstanceForGpuContainer: ReadinessRule = {
  name: 'GpuInstanceForGpuContainer',
  category: 'compute',
  level: NagMessageLevel.ERROR,
  info: 'An inference endpoint runs on an instance type without a GPU (or one this project has no facts for), or a serverless variant runs a GPU container.',
  explanation: 'The embedding (TEI) and generation (LMI) containers are GPU builds: on a CPU instance they fail to start or miss latency targets by orders of magnitude. ' +
    'Serverless Inference has no GPU, so a serverless variant must run a published CPU build (TEI CPU).',
  check: (node) => {
    if (!(node instanceof CfnEndpointConfig)) return NOT_APPLICABLE;
    const variants = resolve(node, node.productionVariants) as any[];
    return variants.every((v) => {
      if (v.serverlessConfig ?? v.ServerlessConfig) {
        const model = referencedResource(node, v.modelName ?? v.ModelName);
        if (!(model instanceof CfnModel)) return false; // a model we cannot see: no facts, not compliant
        const image = JSON.stringify(resolve(model, (model.primaryContainer as any)?.image));
        return CPU_REPOSITORIES.some((r) => image.includes(r));
      }
      return (SAGEMAKER_INSTANCE_TYPES[v.instanceType ?? v.InstanceType]?.gpus ?? 0) > 0;
    }) ? COMPLIANT : NON_COMPLIANT;
  },
};
