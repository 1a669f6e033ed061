import { NagMessageLevel } from 'cdk-nag';
import { CfnEventSourceMapping, CfnFunction } from 'aws-cdk-lib/aws-lambda';
import { CfnQueue } from 'aws-cdk-lib/aws-sqs';
import { COMPLIANT, NON_COMPLIANT, NOT_APPLICABLE, ReadinessRule, referencedResource, resolve } from '../rule';

export const VisibilityTimeoutSixTimes: ReadinessRule = {
  name: 'VisibilityTimeoutSixTimes',
  category: 'data',
  level: NagMessageLevel.ERROR,
  info: "A queue's visibility timeout is under six times its consumer function's timeout.",
  explanation: 'AWS recommends 6x for SQS event sources: otherwise a slow batch becomes visible again and is processed twice while still running.',
  check: (node) => {
    if (!(node instanceof CfnEventSourceMapping)) return NOT_APPLICABLE;
    const queue = referencedResource(node, node.eventSourceArn);
    if (!(queue instanceof CfnQueue)) return NOT_APPLICABLE;
    const fn = referencedResource(node, node.functionName);
    if (!(fn instanceof CfnFunction)) return NON_COMPLIANT;
    const visibility = Number(resolve(queue, queue.visibilityTimeout) ?? 30);
    const timeout = Number(resolve(fn, fn.timeout) ?? 3);
    return visibility >= 6 * timeout ? COMPLIANT : NON_COMPLIANT;
  },
};
