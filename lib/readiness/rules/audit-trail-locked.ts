import { NagMessageLevel } from 'cdk-nag';
import { CfnBucket } from 'aws-cdk-lib/aws-s3';
import { COMPLIANT, NON_COMPLIANT, NOT_APPLICABLE, ReadinessRule, resolve } from '../rule';

/** Days of the default retention of a bucket's Object Lock rule (years count as 365 days). */
export function lockDays(node: CfnBucket): { mode?: string; days: number } {
  const r = resolve(node, node.objectLockConfiguration)?.rule?.defaultRetention ?? {};
  return { mode: r.mode, days: Number(r.days ?? 0) + 365 * Number(r.years ?? 0) };
}

/** An append-only store (a bucket with Object Lock) keeps every record a year, and nobody can shorten that. */
export const AuditTrailLocked: ReadinessRule = {
  name: 'AuditTrailLocked',
  category: 'data',
  level: NagMessageLevel.ERROR,
  info: 'A bucket with an Object Lock default retention (the audit trail) keeps records less than 365 days, or in GOVERNANCE mode, where a principal with s3:BypassGovernanceRetention can delete them early.',
  explanation: '"Who asked what, and what were they told" must stay answerable: production locks each audit record in COMPLIANCE mode for at least a year.',
  check: (node) => {
    // Buckets here enable Object Lock without a default retention (it cannot be turned on later);
    // a default retention is what makes a bucket an append-only store.
    if (!(node instanceof CfnBucket) || resolve(node, node.objectLockConfiguration)?.rule?.defaultRetention === undefined) return NOT_APPLICABLE;
    const { mode, days } = lockDays(node);
    return mode === 'COMPLIANCE' && days >= 365 ? COMPLIANT : NON_COMPLIANT;
  },
};
