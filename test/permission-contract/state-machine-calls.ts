import { AssemblyResource, ContractAssembly } from './assembly';
import { ContractCall, rolePrincipal } from './evaluate';

/**
 * The AWS calls a state machine's role makes, derived from its synthesized definition: every Task
 * integration, the Distributed Map's child executions and item reader, and the callback pattern.
 * What each integration needs is from "IAM policies for integrated services"
 * (https://docs.aws.amazon.com/step-functions/latest/dg/service-integration-iam-templates.html) and
 * "IAM policies for using Distributed Map states"
 * (https://docs.aws.amazon.com/step-functions/latest/dg/iam-policies-eg-dist-map.html).
 */
export function stateMachineCalls(assembly: ContractAssembly, machine: AssemblyResource): ContractCall[] {
  const definition = JSON.parse(String(assembly.resolve(machine.stack, machine.properties.DefinitionString)));
  const roleArn = String(assembly.resolve(machine.stack, machine.properties.RoleArn));
  const role = assembly.resources((r) => r.type === 'AWS::IAM::Role').find((r) => assembly.arn(r) === roleArn);
  if (!role) throw new Error(`State machine ${machine.path}: role ${roleArn} is not in the assembly`);
  const label = `state machine ${machine.path.replace(/\/Resource$/, '')} (${machine.stack})`;
  const principal = rolePrincipal(assembly, role, label);
  const selfArn = assembly.arn(machine);
  const selfName = assembly.attribute(machine, 'Name');
  const { account, region, partition } = assembly.env(machine.stack);
  const calls: ContractCall[] = [];
  const add = (origin: string, service: string, operation: string, action: string, resource: string, target?: AssemblyResource) =>
    calls.push({ principal, service, operation, action, resource, target, origin: `${label} state ${origin}` });

  const byArn = (type: string, value: string): AssemblyResource => {
    const hit = assembly.resources((r) => r.type === type).find((r) => [assembly.ref(r), assembly.arn(r)].includes(value) || (type === 'AWS::Lambda::Function' && value.startsWith(`${assembly.arn(r)}:`)));
    if (!hit) throw new Error(`${label}: ${value} is no ${type} of the assembly`);
    return hit;
  };

  const visit = (states: Record<string, any>) => {
    for (const [name, s] of Object.entries(states)) {
      if (s.Type === 'Task') {
        const res = String(s.Resource);
        const args = s.Parameters ?? s.Arguments ?? {};
        if (res === `arn:${partition}:states:::lambda:invoke` || res.startsWith(`arn:${partition}:lambda:`)) {
          const fnArn = String(args.FunctionName ?? res);
          const fn = byArn('AWS::Lambda::Function', fnArn);
          add(name, 'lambda', 'Invoke', 'lambda:InvokeFunction', fnArn, fn);
        } else if (res.startsWith(`arn:${partition}:states:::sqs:sendMessage`)) {
          const q = byArn('AWS::SQS::Queue', String(args.QueueUrl));
          add(name, 'sqs', 'SendMessage', 'sqs:SendMessage', assembly.arn(q), q);
        } else if (res.startsWith(`arn:${partition}:states:::sns:publish`)) {
          const t = byArn('AWS::SNS::Topic', String(args.TopicArn));
          add(name, 'sns', 'Publish', 'sns:Publish', assembly.arn(t), t);
        } else if (res.startsWith(`arn:${partition}:states:::states:startExecution`)) {
          const child = byArn('AWS::StepFunctions::StateMachine', String(args.StateMachineArn));
          add(name, 'states', 'StartExecution', 'states:StartExecution', assembly.arn(child), child);
          if (res.includes('.sync')) {
            // Waiting for the child: describe/stop its executions, and the managed EventBridge rule.
            const childName = assembly.attribute(child, 'Name');
            const exec = `arn:${partition}:states:${region}:${account}:execution:${childName}:${'x'.repeat(8)}`;
            add(name, 'states', 'DescribeExecution', 'states:DescribeExecution', exec, child);
            add(name, 'states', 'StopExecution', 'states:StopExecution', exec, child);
            const rule = `arn:${partition}:events:${region}:${account}:rule/StepFunctionsGetEventsForStepFunctionsExecutionRule`;
            for (const a of ['events:PutTargets', 'events:PutRule', 'events:DescribeRule']) add(name, 'events', a.split(':')[1], a, rule);
          }
        } else {
          throw new Error(`${label}: state ${name} uses ${res}, which test/permission-contract/state-machine-calls.ts does not know yet`);
        }
      }
      if (s.Type === 'Map') {
        const processor = s.ItemProcessor ?? s.Iterator;
        if (processor?.ProcessorConfig?.Mode === 'DISTRIBUTED') {
          // Child workflow executions of this state machine, and the item reader.
          add(name, 'states', 'StartExecution', 'states:StartExecution', selfArn, machine);
          const exec = `arn:${partition}:states:${region}:${account}:execution:${selfName}/${name}:${'y'.repeat(8)}`;
          add(name, 'states', 'DescribeExecution', 'states:DescribeExecution', exec, machine);
          add(name, 'states', 'StopExecution', 'states:StopExecution', exec, machine);
          const reader = s.ItemReader;
          if (reader) {
            if (reader.Resource !== `arn:${partition}:states:::s3:listObjectsV2`) throw new Error(`${label}: item reader ${reader.Resource} is not known to the contract`);
            const bucket = assembly.resources((r) => r.type === 'AWS::S3::Bucket').find((b) => assembly.ref(b) === reader.Parameters.Bucket);
            if (!bucket) throw new Error(`${label}: item reader bucket ${reader.Parameters.Bucket} is not in the assembly`);
            add(`${name} (ItemReader)`, 's3', 'ListObjectsV2', 's3:ListBucket', assembly.arn(bucket), bucket);
          }
        }
        visit(processor.States);
      }
      if (s.Type === 'Parallel') for (const b of s.Branches) visit(b.States);
    }
  };
  visit(definition.States);
  return calls;
}
