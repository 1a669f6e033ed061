import * as fs from 'fs';
import { AssemblyResource, ContractAssembly } from './assembly';
import { ContractCall, rolePrincipal } from './evaluate';

/** One line written by lambda/tests/call_recorder.py. */
export interface RecordedCall {
  readonly source: string;
  readonly test: string | null;
  /** `module.function` of the deployed code that made the call. */
  readonly caller: string;
  /** botocore service name (`s3`, `stepfunctions`, `sagemaker-runtime`, ...). */
  readonly service: string;
  readonly operation: string;
  readonly params: Record<string, string | number | boolean>;
}

export function readRecordedCalls(file: string): RecordedCall[] {
  return fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));
}

/**
 * What a name used by the tests stands for in the synthesized app: the tests' moto bucket
 * `docai-intake` is the intake bucket, and so on. Each binding names the construct path, which must
 * exist in the assembly.
 */
export interface Binding {
  readonly testValue: string;
  readonly stack: string;
  readonly path: string;
  readonly type: string;
  /**
   * The resource is the one this function's environment variable names (by `EndpointName`), not a
   * fixed path: the stage config decides which endpoint the query API embeds questions with.
   */
  readonly namedBy?: { readonly handler: string; readonly variable: string };
}

/** The endpoint `namedBy`'s function is configured to call, as deployed. */
function namedResource(assembly: ContractAssembly, b: Binding): AssemblyResource {
  const fn = functionForCaller(assembly, b.namedBy!.handler);
  const name = assembly.resolve(fn.stack, fn.properties.Environment?.Variables?.[b.namedBy!.variable]);
  const hits = assembly.resources((r) => r.type === b.type && assembly.resolve(r.stack, r.properties.EndpointName) === name);
  if (hits.length !== 1) throw new Error(`${b.namedBy!.handler} names ${b.namedBy!.variable}=${String(name)}; expected one ${b.type} of that name, found ${hits.length}`);
  return hits[0];
}

/** The Lambda function (and its role) whose `Handler` runs the recorded caller. */
export function functionForCaller(assembly: ContractAssembly, caller: string): AssemblyResource {
  const fns = assembly.resources((r) => r.type === 'AWS::Lambda::Function' && typeof r.properties.Handler === 'string');
  const exact = fns.filter((f) => f.properties.Handler === caller);
  if (exact.length === 1) return exact[0];
  const module = caller.split('.')[0];
  const sameModule = fns.filter((f) => f.properties.Handler.split('.')[0] === module);
  if (exact.length === 0 && sameModule.length === 1) return sameModule[0];
  throw new Error(`Recorded call from ${caller}: ${exact.length || sameModule.length} deployed functions could run it (handlers: ${sameModule.map((f) => f.properties.Handler).join(', ') || 'none'})`);
}

interface Mapped {
  readonly service: string;
  readonly operation: string;
  readonly action: string;
  readonly resource: string;
  readonly target?: AssemblyResource;
}

/**
 * botocore operation -> IAM action and resource, per the Service Authorization Reference
 * (https://docs.aws.amazon.com/service-authorization/latest/reference/reference_policies_actions-resources-contextkeys.html).
 * An operation missing here fails the contract: add it when the code starts calling it.
 */
