import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import { IntakeBucket, IntakeBucketProps, IngestionQueue } from '../../lib';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { addRulePacks } from '../../lib/app';
import { newApp } from '../helpers';

const EXISTING = 'uploads-of-another-team';
const KEY_ARN = 'arn:aws:kms:eu-west-1:111111111111:key/11111111-2222-3333-4444-555555555555';

function withExisting(extra: IntakeBucketProps = {}, queue = true) {
  const stack = new Stack(newApp(), 'S', { env: { account: '111111111111', region: 'eu-west-1' } });
  const existingBucket = s3.Bucket.fromBucketName(stack, 'Existing', EXISTING);
  const encryptionKey = kms.Key.fromKeyArn(stack, 'ExistingKey', KEY_ARN);
  const q = queue ? new IngestionQueue(stack, 'Queue') : undefined;
  const intake = new IntakeBucket(stack, 'Intake', { existingBucket, encryptionKey, eventQueue: q?.queue, ...extra });
  return { stack, intake, queue: q };
}

describe('IntakeBucket with an existing bucket', () => {
  test('creates no bucket (neither intake nor access-log) and no key, and names the existing bucket', () => {
    const { stack, intake } = withExisting();
    const t = Template.fromStack(stack);
    t.resourceCountIs('AWS::S3::Bucket', 0);
    t.resourceCountIs('AWS::KMS::Key', 1); // the queue's own key only
    expect(intake.accessLogBucket).toBeUndefined();
    expect(intake.bucketName).toBe(EXISTING);
    expect(intake.encryptionKey.keyArn).toBe(KEY_ARN);
  });

  test('grantReadDocuments names the existing bucket and decrypts with its key', () => {
    const { stack, intake } = withExisting({}, false);
    const role = new iam.Role(stack, 'Reader', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    intake.grantReadDocuments(role);
    const statements = Object.values(Template.fromStack(stack).findResources('AWS::IAM::Policy')).flatMap((p: any) => p.Properties.PolicyDocument.Statement);
    const json = JSON.stringify(statements);
    expect(json).toContain(`:s3:::${EXISTING}/*`);
    expect(statements).toEqual(expect.arrayContaining([expect.objectContaining({ Action: 'kms:Decrypt', Resource: KEY_ARN })]));
  });

  test('notifies the queue through Custom::S3BucketNotifications (unmanaged: other notifications are kept), and the queue admits only this bucket', () => {
    const { stack, queue } = withExisting();
    const t = Template.fromStack(stack);
    t.resourceCountIs('Custom::S3BucketNotifications', 1);
    const [n] = Object.values(t.findResources('Custom::S3BucketNotifications')) as any[];
    expect(n.Properties.Managed).toBe(false);
    expect(n.Properties.BucketName).toBe(EXISTING);
    const events = n.Properties.NotificationConfiguration.QueueConfigurations.map((c: any) => {
      expect(c.QueueArn).toEqual(stack.resolve(queue!.queue.queueArn));
      return c.Events;
    }).flat().sort();
    expect(events).toEqual(['s3:ObjectCreated:*', 's3:ObjectRemoved:*', 's3:ObjectTagging:*']);
    t.hasResourceProperties('AWS::SQS::QueuePolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([Match.objectLike({
          Sid: 'AllowIntakeBucketNotifications', Principal: { Service: 's3.amazonaws.com' },
          Condition: { ArnLike: { 'aws:SourceArn': `arn:aws:s3:::${EXISTING}` }, StringEquals: { 'aws:SourceAccount': '111111111111' } },
        })]),
      },
    });
    // The queue's key admits S3 only for this bucket and account too (no unconditioned service grant).
    const keyStatements = Object.values(t.findResources('AWS::KMS::Key')).flatMap((k: any) => k.Properties.KeyPolicy.Statement);
    const s3Grants = keyStatements.filter((s: any) => s.Principal?.Service === 's3.amazonaws.com');
    expect(s3Grants).toHaveLength(1);
    expect(s3Grants[0].Condition.StringEquals['aws:SourceAccount']).toBe('111111111111');
  });

  test('needs the existing bucket\'s key', () => {
    const stack = new Stack(newApp(), 'S');
    expect(() => new IntakeBucket(stack, 'Intake', { existingBucket: s3.Bucket.fromBucketName(stack, 'E', EXISTING) })).toThrow(/existingBucket needs encryptionKey/);
  });

  test.each<[keyof IntakeBucketProps, IntakeBucketProps]>([
    ['infrequentAccessAfter', { infrequentAccessAfter: Duration.days(60) }],
    ['noncurrentTransitionAfter', { noncurrentTransitionAfter: Duration.days(30) }],
    ['noncurrentExpiration', { noncurrentExpiration: Duration.days(90) }],
    ['abortIncompleteMultipartUploadAfter', { abortIncompleteMultipartUploadAfter: Duration.days(7) }],
    ['accessLogExpiration', { accessLogExpiration: Duration.days(365) }],
    ['removalPolicy', { removalPolicy: RemovalPolicy.RETAIN }],
    ['autoDeleteObjects', { autoDeleteObjects: false }],
  ])('refuses %s, which only shapes a created bucket', (name, props) => {
    expect(() => withExisting(props)).toThrow(new RegExp(`IntakeBucket: ${name} only applies to a bucket created here`));
  });
});

describe('IntakeBucket with an existing bucket under every rule pack', () => {
  test('synthesizes with no unacknowledged finding', () => {
    const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'existing-intake-'));
    const app = newApp({}, outdir);
    addRulePacks(app);
    const stack = new Stack(app, 'S', { env: { account: '111111111111', region: 'eu-west-1' } });
    const queue = new IngestionQueue(stack, 'Queue', { alarmTopic: new sns.Topic(stack, 'Alarms', { masterKey: kms.Key.fromKeyArn(stack, 'TopicKey', KEY_ARN) }) });
    new IntakeBucket(stack, 'Intake', { existingBucket: s3.Bucket.fromBucketName(stack, 'Existing', EXISTING), encryptionKey: kms.Key.fromKeyArn(stack, 'ExistingKey', KEY_ARN), eventQueue: queue.queue });
    expect(() => app.synth()).not.toThrow();
  });
});
