import { NagMessageLevel } from 'cdk-nag';
import { CfnBucket } from 'aws-cdk-lib/aws-s3';
import { COMPLIANT, NON_COMPLIANT, NOT_APPLICABLE, ReadinessRule, resolve } from '../rule';

export const IntakeVersioningLifecycle: ReadinessRule = {
  name: 'IntakeVersioningLifecycle',
  category: 'data',
  level: NagMessageLevel.ERROR,
  info: 'An intake bucket (one that sends events to a queue) is not versioned or has no lifecycle rules.',
  explanation: 'Versioning makes overwrites and deletes recoverable and gives each event a version to process; lifecycle rules keep old versions from growing cost forever.',
  check: (node) => {
    if (!(node instanceof CfnBucket)) return NOT_APPLICABLE;
    const notifications = resolve(node, node.notificationConfiguration);
    if (!notifications?.queueConfigurations?.length) return NOT_APPLICABLE;
    const versioned = resolve(node, node.versioningConfiguration)?.status === 'Enabled';
    const rules = resolve(node, node.lifecycleConfiguration)?.rules ?? [];
    return versioned && rules.length > 0 ? COMPLIANT : NON_COMPLIANT;
  },
};
