import { Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { IConstruct } from 'constructs';
import { flattenCfnReference } from 'cdk-nag/lib/utils/flatten-cfn-reference';
import { acknowledge } from './acknowledge';

/** Object-level S3 actions by intent, spelled out (no `s3:GetObject*`-style wildcards). */
export const S3_OBJECT_ACTIONS = {
  read: ['s3:GetObject', 's3:GetObjectVersion'],
  readTags: ['s3:GetObjectTagging', 's3:GetObjectVersionTagging'],
  write: ['s3:PutObject'],
} as const;

export interface ObjectGrant {
  /** A bucket name known at synth time up to pseudo parameters (no cross-stack reference), so the ARN reads well in a review. */
  readonly bucketName: string;
  /** Key pattern inside the bucket, e.g. `runs/*`. */
  readonly keyPattern: string;
  readonly actions: readonly string[];
  /** Why the key pattern must be a wildcard; written next to the IAM5 acknowledgement. */
  readonly why: string;
}

/**
 * Grants exactly `actions` on `bucket/keyPattern` and acknowledges the one IAM5 finding the key
 * wildcard raises (object keys are not known before run time), on the grantee's own role only.
 */
export function grantObjects(grantee: iam.IGrantable & { role?: iam.IRole }, g: ObjectGrant): void {
  const stack = Stack.of(grantee as unknown as iam.Role);
  const arn = `arn:${stack.partition}:s3:::${g.bucketName}/${g.keyPattern}`;
  grantee.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement({ actions: [...g.actions], resources: [arn] }));
  const role = grantee.role ?? (grantee.grantPrincipal as iam.IRole);
  acknowledge(role, [`AwsSolutions::AwsSolutions-IAM5[Resource::${flattenCfnReference(stack.resolve(arn))}]`],
    `Object-level access (${g.actions.join(', ')}) to keys matching ${g.keyPattern}: ${g.why} No bucket-level or other actions are granted.`);
}

/** Exact KMS actions on one key (CDK's key grants add `kms:GenerateDataKey*` / `kms:ReEncrypt*`). */
export function grantKey(grantee: iam.IGrantable, key: kms.IKey, actions: Array<'kms:Decrypt' | 'kms:GenerateDataKey' | 'kms:Encrypt'>): void {
  grantee.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement({ actions, resources: [key.keyArn] }));
}

/**
 * Grants what a caller of an encrypted state machine needs besides the Step Functions action: a data
 * key from the state machine's customer managed key, only in the encryption context of that state
 * machine (`kms:EncryptionContext:aws:states:stateMachineArn`). Without it StartExecution,
 * SendTaskSuccess and SendTaskFailure are denied on a CMK-encrypted state machine
 * (https://docs.aws.amazon.com/step-functions/latest/dg/encryption-at-rest.html).
 */
export function grantStateMachineDataKey(grantee: iam.IGrantable, key: kms.IKey, stateMachineArn: string, opts: { readExecutions?: boolean } = {}): void {
  grantee.grantPrincipal.addToPrincipalPolicy(stateMachineDataKeyStatement(key, stateMachineArn, opts));
}

/** The statement of grantStateMachineDataKey; `readExecutions` adds kms:Decrypt (DescribeExecution of encrypted executions). */
export function stateMachineDataKeyStatement(key: kms.IKey, stateMachineArn: string, opts: { readExecutions?: boolean } = {}): iam.PolicyStatement {
  return new iam.PolicyStatement({
    actions: ['kms:GenerateDataKey', ...(opts.readExecutions ? ['kms:Decrypt'] : [])],
    resources: [key.keyArn],
    conditions: { StringEquals: { 'kms:EncryptionContext:aws:states:stateMachineArn': stateMachineArn } },
  });
}

/**
 * sagemaker:InvokeEndpoint on one endpoint and, when it hosts inference components, on the component
 * the call names (both ARNs are authorized for such a call). Used by every caller of an endpoint
 * (the pipeline's Embed step, the query function, the model gateway's LMI provider).
 */
export function invokeEndpointStatement(scope: IConstruct, endpoint: { readonly endpointName: string; readonly inferenceComponentName?: string }): iam.PolicyStatement {
  const stack = Stack.of(scope);
  return new iam.PolicyStatement({
    actions: ['sagemaker:InvokeEndpoint'],
    resources: [
      stack.formatArn({ service: 'sagemaker', resource: 'endpoint', resourceName: endpoint.endpointName.toLowerCase() }),
      ...(endpoint.inferenceComponentName ? [stack.formatArn({ service: 'sagemaker', resource: 'inference-component', resourceName: endpoint.inferenceComponentName.toLowerCase() })] : []),
    ],
  });
}