export function mapCall(assembly: ContractAssembly, call: RecordedCall, bindings: readonly Binding[]): Mapped {
  const bound = (value: unknown, type: string): AssemblyResource => {
    const b = bindings.find((x) => x.testValue === value && x.type === type);
    if (!b) throw new Error(`${call.caller} called ${call.service}:${call.operation} on ${String(value)}, which no binding maps to a ${type} of the app (test/permission-contract/bindings.ts)`);
    return b.namedBy ? namedResource(assembly, b) : assembly.byPath(b.stack, b.path, b.type);
  };
  const p = call.params;
  switch (`${call.service}:${call.operation}`) {
    case 's3:GetObject': case 's3:HeadObject': case 's3:GetObjectTagging': case 's3:PutObject': {
      const bucket = bound(p.Bucket, 'AWS::S3::Bucket');
      const versioned = p.VersionId !== undefined;
      const action = {
        GetObject: versioned ? 's3:GetObjectVersion' : 's3:GetObject',
        HeadObject: versioned ? 's3:GetObjectVersion' : 's3:GetObject', // HeadObject is authorized as GetObject
        GetObjectTagging: versioned ? 's3:GetObjectVersionTagging' : 's3:GetObjectTagging',
        PutObject: 's3:PutObject',
      }[call.operation]!;
      return { service: 's3', operation: call.operation === 'GetObject' && versioned ? 'GetObjectVersion' : call.operation, action, resource: `${assembly.arn(bucket)}/${p.Key}`, target: bucket };
    }
    case 's3:ListObjectsV2': {
      const bucket = bound(p.Bucket, 'AWS::S3::Bucket');
      return { service: 's3', operation: call.operation, action: 's3:ListBucket', resource: assembly.arn(bucket), target: bucket };
    }
    case 'stepfunctions:StartExecution': {
      const sm = bound(p.stateMachineArn, 'AWS::StepFunctions::StateMachine');
      return { service: 'states', operation: call.operation, action: 'states:StartExecution', resource: assembly.arn(sm), target: sm };
    }
    case 'stepfunctions:DescribeExecution': {
      // arn:...:execution:<state machine name>:<execution name>: authorized on the execution.
      const [, machineArn, name] = /^(.*):execution:([^:]+:[^:]+)$/.exec(String(p.executionArn))!;
      const [machineName, executionName] = name.split(':');
      const sm = bound(`${machineArn}:stateMachine:${machineName}`, 'AWS::StepFunctions::StateMachine');
      return { service: 'states', operation: call.operation, action: 'states:DescribeExecution', resource: `${assembly.arn(sm).replace(':stateMachine:', ':execution:')}:${executionName}`, target: sm };
    }
    case 'sagemaker-runtime:InvokeEndpoint': {
      const ep = bound(p.EndpointName, 'AWS::SageMaker::Endpoint');
      return { service: 'sagemaker', operation: call.operation, action: 'sagemaker:InvokeEndpoint', resource: assembly.ref(ep), target: ep };
    }
    case 'secretsmanager:GetSecretValue': {
      // A secret ARN ends in -<6 random characters>: bind by name.
      const name = String(p.SecretId).replace(/^arn:[^:]+:secretsmanager:[^:]*:[^:]*:secret:(.+)-[A-Za-z0-9]{6}$/, '$1');
      if (bindings.some((x) => x.testValue === name && x.type === 'AWS::RDS::DBCluster')) {
        // A cluster's RDS-managed master secret: no resource of the template, the cluster's MasterUserSecret attribute
        // (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/rds-secrets-manager.html); its key is MasterUserSecret.KmsKeyId.
        const cluster = bound(name, 'AWS::RDS::DBCluster');
        return { service: 'secretsmanager', operation: call.operation, action: 'secretsmanager:GetSecretValue', resource: assembly.attribute(cluster, 'MasterUserSecret.SecretArn'), target: cluster };
      }
      const secret = bound(name, 'AWS::SecretsManager::Secret');
      return { service: 'secretsmanager', operation: call.operation, action: 'secretsmanager:GetSecretValue', resource: assembly.ref(secret), target: secret };
    }
    case 'rds:GenerateDbAuthToken': {
      // The token is checked when connecting: rds-db:connect on dbuser:<DbClusterResourceId>/<user> for an
      // Aurora cluster (https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/UsingWithRDS.IAMDBAuth.IAMPolicy.html).
      const db = bound(p.DBHostname, 'AWS::RDS::DBCluster');
      const { account, region, partition } = assembly.env(db.stack);
      return { service: 'rds-db', operation: 'connect', action: 'rds-db:connect', resource: `arn:${partition}:rds-db:${region}:${account}:dbuser:${assembly.attribute(db, 'DBClusterResourceId')}/${p.DBUsername}` };
    }
    case 'rds-data:ExecuteStatement': {
      // Authorized on the cluster (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonrdsdataapi.html);
      // the Data API then reads the statement's secret with the caller's credentials, recorded as its own GetSecretValue
      // (lambda/tests/call_recorder.py). No key permission of the caller's on the cluster's storage.
      const cluster = bound(p.resourceArn, 'AWS::RDS::DBCluster');
      return { service: 'rds-data', operation: call.operation, action: 'rds-data:ExecuteStatement', resource: assembly.attribute(cluster, 'DBClusterArn') };
    }
    case 'dynamodb:GetItem': case 'dynamodb:PutItem': case 'dynamodb:UpdateItem': case 'dynamodb:TransactWriteItems': {
      // Each action inside TransactWriteItems is authorized as its own operation (an Update as
      // dynamodb:UpdateItem): https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis-iam.html
      const table = bound(p.TableName, 'AWS::DynamoDB::Table');
      const op = call.operation === 'TransactWriteItems' ? 'UpdateItem' : call.operation;
      return { service: 'dynamodb', operation: op, action: `dynamodb:${op}`, resource: assembly.arn(table), target: table };
    }
    case 'ssm:GetParameter': {
      // `name:version` selects a version; IAM authorizes the parameter's ARN.
      const name = String(p.Name).replace(/:\d+$/, '');
      const param = bound(name, 'AWS::SSM::Parameter');
      const { account, region, partition } = assembly.env(param.stack);
      return { service: 'ssm', operation: call.operation, action: 'ssm:GetParameter', resource: `arn:${partition}:ssm:${region}:${account}:parameter${assembly.ref(param)}`, target: param };
    }
    case 'bedrock-runtime:Converse': {
      // Converse is authorized as bedrock:InvokeModel on the foundation model (Bedrock API reference, Converse).
      // An inference profile id (us.amazon.nova-lite-v1:0) is authorized on the profile's ARN; the
      // routed call's foundation-model ARNs are checked by bedrockChainCalls (permission-contract.test.ts).
      const { account, region, partition } = assembly.env(functionForCaller(assembly, call.caller).stack);
      const profile = /^(us|eu|apac|jp|au|global)\./.test(String(p.modelId));
      return { service: 'bedrock', operation: call.operation, action: 'bedrock:InvokeModel', resource: profile ? `arn:${partition}:bedrock:${region}:${account}:inference-profile/${p.modelId}` : `arn:${partition}:bedrock:${region}::foundation-model/${p.modelId}` };
    }
    case 'bedrock-runtime:ApplyGuardrail': {
      const guardrail = bound(p.guardrailIdentifier, 'AWS::Bedrock::Guardrail');
      return { service: 'bedrock', operation: call.operation, action: 'bedrock:ApplyGuardrail', resource: assembly.attribute(guardrail, 'GuardrailArn'), target: guardrail };
    }
    case 'lambda:Invoke': {
      const fn = bound(p.FunctionName, 'AWS::Lambda::Function');
      return { service: 'lambda', operation: call.operation, action: 'lambda:InvokeFunction', resource: assembly.arn(fn), target: fn };
    }
    default:
      throw new Error(`${call.caller} calls ${call.service}:${call.operation}, which test/permission-contract/recorded-calls.ts cannot map to an IAM action yet: add it`);
  }
}

/** Recorded calls as contract calls, each made by the role of the function that runs the caller. */
export function contractCalls(assembly: ContractAssembly, calls: readonly RecordedCall[], bindings: readonly Binding[]): ContractCall[] {
  const seen = new Set<string>();
  const out: ContractCall[] = [];
  for (const c of calls) {
    const fn = functionForCaller(assembly, c.caller);
    const m = mapCall(assembly, c, bindings);
    const dedupe = JSON.stringify([fn.stack, fn.logicalId, m.action, m.resource, m.operation]);
    if (seen.has(dedupe)) continue;
    seen.add(dedupe);
    const roleId = fn.properties.Role?.['Fn::GetAtt']?.[0];
    if (!roleId) throw new Error(`${fn.stack}/${fn.logicalId} has no role of this stack`);
    const principal = rolePrincipal(assembly, assembly.byLogicalId(fn.stack, roleId), `function ${fn.path.replace(/\/Resource$/, '')} (${fn.stack}, handler ${fn.properties.Handler})`);
    out.push({ principal, ...m, origin: `${c.source} ${c.test ?? ''}`.trim() });
  }
  return out;
}
