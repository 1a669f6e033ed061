import { Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct, IConstruct } from 'constructs';
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
  /** Where the ARN's partition comes from when the grantee is not a construct. @default - the grantee's stack */
  readonly scope?: IConstruct;
}

/** The construct behind a grantee (a function's role, a role), when there is one: acknowledgements go there. */
function principalConstruct(grantee: iam.IGrantable): IConstruct | undefined {
  const p = grantee.grantPrincipal as unknown;
  if (Construct.isConstruct(p)) return p;
  return Construct.isConstruct(grantee) ? grantee : undefined;
}

/**
 * Grants exactly `actions` on `bucket/keyPattern` and acknowledges the one IAM5 finding the key
 * wildcard raises (object keys are not known before run time), on the grantee's own role only.
 */
export function grantObjects(grantee: iam.IGrantable, g: ObjectGrant): iam.Grant {
  const owner = principalConstruct(grantee);
  const scope = owner ?? g.scope;
  if (!scope) throw new Error(`grantObjects: the grantee of ${g.actions.join(', ')} on ${g.bucketName}/${g.keyPattern} is not a construct; pass scope`);
  const stack = Stack.of(scope);
  const arn = `arn:${stack.partition}:s3:::${g.bucketName}/${g.keyPattern}`;
  const grant = iam.Grant.addToPrincipal({ grantee, actions: [...g.actions], resourceArns: [arn] });
  if (owner && grant.principalStatement) {
    acknowledge(owner, [`AwsSolutions::AwsSolutions-IAM5[Resource::${flattenCfnReference(stack.resolve(arn))}]`],
      `Object-level access (${g.actions.join(', ')}) to keys matching ${g.keyPattern}: ${g.why} No bucket-level or other actions are granted.`);
  }
  return grant;
}

/** Exact KMS actions on one key (CDK's key grants add `kms:GenerateDataKey*` / `kms:ReEncrypt*`). */
export function grantKey(grantee: iam.IGrantable, key: kms.IKey, actions: Array<'kms:Decrypt' | 'kms:GenerateDataKey' | 'kms:Encrypt'>): iam.Grant {
  return iam.Grant.addToPrincipal({ grantee, actions, resourceArns: [key.keyArn] });
}

/** Options of grantStateMachineDataKey. */
export interface StateMachineDataKeyOptions {
  /** Add kms:Decrypt: DescribeExecution of encrypted executions returns their input. @default false */
  readonly readExecutions?: boolean;
}

/**
 * Grants what a caller of an encrypted state machine needs besides the Step Functions action: a data
 * key from the state machine's customer managed key, only in the encryption context of that state
 * machine (`kms:EncryptionContext:aws:states:stateMachineArn`). Without it StartExecution,
 * SendTaskSuccess and SendTaskFailure are denied on a CMK-encrypted state machine
 * (https://docs.aws.amazon.com/step-functions/latest/dg/encryption-at-rest.html).
 */
export function grantStateMachineDataKey(grantee: iam.IGrantable, key: kms.IKey, stateMachineArn: string, opts: StateMachineDataKeyOptions = {}): iam.Grant {
  return iam.Grant.addToPrincipal({
    grantee,
    actions: stateMachineDataKeyActions(opts),
    resourceArns: [key.keyArn],
    conditions: stateMachineDataKeyConditions(stateMachineArn),
  });
}

/** The statement of grantStateMachineDataKey, for a policy built by hand. */
export function stateMachineDataKeyStatement(key: kms.IKey, stateMachineArn: string, opts: StateMachineDataKeyOptions = {}): iam.PolicyStatement {
  return new iam.PolicyStatement({ actions: stateMachineDataKeyActions(opts), resources: [key.keyArn], conditions: stateMachineDataKeyConditions(stateMachineArn) });
}

function stateMachineDataKeyActions(opts: StateMachineDataKeyOptions): string[] {
  return ['kms:GenerateDataKey', ...(opts.readExecutions ? ['kms:Decrypt'] : [])];
}

function stateMachineDataKeyConditions(stateMachineArn: string): Record<string, Record<string, string>> {
  return { StringEquals: { 'kms:EncryptionContext:aws:states:stateMachineArn': stateMachineArn } };
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
