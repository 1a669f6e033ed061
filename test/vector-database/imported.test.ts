import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { DATABASE_ROLES, VectorDatabase } from '../../lib';
import { newApp } from '../helpers';

const RESOURCE_ID = 'cluster-ABCDEFGHIJKLMNOPQRSTUVWXY0';

/** A Resource that is a Fn::Join, as one string: pseudo parameters as <AWS::X>, GetAtt as <Logical.Attr>. */
function flatArn(resource: any): string {
  const part = (p: any): string => {
    if (typeof p === 'string') return p;
    if (p.Ref) return `<${p.Ref}>`;
    if (p['Fn::GetAtt']) return `<${p['Fn::GetAtt'][1]}>`;
    if (p['Fn::Join']) return p['Fn::Join'][1].map(part).join(p['Fn::Join'][0]);
    throw new Error(`unexpected ${JSON.stringify(p)}`);
  };
  return part(resource);
}

function statementsOf(stack: Stack, roleLogicalIdPrefix: string): any[] {
  const policies = Object.values(Template.fromStack(stack).findResources('AWS::IAM::Policy')) as any[];
  return policies.filter((p) => JSON.stringify(p.Properties.Roles).includes(roleLogicalIdPrefix)).flatMap((p) => p.Properties.PolicyDocument.Statement);
}

function imported(stack: Stack, attrs: Partial<Parameters<typeof VectorDatabase.fromVectorDatabaseAttributes>[2]> = {}) {
  return VectorDatabase.fromVectorDatabaseAttributes(stack, 'Db', {
    hostname: 'docai-db.abcdefgh.eu-west-1.rds.amazonaws.com',
    port: 5433,
    databaseName: 'docai',
    clientSecurityGroup: ec2.SecurityGroup.fromSecurityGroupId(stack, 'ClientSg', 'sg-0123456789abcdef0'),
    clusterResourceId: RESOURCE_ID,
    ...attrs,
  });
}

describe('VectorDatabase.fromVectorDatabaseAttributes', () => {
  test('grantConnect on an imported database gives exactly rds-db:connect on dbuser:<DbClusterResourceId>/<user>, the ARN a deployed one grants', () => {
    const app = newApp();
    const consumer = new Stack(app, 'Consumer');
    const role = new iam.Role(consumer, 'Reader', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    const grant = imported(consumer).grantConnect(role, DATABASE_ROLES.writer);
    expect(grant.success).toBe(true);
    const statements = statementsOf(consumer, 'Reader');
    expect(statements).toHaveLength(1);
    expect(statements[0].Action).toBe('rds-db:connect');
    expect(statements[0].Effect).toBe('Allow');
    const arn = flatArn(statements[0].Resource);
    expect(arn).toBe(`arn:<AWS::Partition>:rds-db:<AWS::Region>:<AWS::AccountId>:dbuser:${RESOURCE_ID}/docai_writer`);

    // The same grant from a deployed VectorDatabase names the cluster's DbClusterResourceId in the same place.
    const producer = new Stack(newApp(), 'Producer');
    const vpc = new ec2.Vpc(producer, 'Vpc', { natGateways: 0, subnetConfiguration: [{ name: 'i', subnetType: ec2.SubnetType.PRIVATE_ISOLATED }] });
    const key = new kms.Key(producer, 'K');
    const placement = { vpc, vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED }, securityGroups: [], encryptionKey: key, logRetention: 365, deadLetterQueue: new sqs.Queue(producer, 'Q') };
    const deployed = new VectorDatabase(producer, 'Db', { vpc, migrationsPlacement: placement, embeddingDimension: 768 });
    const producerRole = new iam.Role(producer, 'Reader', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    deployed.grantConnect(producerRole, DATABASE_ROLES.writer);
    const deployedArn = flatArn(statementsOf(producer, 'Reader').find((s) => s.Action === 'rds-db:connect').Resource);
    expect(deployedArn).toBe('arn:<AWS::Partition>:rds-db:<AWS::Region>:<AWS::AccountId>:dbuser:<DBClusterResourceId>/docai_writer');
    expect(arn.replace(RESOURCE_ID, '<DBClusterResourceId>')).toBe(deployedArn);
  });

  test('a reader role gets its tier only', () => {
    const stack = new Stack(newApp(), 'Consumer');
    const role = new iam.Role(stack, 'Reader', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    imported(stack).grantConnect(role, DATABASE_ROLES.reader('public'));
    expect(statementsOf(stack, 'Reader').map((s) => flatArn(s.Resource))).toEqual([`arn:<AWS::Partition>:rds-db:<AWS::Region>:<AWS::AccountId>:dbuser:${RESOURCE_ID}/docai_reader_public`]);
  });

  test('connection environment and attributes are the given ones', () => {
    const stack = new Stack(newApp(), 'Consumer');
    const db = imported(stack);
    expect(db.connectionEnvironment('docai_writer')).toEqual({ DB_HOST: 'docai-db.abcdefgh.eu-west-1.rds.amazonaws.com', DB_PORT: '5433', DB_NAME: 'docai', DB_USER: 'docai_writer' });
    expect(db.clientSecurityGroup.securityGroupId).toBe('sg-0123456789abcdef0');
  });

  test('a cluster identifier (or an RDS instance\'s db- resource id) passed as the resource id is refused, naming the field and where to find the right value', () => {
    for (const wrong of ['docai-db', 'db-ABCDEFGHIJKL']) {
      expect(() => imported(new Stack(newApp(), 'Consumer'), { clusterResourceId: wrong }))
        .toThrow(new RegExp(`clusterResourceId must be the cluster's DbClusterResourceId \\(cluster-XXXX, see 'aws rds describe-db-clusters'\\), received '${wrong}'`));
    }
  });
});
