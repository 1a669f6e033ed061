import { Duration } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { createDeadLetterQueue } from '../common';

/*
 * Where documents wait for a person: task tokens in a queue, reviewers subscribed to a topic.
 * `DocumentPipeline` creates them when none are passed; the app creates them in the stateful stack.
 */

/** `ReviewQueue` (KMS, TLS-only, 14 days, 15-minute visibility) and its `ReviewDeadLetter` (after 10 receives) under `scope`. */
export function createReviewQueue(scope: Construct, encryptionKey: kms.IKey): sqs.Queue {
  return new sqs.Queue(scope, 'ReviewQueue', {
    encryption: sqs.QueueEncryption.KMS,
    encryptionMasterKey: encryptionKey,
    enforceSSL: true,
    retentionPeriod: Duration.days(14),
    visibilityTimeout: Duration.minutes(15),
    deadLetterQueue: { queue: createDeadLetterQueue(scope, 'ReviewDeadLetter', { encryptionKey }), maxReceiveCount: 10 },
  });
}

/** `ReviewTopic` (KMS, TLS-only) under `scope`. */
export function createReviewTopic(scope: Construct, encryptionKey: kms.IKey): sns.Topic {
  return new sns.Topic(scope, 'ReviewTopic', { masterKey: encryptionKey, enforceSSL: true, displayName: 'Documents waiting for review' });
}
