import { synthStage } from '../helpers';

/** The proof behind the IAM5[Resource::*] acknowledgement on every function role. */
describe.each(['pilot', 'production'])('function permissions in the %s stage', (stage) => {
  test('the only statements with Resource "*" on function roles are X-Ray tracing (and the Cost Explorer tag activation)', () => {
    const { templates } = synthStage(stage);
    let functions = 0;
    for (const t of Object.values(templates)) {
      const json = t.toJSON();
      const functionRoles = new Set(
        Object.values(json.Resources as Record<string, any>)
          .filter((r) => r.Type === 'AWS::Lambda::Function' && r.Properties.Role?.['Fn::GetAtt'])
          .map((r) => r.Properties.Role['Fn::GetAtt'][0]),
      );
      functions += functionRoles.size;
      for (const r of Object.values(json.Resources as Record<string, any>)) {
        if (!['AWS::IAM::ManagedPolicy', 'AWS::IAM::Policy'].includes(r.Type)) continue;
        if (!(r.Properties.Roles ?? []).some((x: any) => functionRoles.has(x.Ref))) continue;
        for (const s of r.Properties.PolicyDocument.Statement) {
          if (![s.Resource].flat().includes('*')) continue;
          const actions = [s.Action].flat().sort();
          // X-Ray on every function; the one Cost Explorer call of the cost stack's custom resource. Neither has resource-level permissions.
          expect([['xray:PutTelemetryRecords', 'xray:PutTraceSegments'], ['ce:UpdateCostAllocationTagsStatus']]).toContainEqual(actions);
        }
      }
    }
    expect(functions).toBeGreaterThan(0);
  });
});
