import { NagMessageLevel } from 'cdk-nag';
import { CfnScalableTarget } from 'aws-cdk-lib/aws-applicationautoscaling';
import { CfnEndpoint } from 'aws-cdk-lib/aws-sagemaker';
import { allResources, COMPLIANT, NON_COMPLIANT, NOT_APPLICABLE, ReadinessRule, resolve } from '../rule';

export const EndpointAutoscaling: ReadinessRule = {
  name: 'EndpointAutoscaling',
  category: 'compute',
  level: NagMessageLevel.ERROR,
  info: 'An inference endpoint has no autoscaling target.',
  explanation: 'Without Application Auto Scaling an endpoint neither follows load nor scales in: it is either too slow at peak or paid for idle.',
  check: (node) => {
    if (!(node instanceof CfnEndpoint)) return NOT_APPLICABLE;
    const name = resolve(node, node.endpointName);
    const targets = allResources(node).filter((r): r is CfnScalableTarget => r instanceof CfnScalableTarget && r.serviceNamespace === 'sagemaker');
    const ids = targets.map((t) => JSON.stringify(resolve(t, t.resourceId)));
    const inferenceComponents = allResources(node).filter((r: any) => r.cfnResourceType === 'AWS::SageMaker::InferenceComponent' && resolve(r, r.endpointName) === name).map((r: any) => resolve(r, r.inferenceComponentName));
    const covered = ids.some((id) => id.includes(`endpoint/${name}/`) || inferenceComponents.some((ic) => id.includes(`inference-component/${ic}`)));
    return covered ? COMPLIANT : NON_COMPLIANT;
  },
};
