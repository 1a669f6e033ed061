import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Duration, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { DocumentPipeline, IngestionFunction, IngestionQueue } from '../../lib';
import { newApp } from '../helpers';
import { ContractAssembly, ContractCall, describeDenial, evaluateCall, rolePrincipal } from '../permission-contract';

/**
 * A consumer's app: the pipeline's state machine (CMK-encrypted) lives in another stack and reaches
 * the consumer only as attributes. Starting an execution then needs kms:GenerateDataKey on that key
 * (https://docs.aws.amazon.com/step-functions/latest/dg/encryption-at-rest.html), which the
 * permission contract checks with an IAM evaluator.
 */
function consumerApp() {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'imported-pipeline-'));
  const app = newApp({ 'aws:cdk:enable-path-metadata': true }, outdir);
  const producer = new Stack(app, 'Producer');
  const key = new kms.Key(producer, 'PipelineKey');
  const machine = new sfn.StateMachine(producer, 'Machine', {
    definitionBody: sfn.DefinitionBody.fromChainable(new sfn.Pass(producer, 'Nothing')),
    encryptionConfiguration: new sfn.CustomerManagedEncryptionConfiguration(key),
  });

  const consumer = new Stack(app, 'Consumer');
  const pipeline = DocumentPipeline.fromDocumentPipelineAttributes(consumer, 'Pipeline', {
    stateMachineArn: machine.stateMachineArn,
    encryptionKey: kms.Key.fromKeyArn(consumer, 'PipelineKey', key.keyArn),
  });
  const queueKey = kms.Key.fromKeyArn(consumer, 'QueueKey', 'arn:aws:kms:us-east-1:111122223333:key/11111111-2222-3333-4444-555555555555');
  const queue = IngestionQueue.fromIngestionQueueAttributes(consumer, 'Queue', {
    queueArn: 'arn:aws:sqs:us-east-1:111122223333:their-ingestion',
    deadLetterQueueArn: 'arn:aws:sqs:us-east-1:111122223333:their-ingestion-dlq',
    encryptionKey: queueKey,
    visibilityTimeout: Duration.minutes(3),
  });
  const vpc = new ec2.Vpc(consumer, 'Vpc', { natGateways: 0, subnetConfiguration: [{ name: 'i', subnetType: ec2.SubnetType.PRIVATE_ISOLATED }] });
  const placement = {
    vpc, vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED }, securityGroups: [],
    encryptionKey: new kms.Key(consumer, 'FunctionKey'), logRetention: 365, deadLetterQueue: new sqs.Queue(consumer, 'AsyncFailures'),
  };
  const ingestion = new IngestionFunction(consumer, 'Ingestion', { queue, pipeline, placement });
  // grantStartExecution alone, to a role of the consumer's.
  const starter = new iam.Role(consumer, 'Starter', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
  pipeline.grantStartExecution(starter);
  // What the README's snippet used to lead to: the state machine without its key.
  const bare = new iam.Role(consumer, 'Bare', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
  sfn.StateMachine.fromStateMachineArn(consumer, 'BareMachine', machine.stateMachineArn).grantStartExecution(bare);
  app.synth();
  return { ingestion, assembly: ContractAssembly.fromDirectory(outdir) };
}

describe('IngestionFunction with a pipeline from DocumentPipeline.fromDocumentPipelineAttributes', () => {
  const built = consumerApp();
  const { assembly } = built;
  const machine = assembly.resources((r) => r.type === 'AWS::StepFunctions::StateMachine')[0];
  const roleAt = (prefix: string) => assembly.resources((r) => r.type === 'AWS::IAM::Role' && r.path.startsWith(prefix))[0];
  const call = (rolePath: string, operation: string, resource: string): ContractCall => ({
    principal: rolePrincipal(assembly, roleAt(rolePath), rolePath), service: 'states', operation, action: `states:${operation}`, resource, target: machine, origin: 'imported-pipeline.test',
  });

  test('may start executions: states:StartExecution and kms:GenerateDataKey on the pipeline key in its encryption context', async () => {
    const denials = await evaluateCall(assembly, call('Ingestion/Function/ServiceRole', 'StartExecution', assembly.arn(machine)));
    expect(denials.map(describeDenial)).toEqual([]);
  });

  test('may describe the executions it started (kms:Decrypt of their input)', async () => {
    const execution = assembly.arn(machine).replace(':stateMachine:', ':execution:') + ':upsert-0123';
    const denials = await evaluateCall(assembly, call('Ingestion/Function/ServiceRole', 'DescribeExecution', execution));
    expect(denials.map(describeDenial)).toEqual([]);
  });

  test('grantStartExecution alone is enough to start an execution', async () => {
    const denials = await evaluateCall(assembly, call('Starter', 'StartExecution', assembly.arn(machine)));
    expect(denials.map(describeDenial)).toEqual([]);
  });

  test('the contract does catch a grant without the key: the bare state machine grant is denied GenerateDataKey', async () => {
    const denials = await evaluateCall(assembly, call('Bare', 'StartExecution', assembly.arn(machine)));
    expect(denials.map((d) => d.action)).toEqual(['kms:GenerateDataKey']);
  });

  test('the queue is consumed through its imported ARN and key', () => {
    const t = Stack.of(built.ingestion).resolve(built.ingestion.eventSource.eventSourceMappingArn);
    expect(t).toBeDefined();
    const esm = assembly.resources((r) => r.type === 'AWS::Lambda::EventSourceMapping')[0];
    expect(esm.properties.EventSourceArn).toBe('arn:aws:sqs:us-east-1:111122223333:their-ingestion');
  });
});

test('an imported queue whose visibility timeout is under 6x the function timeout is refused', () => {
  const stack = new Stack(newApp(), 'S');
  const queue = IngestionQueue.fromIngestionQueueAttributes(stack, 'Q', {
    queueArn: 'arn:aws:sqs:us-east-1:111122223333:q', deadLetterQueueArn: 'arn:aws:sqs:us-east-1:111122223333:dlq',
    encryptionKey: kms.Key.fromKeyArn(stack, 'K', 'arn:aws:kms:us-east-1:111122223333:key/11111111-2222-3333-4444-555555555555'), visibilityTimeout: Duration.seconds(60),
  });
  const pipeline = DocumentPipeline.fromDocumentPipelineAttributes(stack, 'P', {
    stateMachineArn: 'arn:aws:states:us-east-1:111122223333:stateMachine:their-pipeline', encryptionKey: kms.Key.fromKeyArn(stack, 'PK', 'arn:aws:kms:us-east-1:111122223333:key/66666666-2222-3333-4444-555555555555'),
  });
  const vpc = new ec2.Vpc(stack, 'Vpc', { natGateways: 0, subnetConfiguration: [{ name: 'i', subnetType: ec2.SubnetType.PRIVATE_ISOLATED }] });
  const placement = { vpc, vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED }, securityGroups: [], encryptionKey: new kms.Key(stack, 'FK'), logRetention: 365, deadLetterQueue: new sqs.Queue(stack, 'D') };
  expect(() => new IngestionFunction(stack, 'I', { queue, pipeline, placement, timeout: Duration.seconds(30) }))
    .toThrow(/the queue's visibility timeout \(60s\) is less than 6x the function timeout \(30s\)/);
});
