import { NagMessageLevel } from 'cdk-nag';
import { CfnMethod, CfnStage } from 'aws-cdk-lib/aws-apigateway';
import { CfnWebACLAssociation } from 'aws-cdk-lib/aws-wafv2';
import { allResources, COMPLIANT, NON_COMPLIANT, NOT_APPLICABLE, ReadinessRule, resolve } from '../rule';

/**
 * The one internet-facing part of the system: every method authorizes its caller and validates the
 * request, and every stage has a WAF web ACL, access logs and tracing.
 */
export const QueryApiProtected: ReadinessRule = {
  name: 'QueryApiProtected',
  category: 'security-and-cost',
  level: NagMessageLevel.ERROR,
  info: 'An API method without authorization or request validation, or an API stage without a WAF web ACL, access logs or X-Ray tracing.',
  explanation: 'The query API answers questions about the organisation\'s documents: each caller is authenticated (Cognito or IAM), each body is validated before any code runs, and the stage sits behind a web ACL with a rate limit.',
  check: (node) => {
    if (node instanceof CfnMethod) {
      if (resolve(node, node.httpMethod) === 'OPTIONS') return NOT_APPLICABLE;
      const authorized = ['COGNITO_USER_POOLS', 'AWS_IAM', 'CUSTOM'].includes(resolve(node, node.authorizationType));
      const validated = resolve(node, node.requestValidatorId) !== undefined;
      return authorized && validated ? COMPLIANT : NON_COMPLIANT;
    }
    if (node instanceof CfnStage) {
      // The association's ARN names the API and the stage, by value or by reference.
      const api = JSON.stringify(resolve(node, node.restApiId));
      const stage = [`/stages/${resolve(node, node.stageName)}`, JSON.stringify({ Ref: resolve(node, node.logicalId) })];
      const protectedByWaf = allResources(node).some((r) => {
        if (!(r instanceof CfnWebACLAssociation)) return false;
        const arn = JSON.stringify(resolve(r, r.resourceArn));
        return arn.includes(api) && stage.some((s) => arn.includes(s));
      });
      const logged = resolve(node, node.accessLogSetting)?.destinationArn !== undefined;
      return protectedByWaf && logged && resolve(node, node.tracingEnabled) === true ? COMPLIANT : NON_COMPLIANT;
    }
    return NOT_APPLICABLE;
  },
};
