import { NagMessageLevel } from 'cdk-nag';
import { CfnScalableTarget } from 'aws-cdk-lib/aws-applicationautoscaling';
import { CfnEndpoint, CfnEndpointConfig } from 'aws-cdk-lib/aws-sagemaker';
import { allResources, COMPLIANT, NON_COMPLIANT, NOT_APPLICABLE, ReadinessRule, referencedResource, resolve } from '../rule';

export const EndpointAutoscaling: ReadinessRule = {
  name: 'EndpointAutoscaling',
  category: 'compute',
  level: NagMessageLevel.ERROR,
  info: 'An inference endpoint has no autoscaling target (and is not serverless).',
  explanation: 'Without Application Auto Scaling an endpoint neither follows load nor scales in: it is either too slow at peak or paid for idle.',
  check: (node) => {
    if (!(node instanceof CfnEndpoint)) return NOT_APPLICABLE;
    // Serverless variants are scaled by SageMaker itself, from zero up to their MaxConcurrency
    // (https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints.html).
    const config = referencedResource(node, node.endpointConfigName);
    const variants = config instanceof CfnEndpointConfig ? (resolve(config, config.productionVariants) as any[]) : [];
    if (variants.length > 0 && variants.every((v) => v.serverlessConfig ?? v.ServerlessConfig)) return COMPLIANT;
    const name = resolve(node, node.endpointName);
    const targets = allResources(node).filter((r): r is CfnScalableTarget => r instanceof CfnScalableTarget && r.serviceNamespace === 'sagemaker');
    const ids = targets.map((t) => JSON.stringify(resolve(t, t.resourceId)));
    const inferenceComponents = allResources(node).filter((r: any) => r.cfnResourceType === 'AWS::SageMaker::InferenceComponent' && resolve(r, r.endpointName) === name).map((r: any) => resolve(r, r.inferenceComponentName));
    const covered = ids.some((id) => id.includes(`endpoint/${name}/`) || inferenceComponents.some((ic) => id.includes(`inference-component/${ic}`)));
    return covered ? COMPLIANT : NON_COMPLIANT;
  },
};
