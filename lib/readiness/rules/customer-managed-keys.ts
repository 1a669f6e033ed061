import { NagMessageLevel } from 'cdk-nag';
import { CfnLogGroup } from 'aws-cdk-lib/aws-logs';
import { CfnDBCluster, CfnDBInstance } from 'aws-cdk-lib/aws-rds';
import { CfnBucket } from 'aws-cdk-lib/aws-s3';
import { CfnTopic } from 'aws-cdk-lib/aws-sns';
import { CfnQueue } from 'aws-cdk-lib/aws-sqs';
import { CfnStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { allResources, COMPLIANT, NON_COMPLIANT, NOT_APPLICABLE, ReadinessRule, resolve } from '../rule';

const isCmk = (v: unknown) => v !== undefined && !/alias\/aws\//.test(JSON.stringify(v));

export const CustomerManagedKeys: ReadinessRule = {
  name: 'CustomerManagedKeys',
  category: 'security-and-cost',
  level: NagMessageLevel.ERROR,
  info: 'A data store is not encrypted with a customer-managed KMS key.',
  explanation: 'A customer key can be rotated, audited in CloudTrail, and revoked; AWS-owned keys cannot. (S3 server access log targets must use SSE-S3: AWS does not deliver access logs to SSE-KMS buckets.)',
  check: (node) => {
    if (node instanceof CfnBucket) {
      const sse = resolve(node, node.bucketEncryption)?.serverSideEncryptionConfiguration?.[0]?.serverSideEncryptionByDefault;
      const isLogTarget = allResources(node).some((b) => b instanceof CfnBucket && b !== node && JSON.stringify(resolve(b, b.loggingConfiguration) ?? {}).includes(JSON.stringify(resolve(node, node.ref))));
      if (isLogTarget) return sse ? COMPLIANT : NON_COMPLIANT;
      return sse?.sseAlgorithm === 'aws:kms' && isCmk(sse.kmsMasterKeyId) ? COMPLIANT : NON_COMPLIANT;
    }
    if (node instanceof CfnQueue) return isCmk(resolve(node, node.kmsMasterKeyId)) ? COMPLIANT : NON_COMPLIANT;
    if (node instanceof CfnTopic) return isCmk(resolve(node, node.kmsMasterKeyId)) ? COMPLIANT : NON_COMPLIANT;
    // An Aurora cluster's storage is encrypted at the cluster; its instances hold none of their own.
    if (node instanceof CfnDBCluster) return resolve(node, node.storageEncrypted) === true && resolve(node, node.kmsKeyId) ? COMPLIANT : NON_COMPLIANT;
    if (node instanceof CfnDBInstance) {
      if (resolve(node, node.dbClusterIdentifier) !== undefined) return NOT_APPLICABLE;
      return resolve(node, node.storageEncrypted) === true && resolve(node, node.kmsKeyId) ? COMPLIANT : NON_COMPLIANT;
    }
    if (node instanceof CfnLogGroup) return resolve(node, node.kmsKeyId) ? COMPLIANT : NON_COMPLIANT;
    if (node instanceof CfnStateMachine) return resolve(node, node.encryptionConfiguration)?.type === 'CUSTOMER_MANAGED_KMS_KEY' ? COMPLIANT : NON_COMPLIANT;
    return NOT_APPLICABLE;
  },
};
