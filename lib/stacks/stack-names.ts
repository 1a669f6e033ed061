import { StageConfig } from '../config';

/** The parts of a stage, one stack each. `data` is the only stateful one. */
export const STACK_PARTS = ['data', 'inference', 'app', 'monitoring', 'cost'] as const;
export type StackPart = (typeof STACK_PARTS)[number];

/** `<project>-<stage>-<part>`: the CloudFormation stack name and the construct id. */
export function stackName(config: StageConfig, part: StackPart): string {
  return `${config.projectName}-${config.stage}-${part}`;
}
