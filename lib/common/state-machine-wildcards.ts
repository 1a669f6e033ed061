import { Fn, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { flattenCfnReference } from 'cdk-nag/lib/utils/flatten-cfn-reference';
import { acknowledge } from './acknowledge';

/** The wildcards CDK's Step Functions integrations need, each with the reason it is needed. */
const KNOWN: Array<{ test: (resource: string, actions: string[]) => boolean; reason: string }> = [
  {
    test: (r, a) => r === '*' && a.every((x) => /^(xray|logs):/.test(x)),
    reason: 'X-Ray tracing and CloudWatch Logs vended delivery (logs:CreateLogDelivery, logs:DescribeLogGroups, ...) have no resource-level permissions.',
  },
  {
    test: (r, a) => /\.Arn>:\*$/.test(r) && a.every((x) => x === 'lambda:InvokeFunction'),
    reason: 'Invoking versions and aliases (<function ARN>:*) of a function this state machine already invokes by name; no other function.',
  },
  {
    test: (r, a) => /:execution:.*\*$/.test(r) && a.every((x) => /^states:(DescribeExecution|StopExecution|StartExecution|RedriveExecution)$/.test(x)),
    reason: 'Describing and stopping the executions this state machine starts (child workflow or Distributed Map runs); execution ids are generated at run time.',
  },
];

/**
 * Acknowledges AwsSolutions-IAM5 on a state machine's policies for exactly the wildcards its CDK
 * integrations generate, after checking each one against a known pattern. A wildcard that matches
 * none stays a finding.
 */
export function acknowledgeStateMachineWildcards(machine: sfn.StateMachine): void {
  const stack = Stack.of(machine);
  for (const policy of machine.node.findAll().filter((c): c is iam.Policy => c instanceof iam.Policy)) {
    const doc = stack.resolve(policy.document.toJSON()) as { Statement?: Array<{ Action: string | string[]; Resource: unknown }> } | undefined;
    for (const st of doc?.Statement ?? []) {
      const actions = [st.Action].flat();
      for (const action of actions.filter((a) => a.includes('*'))) {
        if (/^kms:GenerateDataKey\*$/.test(action)) {
          acknowledge(policy, [`AwsSolutions::AwsSolutions-IAM5[Action::${action}]`],
            'kms:GenerateDataKey* on the state machine\'s own customer key, granted by CDK for encrypted execution data (GenerateDataKey and ...WithoutPlaintext).');
        }
      }
      for (const resource of [st.Resource].flat()) {
        const flat = flattenCfnReference(resource);
        if (!flat.includes('*')) continue;
        const known = KNOWN.find((k) => k.test(flat, actions));
        if (known) acknowledge(policy, [`AwsSolutions::AwsSolutions-IAM5[Resource::${flat}]`], known.reason);
      }
    }
  }
}

/**
 * ARN pattern of a state machine's executions, `arn:...:execution:<state machine name><suffix>`, for a
 * state machine whose ARN is a token (its name is the 7th field). `:*`: its executions;
 * `/*:*`: the child workflow executions of its Distributed Map runs.
 */
export function executionsArn(scope: Construct, stateMachineArn: string, suffix: ':*' | '/*:*'): string {
  const stack = Stack.of(scope);
  return Fn.join('', ['arn:', stack.partition, ':states:', stack.region, ':', stack.account, ':execution:', Fn.select(6, Fn.split(':', stateMachineArn)), suffix]);
}
