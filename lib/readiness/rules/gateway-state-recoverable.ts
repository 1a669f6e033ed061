import { NagMessageLevel } from 'cdk-nag';
import { CfnTable } from 'aws-cdk-lib/aws-dynamodb';
import { COMPLIANT, NON_COMPLIANT, NOT_APPLICABLE, ReadinessRule, resolve } from '../rule';

/** The model gateway's table (budgets, cache): point-in-time recovery on, a customer managed key. */
export const GatewayStateRecoverable: ReadinessRule = {
  name: 'GatewayStateRecoverable',
  category: 'data',
  level: NagMessageLevel.ERROR,
  info: 'A DynamoDB table without point-in-time recovery or without a customer managed KMS key.',
  explanation: 'Budget counters decide whether a request is answered: a table written by mistake is restored to the minute before, and its key can be revoked.',
  check: (node) => {
    if (!(node instanceof CfnTable)) return NOT_APPLICABLE;
    const pitr = resolve(node, node.pointInTimeRecoverySpecification)?.pointInTimeRecoveryEnabled === true;
    const sse = resolve(node, node.sseSpecification) ?? {};
    return pitr && sse.sseEnabled === true && sse.kmsMasterKeyId !== undefined ? COMPLIANT : NON_COMPLIANT;
  },
};
