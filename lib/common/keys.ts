import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';

export interface DataKeyProps {
  readonly description: string;
  /** @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * A customer-managed KMS key as every data store of this project uses it: rotation on, and a key
 * policy that lets only AWS services (RDS, SQS, Lambda, ...) create grants on it, so a principal
 * with `kms:CreateGrant` cannot hand the key to itself or to a non-AWS resource
 * (Control Tower CT.KMS.PR.3).
 */
export function createDataKey(scope: Construct, id: string, props: DataKeyProps): kms.Key {
  const key = new DataKey(scope, id, {
    description: props.description,
    enableKeyRotation: true,
    removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
  });
  key.addToResourcePolicy(
    new iam.PolicyStatement({
      sid: 'DenyGrantsExceptForAwsServices',
      effect: iam.Effect.DENY,
      principals: [new iam.AnyPrincipal()],
      actions: ['kms:CreateGrant'],
      resources: ['*'],
      conditions: { BoolIfExists: { 'kms:GrantIsForAWSResource': 'false', 'aws:PrincipalIsAWSService': 'false' } },
    }),
  );
  return key;
}

/**
 * A key whose policy never names the log-delivery service without a source: CDK's StateMachine adds
 * `delivery.logs.amazonaws.com` kms:Decrypt* with no condition when its logs and state share a
 * customer key, which lets the service decrypt for another account's delivery. AWS documents
 * `aws:SourceAccount` and `aws:SourceArn` (`arn:aws:logs:<region>:<account>:*`) for it:
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/AWS-logs-infrastructure-S3.html
 */
class DataKey extends kms.Key {
  public override addToResourcePolicy(statement: iam.PolicyStatement, allowNoOp?: boolean): iam.AddToResourcePolicyResult {
    const logDelivery = statement.principals.some((p) => p instanceof iam.ServicePrincipal && p.service === 'delivery.logs.amazonaws.com');
    if (statement.effect === iam.Effect.ALLOW && logDelivery && Object.keys(statement.conditions).length === 0) {
      const stack = Stack.of(this);
      statement.addCondition('StringEquals', { 'aws:SourceAccount': stack.account });
      statement.addCondition('ArnLike', { 'aws:SourceArn': `arn:${stack.partition}:logs:${stack.region}:${stack.account}:*` });
    }
    return super.addToResourcePolicy(statement, allowNoOp);
  }
}

/**
 * Lets CloudWatch Logs in this account and region encrypt log groups with the key (required for
 * `LogGroup.encryptionKey`; CDK does not add it).
 */
export function allowCloudWatchLogs(key: kms.IKey): void {
  const stack = Stack.of(key);
  key.addToResourcePolicy(
    new iam.PolicyStatement({
      sid: 'AllowCloudWatchLogs',
      principals: [new iam.ServicePrincipal(`logs.${stack.region}.amazonaws.com`)],
      actions: ['kms:Encrypt*', 'kms:Decrypt*', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:Describe*'],
      resources: ['*'],
      conditions: {
        ArnLike: { 'kms:EncryptionContext:aws:logs:arn': `arn:${stack.partition}:logs:${stack.region}:${stack.account}:log-group:*` },
      },
    }),
  );
}
