import { StageConfig } from '../config';

/** The parts of a stage, one stack each. `data` is the only stateful one. */
export const STACK_PARTS = ['data', 'inference', 'app', 'monitoring', 'cost'] as const;
export type StackPart = (typeof STACK_PARTS)[number];

/**
 * `<project>-<environment>`: the prefix of every stack and account-unique resource name of a
 * deployment. The environment name defaults to the stage; a promoted pilot keeps its own.
 */
export function namePrefix(config: Pick<StageConfig, 'projectName' | 'stage' | 'environmentName'>): string {
  return `${config.projectName}-${config.environmentName ?? config.stage}`;
}

/** Dimensions of every DocAI custom metric of a deployment: two stages or projects in one account never share one. */
export function deploymentMetricDimensions(config: Pick<StageConfig, 'projectName' | 'stage' | 'environmentName'>): Record<string, string> {
  return { Project: config.projectName, Stage: config.environmentName ?? config.stage };
}

/** `<project>-<environment>-<part>`: the CloudFormation stack name and the construct id. */
export function stackName(config: StageConfig, part: StackPart): string {
  return `${namePrefix(config)}-${part}`;
}
