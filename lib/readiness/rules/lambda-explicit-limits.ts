import { NagMessageLevel } from 'cdk-nag';
import { CfnFunction } from 'aws-cdk-lib/aws-lambda';
import { COMPLIANT, NON_COMPLIANT, NOT_APPLICABLE, ReadinessRule, resolve } from '../rule';

export const LambdaExplicitLimits: ReadinessRule = {
  name: 'LambdaExplicitLimits',
  category: 'compute',
  level: NagMessageLevel.ERROR,
  info: 'A Lambda function leaves its timeout or memory at the default.',
  explanation: 'Defaults (3 s, 128 MB) are never what a document step needs: timeouts then look like random failures.',
  check: (node) => {
    if (!(node instanceof CfnFunction)) return NOT_APPLICABLE;
    return resolve(node, node.timeout) !== undefined && resolve(node, node.memorySize) !== undefined ? COMPLIANT : NON_COMPLIANT;
  },
};
