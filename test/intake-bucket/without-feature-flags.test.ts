import { App, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { IngestionQueue, IntakeBucket } from '../../lib';

describe('IntakeBucket in an app that sets no feature flags (a consumer\'s)', () => {
  test('synthesizes, and S3 delivers access logs under a bucket policy, with no ACL', () => {
    const app = new App(); // no cdk.json context: every feature flag at its default
    expect(app.node.tryGetContext('@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy')).toBeUndefined();
    const stack = new Stack(app, 'Consumer');
    const queue = new IngestionQueue(stack, 'Queue', { removalPolicy: RemovalPolicy.DESTROY });
    new IntakeBucket(stack, 'Intake', { eventQueue: queue.queue, removalPolicy: RemovalPolicy.DESTROY });
    const t = Template.fromStack(stack);
    const logs = Object.entries(t.findResources('AWS::S3::Bucket')).find(([id]) => id.startsWith('IntakeAccessLogs'))!;
    expect(logs[1].Properties.AccessControl).toBeUndefined();
    expect(logs[1].Properties.OwnershipControls).toEqual({ Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] });
    t.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: logs[0] },
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Allow', Principal: { Service: 'logging.s3.amazonaws.com' }, Action: 's3:PutObject' })]) },
    });
  });
});
