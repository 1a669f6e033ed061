import { synthStage } from '../helpers';

/** query.apiGatewayAccountRole: the stage may own API Gateway's account-level logging role (one per account and region). */
describe('API Gateway account logging role', () => {
  const accounts = (overrides: Record<string, unknown>) => {
    const { templates } = synthStage('pilot', overrides);
    return Object.values(templates).flatMap((t) => Object.entries(t.findResources('AWS::ApiGateway::Account')).map(([id, r]) => ({ id, r, t })));
  };

  test('by default the stage sets none (the preflight checks the account has one)', () => {
    expect(accounts({})).toEqual([]);
  });

  test('opted in: one AWS::ApiGateway::Account, retained, with a role API Gateway assumes holding AmazonAPIGatewayPushToCloudWatchLogs, set before the stage that logs', () => {
    const found = accounts({ apiGatewayAccountRole: 'true' });
    expect(found).toHaveLength(1);
    const [{ id, r, t }] = found;
    expect(r.DeletionPolicy).toBe('Retain');
    const roleId = r.Properties.CloudWatchRoleArn['Fn::GetAtt'][0];
    const role = t.toJSON().Resources[roleId];
    expect(role.DeletionPolicy).toBe('Retain');
    expect(role.Properties.AssumeRolePolicyDocument.Statement).toEqual([expect.objectContaining({ Action: 'sts:AssumeRole', Principal: { Service: 'apigateway.amazonaws.com' } })]);
    expect(JSON.stringify(role.Properties.ManagedPolicyArns)).toContain(':iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs');
    const stages = Object.values(t.findResources('AWS::ApiGateway::Stage')) as any[];
    expect(stages.length).toBeGreaterThan(0);
    for (const s of stages) {
      expect(s.Properties.AccessLogSetting).toBeDefined();
      expect([s.DependsOn].flat()).toContain(id);
    }
  });
});
