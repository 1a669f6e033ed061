import { ArnFormat, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { flattenCfnReference } from 'cdk-nag/lib/utils/flatten-cfn-reference';
import { acknowledge } from '../common';
import { ResolvedImage } from './images';

/** TEI settings both embedding paths use, so the GPU and the CPU endpoint batch and truncate alike. */
export const TEI_ENVIRONMENT: Readonly<Record<string, string>> = { MAX_CLIENT_BATCH_SIZE: '64', MAX_BATCH_TOKENS: '16384' };

/**
 * A SageMaker execution role that may pull this one image and write the endpoint's own logs and
 * metrics, and nothing else; callers add what their endpoint needs besides (model data, VPC). The
 * two acknowledgements name what is `*` and why; `wildcardReason` says it for this endpoint.
 */
export function endpointExecutionRole(scope: Construct, endpointName: string, image: ResolvedImage, reasons: { readonly wildcard: string; readonly logGroups: string }): iam.Role {
  const stack = Stack.of(scope);
  const role = new iam.Role(scope, 'Role', { assumedBy: new iam.ServicePrincipal('sagemaker.amazonaws.com'), description: `SageMaker execution role of ${endpointName}` });
  role.addToPolicy(new iam.PolicyStatement({ actions: ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchCheckLayerAvailability'], resources: [image.repositoryArn] }));
  role.addToPolicy(new iam.PolicyStatement({ actions: ['ecr:GetAuthorizationToken'], resources: ['*'] }));
  role.addToPolicy(new iam.PolicyStatement({ actions: ['cloudwatch:PutMetricData'], resources: ['*'], conditions: { StringLike: { 'cloudwatch:namespace': ['/aws/sagemaker/*', 'AWS/SageMaker'] } } }));
  const logGroups = stack.formatArn({ service: 'logs', resource: 'log-group', resourceName: `/aws/sagemaker/Endpoints/${endpointName}*`, arnFormat: ArnFormat.COLON_RESOURCE_NAME });
  role.addToPolicy(new iam.PolicyStatement({ actions: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents', 'logs:DescribeLogStreams'], resources: [logGroups] }));
  acknowledge(role, ['AwsSolutions::AwsSolutions-IAM5[Resource::*]'], reasons.wildcard);
  // Built from the resource's own tokens, so it matches in an environment-agnostic synth
  // (arn:<AWS::Partition>:logs:<AWS::Region>:...) and a pinned one (arn:aws:logs:eu-west-1:...) alike.
  acknowledge(role, [`AwsSolutions::AwsSolutions-IAM5[Resource::${flattenCfnReference(stack.resolve(logGroups))}]`], reasons.logGroups);
  return role;
}
