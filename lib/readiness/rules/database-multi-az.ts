import { NagMessageLevel } from 'cdk-nag';
import { CfnDBCluster, CfnDBInstance } from 'aws-cdk-lib/aws-rds';
import { Stack } from 'aws-cdk-lib';
import { COMPLIANT, NON_COMPLIANT, NOT_APPLICABLE, ReadinessRule, resolve } from '../rule';

/**
 * An RDS instance: Multi-AZ (a standby). An Aurora cluster: instances in at least two AZs (a reader in
 * another AZ is the failover target: https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/Concepts.AuroraHighAvailability.html);
 * the instances of a cluster are judged with their cluster. An instance without a pinned AZ counts as
 * its own AZ, unknown to the template, so two unpinned instances are not proof of two AZs.
 */
export const DatabaseMultiAz: ReadinessRule = {
  name: 'DatabaseMultiAz',
  category: 'data',
  level: NagMessageLevel.ERROR,
  info: 'The database runs in a single Availability Zone.',
  explanation: 'An AZ outage stops retrieval and storage until a restore finishes; production runs a standby (RDS) or a reader in a second AZ (Aurora).',
  check: (node) => {
    if (node instanceof CfnDBCluster) {
      const stack = Stack.of(node);
      const ref = JSON.stringify(stack.resolve(node.ref));
      const azs = stack.node.findAll()
        .filter((c): c is CfnDBInstance => c instanceof CfnDBInstance && JSON.stringify(resolve(c, c.dbClusterIdentifier)) === ref)
        .map((i) => resolve(i, i.availabilityZone));
      const pinned = new Set(azs.filter((a) => a !== undefined).map((a) => JSON.stringify(a)));
      return azs.every((a) => a !== undefined) && pinned.size >= 2 ? COMPLIANT : NON_COMPLIANT;
    }
    if (node instanceof CfnDBInstance) {
      if (resolve(node, node.dbClusterIdentifier) !== undefined) return NOT_APPLICABLE;
      return resolve(node, node.multiAz) === true ? COMPLIANT : NON_COMPLIANT;
    }
    return NOT_APPLICABLE;
  },
};
