import { NagMessageLevel } from 'cdk-nag';
import { CfnStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { COMPLIANT, NON_COMPLIANT, NOT_APPLICABLE, ReadinessRule, resolve } from '../rule';

/** The definition as JSON, with references replaced by placeholders. */
export function definitionOf(node: CfnStateMachine): any {
  const d = resolve(node, node.definitionString);
  if (typeof d === 'string') return JSON.parse(d);
  const parts: unknown[] = d?.['Fn::Join']?.[1] ?? [];
  return JSON.parse(parts.map((p) => (typeof p === 'string' ? p : 'REF')).join(''));
}

/** Every Task has a Retry and a Catch (directly, or through the Map/Parallel that contains it). */
export function tasksWithoutRetryOrCatch(states: Record<string, any>, caughtByParent = false): string[] {
  const bad: string[] = [];
  for (const [name, s] of Object.entries(states)) {
    if (s.Type === 'Task' && (!s.Retry?.length || (!s.Catch?.length && !caughtByParent))) bad.push(name);
    const inner = s.ItemProcessor?.States ?? s.Iterator?.States;
    if (inner) bad.push(...tasksWithoutRetryOrCatch(inner, !!s.Catch?.length));
    for (const b of s.Branches ?? []) bad.push(...tasksWithoutRetryOrCatch(b.States, !!s.Catch?.length));
  }
  return bad;
}

export const StateMachineRetryCatch: ReadinessRule = {
  name: 'StateMachineRetryCatch',
  category: 'data',
  level: NagMessageLevel.ERROR,
  info: 'A state machine Task has no Retry, or no Catch.',
  explanation: 'Without Retry a transient error fails a document; without Catch a permanent one ends the execution without recording why.',
  check: (node) => {
    if (!(node instanceof CfnStateMachine)) return NOT_APPLICABLE;
    const def = definitionOf(node);
    const states = def.States ?? {};
    // A Distributed Map's top level is the item reader; its tasks are checked with the map's tolerance.
    return tasksWithoutRetryOrCatch(states).length === 0 ? COMPLIANT : NON_COMPLIANT;
  },
};
