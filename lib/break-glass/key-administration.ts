import { Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';

/**
 * What a key administrator may do: the administration half of the KMS default key policy for key
 * administrators (https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html#key-policy-default-allow-administrators),
 * spelled out, without kms:CreateGrant (a grant is a way to use the key).
 */
export const KEY_ADMIN_ACTIONS = [
  'kms:DescribeKey', 'kms:GetKeyPolicy', 'kms:GetKeyRotationStatus', 'kms:ListKeyPolicies', 'kms:ListResourceTags', 'kms:ListGrants', 'kms:ListKeyRotations',
  'kms:PutKeyPolicy', 'kms:EnableKey', 'kms:DisableKey', 'kms:EnableKeyRotation', 'kms:DisableKeyRotation', 'kms:RotateKeyOnDemand',
  'kms:UpdateKeyDescription', 'kms:TagResource', 'kms:UntagResource', 'kms:RevokeGrant', 'kms:ScheduleKeyDeletion', 'kms:CancelKeyDeletion',
];
/** The cryptographic operations a key administrator is denied on the keys it administers. */
export const KEY_USE_ACTIONS = ['kms:Decrypt', 'kms:Encrypt', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:CreateGrant'];

export interface KeyAdministrationProps {
  /** Name of the key administrator role (named, so the key policies can name it without depending on it). */
  readonly roleName: string;
  /** Keys it administers. Keys this app did not create (adopted, imported) keep their own policies. */
  readonly keys: kms.IKey[];
}

/**
 * Key administration separated from key use: a role that may administer the data keys (rotation,
 * tags, description, enable/disable, deletion schedule, policy) and that each key's policy denies
 * every cryptographic use, so rotating or tagging a key never needs a principal that can read the
 * data. Use stays with the functions' roles, whose policies grant no administration.
 *
 * What AWS does not allow to separate: the key policy keeps the account root's kms:* statement that
 * lets IAM policies work, because without it a key whose other principals are gone cannot be
 * managed again except through AWS Support
 * (https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html#key-policy-default-allow-root-enable-iam).
 * That is the break-glass path: an IAM principal with kms:PutKeyPolicy can rewrite any policy, and
 * BreakGlassAlarms alarms on every PutKeyPolicy.
 */
export class KeyAdministration extends Construct {
  public readonly role: iam.Role;

  constructor(scope: Construct, id: string, props: KeyAdministrationProps) {
    super(scope, id);
    const stack = Stack.of(this);
    this.role = new iam.Role(this, 'Role', {
      roleName: props.roleName,
      assumedBy: new iam.AccountPrincipal(stack.account),
      description: 'Administers the stage data keys (rotation, tags, deletion schedule, policy); denied every cryptographic use by the key policies',
    });
    this.role.addToPolicy(new iam.PolicyStatement({ actions: KEY_ADMIN_ACTIONS, resources: props.keys.map((k) => k.keyArn) }));
    const roleArn = `arn:${stack.partition}:iam::${stack.account}:role/${props.roleName}`;
    for (const key of props.keys) {
      key.addToResourcePolicy(new iam.PolicyStatement({
        sid: 'KeyAdministratorsDoNotUseTheKey',
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: KEY_USE_ACTIONS,
        resources: ['*'],
        conditions: { ArnEquals: { 'aws:PrincipalArn': roleArn } },
      }));
    }
  }
}
