/**
 * What AWS KMS permissions a caller needs on the customer managed key of the resource it calls, per
 * service and operation, as each service documents it. A call on a resource encrypted with a
 * customer managed key is allowed only when the caller's identity policies (and the key policy,
 * which must let the account's IAM policies decide) allow these actions on that key, in the
 * encryption context the service sends.
 *
 * One row per (service, operation). An operation missing from this table on an encrypted target is
 * an error of the contract, never a silent pass.
 */
export interface KmsRequirement {
  /** IAM service prefix of the call (`s3`, `states`, `sqs`, ...). */
  readonly service: string;
  readonly operation: string;
  /** KMS actions the caller needs; empty = the call needs no key permission (metadata only). */
  readonly kmsActions: readonly string[];
  /**
   * Encryption-context key the service sends with its KMS requests (`kms:EncryptionContext:<key>`),
   * its value being the resource ARN.
   */
  readonly encryptionContextKey?: string;
  /** The AWS documentation page that states the requirement. */
  readonly source: string;
}

const S3_KMS = 'https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html#aws-managed-customer-managed-keys';
const S3_BUCKET_KEY = 'https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucket-key.html#bucket-key-encryption-context';
const SFN_KMS = 'https://docs.aws.amazon.com/step-functions/latest/dg/encryption-at-rest.html';
const SQS_KMS = 'https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-key-management.html';
const SNS_KMS = 'https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html';
const SM_KMS = 'https://docs.aws.amazon.com/secretsmanager/latest/userguide/security-encryption.html';

export const KMS_REQUIREMENTS: readonly KmsRequirement[] = [
  // S3 with SSE-KMS. With an S3 Bucket Key the encryption context is the bucket ARN (S3_BUCKET_KEY).
  { service: 's3', operation: 'GetObject', kmsActions: ['kms:Decrypt'], encryptionContextKey: 'aws:s3:arn', source: S3_KMS },
  { service: 's3', operation: 'GetObjectVersion', kmsActions: ['kms:Decrypt'], encryptionContextKey: 'aws:s3:arn', source: S3_KMS },
  { service: 's3', operation: 'PutObject', kmsActions: ['kms:GenerateDataKey'], encryptionContextKey: 'aws:s3:arn', source: S3_KMS },
  // Metadata and tags are not encrypted with the object's data key.
  { service: 's3', operation: 'HeadObject', kmsActions: [], source: 'https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html' },
  { service: 's3', operation: 'GetObjectTagging', kmsActions: [], source: 'https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObjectTagging.html' },
  { service: 's3', operation: 'ListObjectsV2', kmsActions: [], source: 'https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html' },
  // Step Functions with a customer managed key: callers that put data into an execution need a data
  // key, callers that read execution data need Decrypt; context aws:states:stateMachineArn.
  { service: 'states', operation: 'StartExecution', kmsActions: ['kms:GenerateDataKey'], encryptionContextKey: 'aws:states:stateMachineArn', source: SFN_KMS },
  { service: 'states', operation: 'SendTaskSuccess', kmsActions: ['kms:GenerateDataKey'], encryptionContextKey: 'aws:states:stateMachineArn', source: SFN_KMS },
  { service: 'states', operation: 'SendTaskFailure', kmsActions: ['kms:GenerateDataKey'], encryptionContextKey: 'aws:states:stateMachineArn', source: 'https://docs.aws.amazon.com/step-functions/latest/apireference/API_SendTaskFailure.html' },
  { service: 'states', operation: 'SendTaskHeartbeat', kmsActions: [], source: SFN_KMS },
  { service: 'states', operation: 'DescribeExecution', kmsActions: ['kms:Decrypt'], encryptionContextKey: 'aws:states:stateMachineArn', source: SFN_KMS },
  { service: 'states', operation: 'StopExecution', kmsActions: [], source: SFN_KMS },
  // SQS with SSE-KMS: producers need GenerateDataKey and Decrypt, consumers Decrypt.
  { service: 'sqs', operation: 'SendMessage', kmsActions: ['kms:GenerateDataKey', 'kms:Decrypt'], encryptionContextKey: 'aws:sqs:arn', source: SQS_KMS },
  { service: 'sqs', operation: 'ReceiveMessage', kmsActions: ['kms:Decrypt'], encryptionContextKey: 'aws:sqs:arn', source: SQS_KMS },
  { service: 'sqs', operation: 'DeleteMessage', kmsActions: [], source: SQS_KMS },
  { service: 'sqs', operation: 'ChangeMessageVisibility', kmsActions: [], source: SQS_KMS },
  // SNS with SSE: publishers need GenerateDataKey* and Decrypt.
  { service: 'sns', operation: 'Publish', kmsActions: ['kms:GenerateDataKey', 'kms:Decrypt'], source: SNS_KMS },
  // Secrets Manager: reading a secret value decrypts with the secret's key (context SecretARN).
  { service: 'secretsmanager', operation: 'GetSecretValue', kmsActions: ['kms:Decrypt'], encryptionContextKey: 'SecretARN', source: SM_KMS },
  // DynamoDB with a customer managed key: DynamoDB decrypts the table key with the caller's permission
  // (kms:ViaService dynamodb) when the table is read or written.
  ...['GetItem', 'PutItem', 'UpdateItem'].map((operation) => ({ service: 'dynamodb', operation, kmsActions: ['kms:Decrypt'], source: 'https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/encryption.howitworks.html' })),
  // CloudWatch Logs encrypts with its own service principal's grant; callers need no key permission.
  { service: 'logs', operation: 'PutLogEvents', kmsActions: [], source: 'https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html' },
];

export function kmsRequirement(service: string, operation: string): KmsRequirement | undefined {
  return KMS_REQUIREMENTS.find((r) => r.service === service && r.operation === operation);
}

/** Service host for `kms:ViaService`, e.g. `s3.us-east-1.amazonaws.com`. */
export function viaService(service: string, region: string): string {
  return `${service}.${region}.amazonaws.com`;
}

export const S3_BUCKET_KEY_SOURCE = S3_BUCKET_KEY;
