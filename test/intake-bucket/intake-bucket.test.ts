import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { IntakeBucket, IngestionQueue } from '../../lib';
import { newApp, synthStage } from '../helpers';

const bucketsOf = (t: Template) => t.findResources('AWS::S3::Bucket');
const intakeOf = (t: Template) => Object.entries(bucketsOf(t)).find(([id]) => id.startsWith('IntakeBucket'))!;
const logBucketOf = (t: Template) => Object.entries(bucketsOf(t)).find(([id]) => id.startsWith('IntakeAccessLogs'))!;

describe('IntakeBucket in the pilot data stack', () => {
  const t = () => synthStage('pilot').templates['docai-pilot-data'];

  test('is versioned, KMS-encrypted with a rotating customer key and a bucket key, and blocks public access', () => {
    const [, bucket] = intakeOf(t());
    const p = bucket.Properties;
    expect(p.VersioningConfiguration).toEqual({ Status: 'Enabled' });
    expect(p.BucketEncryption.ServerSideEncryptionConfiguration[0]).toEqual({
      BucketKeyEnabled: true,
      ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: { 'Fn::GetAtt': [expect.stringMatching(/^IntakeKey/), 'Arn'] } },
    });
    expect(p.PublicAccessBlockConfiguration).toEqual({ BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true });
    expect(p.OwnershipControls).toEqual({ Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] });
    expect(p.ObjectLockEnabled).toBe(true);
    const keyId = p.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault.KMSMasterKeyID['Fn::GetAtt'][0];
    expect(t().toJSON().Resources[keyId].Properties.EnableKeyRotation).toBe(true);
  });

  test('denies any request without TLS, and TLS below 1.2', () => {
    const [id] = intakeOf(t());
    t().hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: id },
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Action: 's3:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } }, Principal: { AWS: '*' } }),
          Match.objectLike({ Effect: 'Deny', Action: 's3:*', Condition: { NumericLessThan: { 's3:TlsVersion': 1.2 } } }),
        ]),
      },
    });
  });

  test('logs server access to a separate, encrypted, TLS-only log bucket that expires logs', () => {
    const [, bucket] = intakeOf(t());
    const [logId, log] = logBucketOf(t());
    expect(bucket.Properties.LoggingConfiguration).toEqual({ DestinationBucketName: { Ref: logId }, LogFilePrefix: 'intake/' });
    expect(log.Properties.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault.SSEAlgorithm).toBe('AES256');
    expect(log.Properties.LifecycleConfiguration.Rules).toEqual(expect.arrayContaining([expect.objectContaining({ ExpirationInDays: 365, Status: 'Enabled' })]));
    t().hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: logId },
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
  });

  test('has the lifecycle rules: abort uploads, current to IA, noncurrent to Glacier IR then expired', () => {
    const rules = intakeOf(t())[1].Properties.LifecycleConfiguration.Rules;
    expect(rules).toEqual(expect.arrayContaining([
      expect.objectContaining({ AbortIncompleteMultipartUpload: { DaysAfterInitiation: 7 } }),
      expect.objectContaining({ Transitions: [{ StorageClass: 'STANDARD_IA', TransitionInDays: 30 }] }),
      expect.objectContaining({ NoncurrentVersionTransitions: [{ StorageClass: 'GLACIER_IR', TransitionInDays: 30 }], NoncurrentVersionExpiration: { NoncurrentDays: 90 } }),
    ]));
  });

  test('sends ObjectCreated, ObjectRemoved (delete markers included) and ObjectTagging to the ingestion queue, which allows only this bucket', () => {
    const [, bucket] = intakeOf(t());
    const queueRef = { Ref: Match.stringLikeRegexp("^IngestionQueue[0-9A-F]{8}$") };
    expect(bucket.Properties.NotificationConfiguration.QueueConfigurations).toEqual([
      { Event: 's3:ObjectCreated:*', Queue: { 'Fn::GetAtt': [expect.stringMatching(/^IngestionQueue[0-9A-F]{8}$/), 'Arn'] } },
      { Event: 's3:ObjectRemoved:*', Queue: { 'Fn::GetAtt': [expect.stringMatching(/^IngestionQueue[0-9A-F]{8}$/), 'Arn'] } },
      // a tag can carry the access tier: its changes must reach the pipeline (retag path)
      { Event: 's3:ObjectTagging:*', Queue: { 'Fn::GetAtt': [expect.stringMatching(/^IngestionQueue[0-9A-F]{8}$/), 'Arn'] } },
    ]);
    expect(bucket.DependsOn).toEqual(expect.arrayContaining([expect.stringMatching(/^IngestionQueuePolicy/)]));
    t().hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [queueRef],
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Principal: { Service: 's3.amazonaws.com' }, Action: Match.arrayWith(['sqs:SendMessage']), Condition: Match.objectLike({ ArnLike: { 'aws:SourceArn': Match.anyValue() } }) })]) },
    });
    // no CDK notification handler Lambda
    expect(Object.keys(t().findResources('Custom::S3BucketNotifications'))).toEqual([]);
  });

  test('pilot buckets are removable with auto-delete; production buckets are retained', () => {
    const [, pilot] = intakeOf(t());
    expect(pilot.DeletionPolicy).toBe('Delete');
    const autoDeleted = (tpl: Template) => Object.values(tpl.findResources('Custom::S3AutoDeleteObjects')).map((r: any) => r.Properties.BucketName.Ref).filter((id: string) => /^Intake/.test(id)).sort();
    expect(autoDeleted(t())).toEqual([expect.stringMatching(/^IntakeAccessLogs/), expect.stringMatching(/^IntakeBucket/)]);
    const prod = synthStage('production').templates['docai-production-data'];
    const [, prodBucket] = intakeOf(prod);
    expect(prodBucket.DeletionPolicy).toBe('Retain');
    expect(prodBucket.UpdateReplacePolicy).toBe('Retain');
    expect(autoDeleted(prod)).toEqual([]);
  });
});

