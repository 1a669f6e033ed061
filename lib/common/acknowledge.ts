import { Validations } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';

/**
 * Acknowledges rule-pack findings on one construct, with one reason for all of them. Ids are
 * `<plugin>::<rule>` as printed after each finding ("Acknowledge with '...'"). With
 * `writeSuppressionsToCloudFormation` the ids and the reason also land in the template Metadata,
 * where the security review report reads them.
 */
export function acknowledge(scope: IConstruct, ids: string[], reason: string): void {
  for (const id of ids) Validations.of(scope).acknowledge({ id, reason });
}
