import { App, Duration, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { DocaiFunction, LambdaBundling } from '../../lib';

// No Docker daemon, whatever this machine has: the case a consumer without Docker meets.
process.env.DOCAI_ASSUME_NO_DOCKER = '1';

function pythonFunction(app: App): DocaiFunction {
  const stack = new Stack(app, 'Consumer');
  const vpc = new ec2.Vpc(stack, 'Vpc', { natGateways: 0, subnetConfiguration: [{ name: 'isolated', subnetType: ec2.SubnetType.PRIVATE_ISOLATED }] });
  return new DocaiFunction(stack, 'Fn', {
    folder: 'ingestion', index: 'ingestion_handler.py', description: 'test', timeout: Duration.seconds(10), memorySize: 256,
    encryptionKey: new kms.Key(stack, 'Key'), logRetention: logs.RetentionDays.ONE_WEEK, vpc, vpcSubnets: { subnets: vpc.isolatedSubnets },
    securityGroups: [new ec2.SecurityGroup(stack, 'Sg', { vpc })], deadLetterQueue: new sqs.Queue(stack, 'Dlq'), workflow: 'test',
  });
}

describe('Python Lambdas without Docker', () => {
  test('a consumer app that must bundle gets an error naming the switch, not Docker\'s exit status', () => {
    expect(() => pythonFunction(new App())).toThrow(/Consumer\/Fn is a Python Lambda bundled with Docker, and no Docker daemon answers.*new App\(LambdaBundling\.appProps\(\)\)/);
  });

  test('the switch skips bundling: the function synthesizes from its unbundled sources', () => {
    const props = LambdaBundling.appProps({ context: { keep: 'me' } });
    expect(props.postCliContext).toEqual({ 'aws:cdk:bundling-stacks': [] });
    expect(props.context).toEqual({ keep: 'me' });
    const fn = pythonFunction(new App(props));
    expect(Stack.of(fn).resolve(fn.runtime.name)).toBe('python3.13');
  });
});
