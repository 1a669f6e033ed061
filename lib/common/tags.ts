import { Tags } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';
import { Workload } from '../config';
import { TAG_KEYS } from '../contract';

/**
 * Marks everything under `scope` as belonging to one workload. Applied to a stack it is the default;
 * applied to a building block inside it, the nearer tag wins.
 */
export function tagWorkload(scope: IConstruct, workload: Workload): void {
  Tags.of(scope).add(TAG_KEYS.workload, workload);
}