describe('IntakeBucket props', () => {
  const stack = () => new Stack(newApp(), 'S');

  test('lifecycle days come from props', () => {
    const s = stack();
    new IntakeBucket(s, 'In', { infrequentAccessAfter: Duration.days(60), noncurrentTransitionAfter: Duration.days(10), noncurrentExpiration: Duration.days(20) });
    const rules = Object.values(Template.fromStack(s).findResources('AWS::S3::Bucket')).find((b: any) => b.Properties.VersioningConfiguration && b.Properties.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault.SSEAlgorithm === 'aws:kms')!.Properties.LifecycleConfiguration.Rules;
    expect(rules).toEqual(expect.arrayContaining([
      expect.objectContaining({ Transitions: [{ StorageClass: 'STANDARD_IA', TransitionInDays: 60 }] }),
      expect.objectContaining({ NoncurrentVersionExpiration: { NoncurrentDays: 20 } }),
    ]));
  });

  test('bad lifecycle and removal combinations fail with a message naming the prop', () => {
    expect(() => new IntakeBucket(stack(), 'In', { noncurrentTransitionAfter: Duration.days(30), noncurrentExpiration: Duration.days(30) })).toThrow(/noncurrentExpiration \(30 days\) must be longer than noncurrentTransitionAfter \(30 days\)/);
    expect(() => new IntakeBucket(stack(), 'In', { infrequentAccessAfter: Duration.days(7) })).toThrow(/infrequentAccessAfter must be at least 30 day\(s\), received 7/);
    expect(() => new IntakeBucket(stack(), 'In', { autoDeleteObjects: true, removalPolicy: RemovalPolicy.RETAIN })).toThrow(/autoDeleteObjects is true but removalPolicy is retain/);
  });

  test('the key policy lets S3 encrypt notifications into an encrypted queue', () => {
    const s = stack();
    const q = new IngestionQueue(s, 'Q');
    new IntakeBucket(s, 'In', { eventQueue: q.queue });
    Template.fromStack(s).hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: { Statement: Match.arrayWith([Match.objectLike({ Principal: { Service: 's3.amazonaws.com' }, Action: Match.arrayWith(['kms:Decrypt']) })]) },
    });
  });
});
