import { NagMessageLevel } from 'cdk-nag';
import { CfnInternetGateway, CfnSubnet } from 'aws-cdk-lib/aws-ec2';
import { CfnUrl } from 'aws-cdk-lib/aws-lambda';
import { CfnDBInstance } from 'aws-cdk-lib/aws-rds';
import { CfnBucket } from 'aws-cdk-lib/aws-s3';
import { COMPLIANT, NON_COMPLIANT, NOT_APPLICABLE, ReadinessRule, resolve } from '../rule';

export const NoPublicEndpoints: ReadinessRule = {
  name: 'NoPublicEndpoints',
  category: 'security-and-cost',
  level: NagMessageLevel.ERROR,
  info: 'A resource is reachable from the internet (public database, internet gateway, public subnet, open function URL, bucket without a full public-access block).',
  explanation: 'Nothing in this system serves the internet except the query API, which authenticates every caller behind a WAF (QueryApiProtected): documents arrive in S3 through IAM, everything else talks over private networking.',
  check: (node) => {
    if (node instanceof CfnDBInstance) return resolve(node, node.publiclyAccessible) === true ? NON_COMPLIANT : COMPLIANT;
    if (node instanceof CfnInternetGateway) return NON_COMPLIANT;
    if (node instanceof CfnSubnet) return resolve(node, node.mapPublicIpOnLaunch) === true ? NON_COMPLIANT : COMPLIANT;
    if (node instanceof CfnUrl) return resolve(node, node.authType) === 'NONE' ? NON_COMPLIANT : COMPLIANT;
    if (node instanceof CfnBucket) {
      const b = resolve(node, node.publicAccessBlockConfiguration) ?? {};
      return b.blockPublicAcls && b.blockPublicPolicy && b.ignorePublicAcls && b.restrictPublicBuckets ? COMPLIANT : NON_COMPLIANT;
    }
    return NOT_APPLICABLE;
  },
};
