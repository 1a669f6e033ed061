import * as fs from 'fs';
import * as path from 'path';

/**
 * A synthesized cloud assembly read as AWS would see it after deploy: every intrinsic resolved to a
 * concrete value in one fake account and region, so policies, ARNs and names can be compared as
 * strings and fed to an IAM policy evaluator.
 *
 * Physical names follow the property that names the resource where the template sets one, otherwise
 * `<stack>-<logicalId>` (lower case), as CloudFormation generates them. Cross-stack references are
 * resolved through the producing stack's Outputs (`Fn::GetStackOutput`, CDK's weak references, and
 * `Fn::ImportValue`). No library on the npm registry resolves `Fn::GetStackOutput` across stacks
 * (cfn-resolver-lib needs a resolver per resource type and reads one template), so this is our own.
 */
export const CONTRACT_ACCOUNT = '111122223333';
export const CONTRACT_PARTITION = 'aws';

export interface AssemblyResource {
  readonly stack: string;
  readonly logicalId: string;
  readonly type: string;
  /** The raw (unresolved) properties. */
  readonly properties: any;
  /** `aws:cdk:path` without the stack prefix, e.g. `Pipeline/StateMachine/Resource`. */
  readonly path: string;
}

interface StackTemplate {
  readonly name: string;
  readonly region: string;
  readonly account: string;
  readonly template: any;
}

/** One manifest artifact's template, with the region it deploys to (us-east-1 when agnostic). */
export class ContractAssembly {
  public readonly stacks = new Map<string, StackTemplate>();

  static fromDirectory(dir: string, defaultRegion = 'us-east-1'): ContractAssembly {
    const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
    const a = new ContractAssembly();
    for (const [id, art] of Object.entries(manifest.artifacts as Record<string, any>)) {
      if (art.type !== 'aws:cloudformation:stack') continue;
      const env = String(art.environment ?? ''); // aws://account/region, with unknown-account / unknown-region
      const [, account, region] = /^aws:\/\/([^/]+)\/(.+)$/.exec(env) ?? [];
      const name = art.properties?.stackName ?? id;
      a.stacks.set(name, {
        name,
        account: account && !account.startsWith('unknown') ? account : CONTRACT_ACCOUNT,
        region: region && !region.startsWith('unknown') ? region : defaultRegion,
        template: JSON.parse(fs.readFileSync(path.join(dir, art.properties.templateFile), 'utf8')),
      });
    }
    if (a.stacks.size === 0) throw new Error(`No CloudFormation stacks in the cloud assembly at ${dir}`);
    return a;
  }

  resources(filter: (r: AssemblyResource) => boolean = () => true): AssemblyResource[] {
    const out: AssemblyResource[] = [];
    for (const s of this.stacks.values()) {
      for (const [logicalId, r] of Object.entries(s.template.Resources ?? {}) as Array<[string, any]>) {
        const cdkPath = String(r.Metadata?.['aws:cdk:path'] ?? '');
        const res: AssemblyResource = { stack: s.name, logicalId, type: r.Type, properties: r.Properties ?? {}, path: cdkPath.split('/').slice(1).join('/') };
        if (filter(res)) out.push(res);
      }
    }
    return out;
  }

  /** The one resource at a construct path (`Intake/Bucket` finds `.../Intake/Bucket/Resource`). */
  byPath(stackSuffix: string, constructPath: string, type?: string): AssemblyResource {
    const hits = this.resources((r) => r.stack.endsWith(stackSuffix) && (r.path === constructPath || r.path === `${constructPath}/Resource`) && (!type || r.type === type));
    if (hits.length !== 1) throw new Error(`Expected one resource at ${stackSuffix}:${constructPath}${type ? ` (${type})` : ''}, found ${hits.length}`);
    return hits[0];
  }

  byLogicalId(stack: string, logicalId: string): AssemblyResource {
    const r = this.stacks.get(stack)?.template.Resources?.[logicalId];
    if (!r) throw new Error(`No resource ${logicalId} in ${stack}`);
    return { stack, logicalId, type: r.Type, properties: r.Properties ?? {}, path: String(r.Metadata?.['aws:cdk:path'] ?? '').split('/').slice(1).join('/') };
  }

  env(stack: string): { account: string; region: string; partition: string } {
    const s = this.stacks.get(stack);
    if (!s) throw new Error(`Unknown stack ${stack}`);
    return { account: s.account, region: s.region, partition: CONTRACT_PARTITION };
  }

  /** Resolves a value of `stack`'s template to plain JSON. */
  resolve(stack: string, value: any): any {
    return new Resolver(this, stack).resolve(value);
  }

  /** The value `Ref` returns for a resource. */
  ref(r: AssemblyResource): string {
    return this.attribute(r, 'Ref');
  }

  arn(r: AssemblyResource): string {
    return this.attribute(r, 'Arn');
  }

  /** Ref and GetAtt values, per resource type, as CloudFormation documents them for each type. */
  attribute(r: AssemblyResource, attr: string): string {
    const { account, region, partition } = this.env(r.stack);
    const p = r.properties;
    const named = (prop: string) => (p[prop] !== undefined ? String(this.resolve(r.stack, p[prop])) : `${r.stack}-${r.logicalId}`.toLowerCase().slice(0, 63));
    const id = `${r.stack}-${r.logicalId}`.toLowerCase();
    const arn = (service: string, resource: string, regional = true, acct = true) => `arn:${partition}:${service}:${regional ? region : ''}:${acct ? account : ''}:${resource}`;
    switch (r.type) {
      case 'AWS::S3::Bucket': {
        const name = named('BucketName');
        return ({ Ref: name, Arn: `arn:${partition}:s3:::${name}`, DomainName: `${name}.s3.amazonaws.com`, RegionalDomainName: `${name}.s3.${region}.amazonaws.com` } as Record<string, string>)[attr] ?? this.unknown(r, attr);
      }
      case 'AWS::SQS::Queue': {
        const name = named('QueueName');
        return ({ Ref: `https://sqs.${region}.amazonaws.com/${account}/${name}`, Arn: arn('sqs', name), QueueName: name, QueueUrl: `https://sqs.${region}.amazonaws.com/${account}/${name}` } as Record<string, string>)[attr] ?? this.unknown(r, attr);
      }
      case 'AWS::SNS::Topic': {
        const name = named('TopicName');
        return ({ Ref: arn('sns', name), Arn: arn('sns', name), TopicArn: arn('sns', name), TopicName: name } as Record<string, string>)[attr] ?? this.unknown(r, attr);
      }
      case 'AWS::KMS::Key': {
        const keyId = `00000000-0000-4000-8000-${hash12(id)}`;
        return ({ Ref: keyId, KeyId: keyId, Arn: arn('kms', `key/${keyId}`) } as Record<string, string>)[attr] ?? this.unknown(r, attr);
      }
      case 'AWS::StepFunctions::StateMachine': {
        const name = named('StateMachineName');
        return ({ Ref: arn('states', `stateMachine:${name}`), Arn: arn('states', `stateMachine:${name}`), Name: name } as Record<string, string>)[attr] ?? this.unknown(r, attr);
      }
      case 'AWS::Lambda::Function': {
        const name = named('FunctionName');
        return ({ Ref: name, Arn: arn('lambda', `function:${name}`) } as Record<string, string>)[attr] ?? this.unknown(r, attr);
      }
      case 'AWS::IAM::Role': {
        const name = named('RoleName');
        return ({ Ref: name, Arn: `arn:${partition}:iam::${account}:role/${name}`, RoleId: `AROA${hash12(id).toUpperCase()}` } as Record<string, string>)[attr] ?? this.unknown(r, attr);
      }
      case 'AWS::IAM::ManagedPolicy': {
        const name = named('ManagedPolicyName');
        return ({ Ref: `arn:${partition}:iam::${account}:policy/${name}`, PolicyArn: `arn:${partition}:iam::${account}:policy/${name}` } as Record<string, string>)[attr] ?? this.unknown(r, attr);
      }
      case 'AWS::SecretsManager::Secret': {
        const name = named('Name');
        return ({ Ref: arn('secretsmanager', `secret:${name}-AbCdEf`), Id: arn('secretsmanager', `secret:${name}-AbCdEf`) } as Record<string, string>)[attr] ?? this.unknown(r, attr);
      }
      case 'AWS::SecretsManager::SecretTargetAttachment':
        // Ref returns the secret's ARN.
        if (attr === 'Ref') return String(this.resolve(r.stack, p.SecretId));
        return this.unknown(r, attr);
      case 'AWS::RDS::DBInstance': {
        const name = named('DBInstanceIdentifier');
        return ({
          Ref: name, DBInstanceArn: arn('rds', `db:${name}`), 'Endpoint.Address': `${name}.abcdefghijkl.${region}.rds.amazonaws.com`,
          'Endpoint.Port': String(this.resolve(r.stack, p.Port ?? '5432')), DbiResourceId: `db-${hash12(id).toUpperCase()}ABCDEFGHIJKLM`,
        } as Record<string, string>)[attr] ?? this.unknown(r, attr);
      }
      case 'AWS::RDS::DBCluster': {
        // Aurora: IAM authentication names the cluster's resource id (dbuser:<DbClusterResourceId>/<user>), the
        // Data API its ARN, the managed master secret is an attribute of the cluster
        // (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-rds-dbcluster.html#aws-resource-rds-dbcluster-return-values).
        const name = named('DBClusterIdentifier');
        return ({
          Ref: name, DBClusterArn: arn('rds', `cluster:${name}`), 'Endpoint.Address': `${name}.cluster-abcdefghijkl.${region}.rds.amazonaws.com`,
          'ReadEndpoint.Address': `${name}.cluster-ro-abcdefghijkl.${region}.rds.amazonaws.com`, 'Endpoint.Port': String(this.resolve(r.stack, p.Port ?? '5432')),
          DBClusterResourceId: `cluster-${hash12(id).toUpperCase()}ABCDEFGHIJKLM`, 'MasterUserSecret.SecretArn': arn('secretsmanager', `secret:rds!cluster-${hash12(id)}-AbCdEf`),
        } as Record<string, string>)[attr] ?? this.unknown(r, attr);
      }
      case 'AWS::SageMaker::Endpoint': {
        const name = named('EndpointName');
        return ({ Ref: arn('sagemaker', `endpoint/${name.toLowerCase()}`), EndpointName: name } as Record<string, string>)[attr] ?? this.unknown(r, attr);
      }
      case 'AWS::SageMaker::EndpointConfig': {
        const name = named('EndpointConfigName');
        return ({ Ref: arn('sagemaker', `endpoint-config/${name.toLowerCase()}`), EndpointConfigName: name } as Record<string, string>)[attr] ?? this.unknown(r, attr);
      }
      case 'AWS::SageMaker::Model': {
        const name = named('ModelName');
        return ({ Ref: arn('sagemaker', `model/${name.toLowerCase()}`), ModelName: name } as Record<string, string>)[attr] ?? this.unknown(r, attr);
      }
      case 'AWS::SageMaker::InferenceComponent': {
        const name = named('InferenceComponentName');
        return ({ Ref: arn('sagemaker', `inference-component/${name.toLowerCase()}`), InferenceComponentArn: arn('sagemaker', `inference-component/${name.toLowerCase()}`), InferenceComponentName: name } as Record<string, string>)[attr] ?? this.unknown(r, attr);
      }
      case 'AWS::Logs::LogGroup': {
        const name = named('LogGroupName');
        return ({ Ref: name, Arn: arn('logs', `log-group:${name}:*`) } as Record<string, string>)[attr] ?? this.unknown(r, attr);
      }
      case 'AWS::DynamoDB::Table': {
        const name = named('TableName');
        return ({ Ref: name, Arn: arn('dynamodb', `table/${name}`) } as Record<string, string>)[attr] ?? this.unknown(r, attr);
      }
      case 'AWS::SSM::Parameter': {
        const name = named('Name');
        return ({ Ref: name, Type: String(p.Type ?? 'String'), Value: String(this.resolve(r.stack, p.Value)) } as Record<string, string>)[attr] ?? this.unknown(r, attr);
      }
      case 'AWS::Bedrock::Guardrail': {
        const guardrailId = hash12(id);
        return ({ Ref: arn('bedrock', `guardrail/${guardrailId}`), GuardrailArn: arn('bedrock', `guardrail/${guardrailId}`), GuardrailId: guardrailId, Version: 'DRAFT' } as Record<string, string>)[attr] ?? this.unknown(r, attr);
      }
      case 'AWS::Bedrock::GuardrailVersion':
        return ({ Version: '1', GuardrailId: String(this.resolve(r.stack, p.GuardrailIdentifier)) } as Record<string, string>)[attr] ?? this.unknown(r, attr);
      case 'AWS::EC2::SecurityGroup':
        return ({ Ref: `sg-${hash12(id)}`, GroupId: `sg-${hash12(id)}` } as Record<string, string>)[attr] ?? this.unknown(r, attr);
      default:
        return attr === 'Ref' ? `${id}-ref` : `${id}-${attr}`;
    }
  }

  private unknown(r: AssemblyResource, attr: string): string {
    return `${r.stack}-${r.logicalId}-${attr}`.toLowerCase();
  }
}

function hash12(s: string): string {
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193;
  for (let i = 0; i < s.length; i++) {
    h1 = Math.imul(h1 ^ s.charCodeAt(i), 16777619) >>> 0;
    h2 = Math.imul(h2 ^ s.charCodeAt(i), 2246822519) >>> 0;
  }
  return (h1.toString(16).padStart(8, '0') + h2.toString(16).padStart(8, '0')).slice(0, 12);
}

class Resolver {
  private readonly template: any;

  constructor(private readonly assembly: ContractAssembly, private readonly stack: string) {
    this.template = assembly.stacks.get(stack)!.template;
  }

  resolve(v: any): any {
    if (Array.isArray(v)) return v.map((x) => this.resolve(x)).filter((x) => x !== NO_VALUE);
    if (v === null || typeof v !== 'object') return v;
    const keys = Object.keys(v);
    if (keys.length === 1) {
      const [k] = keys;
      const arg = v[k];
      switch (k) {
        case 'Ref': return this.ref(arg);
        case 'Fn::GetAtt': {
          const [logicalId, attr] = Array.isArray(arg) ? arg : String(arg).split(/\.(.+)/);
          return this.assembly.attribute(this.assembly.byLogicalId(this.stack, logicalId), attr);
        }
        case 'Fn::Join': return (this.resolve(arg[1]) as any[]).map(String).join(arg[0]);
        case 'Fn::Select': return (this.resolve(arg[1]) as any[])[Number(this.resolve(arg[0]))];
        case 'Fn::Split': return String(this.resolve(arg[1])).split(arg[0]);
        case 'Fn::FindInMap': {
          const [m, a, b] = arg.map((x: any) => this.resolve(x));
          const value = this.template.Mappings?.[m]?.[a]?.[b];
          if (value === undefined) throw new Error(`Fn::FindInMap: no ${m}.${a}.${b} in ${this.stack}`);
          return value;
        }
        case 'Fn::Sub': return this.sub(arg);
        case 'Fn::If': return this.condition(arg[0]) ? this.resolve(arg[1]) : this.resolve(arg[2]);
        case 'Fn::GetStackOutput': {
          const producer = String(this.resolve(arg.StackName));
          const out = this.assembly.stacks.get(producer)?.template.Outputs?.[arg.OutputName];
          if (!out) throw new Error(`Fn::GetStackOutput: ${producer} has no output ${arg.OutputName}`);
          return this.assembly.resolve(producer, out.Value);
        }
        case 'Fn::ImportValue': {
          const name = String(this.resolve(arg));
          for (const s of this.assembly.stacks.values()) {
            for (const out of Object.values(s.template.Outputs ?? {}) as any[]) {
              if (out.Export && this.assembly.resolve(s.name, out.Export.Name) === name) return this.assembly.resolve(s.name, out.Value);
            }
          }
          throw new Error(`Fn::ImportValue: no export ${name}`);
        }
        case 'Fn::GetAZs': return ['a', 'b', 'c'].map((z) => `${this.assembly.env(this.stack).region}${z}`);
        case 'Fn::Base64': return Buffer.from(String(this.resolve(arg))).toString('base64');
        default: break;
      }
    }
    const out: Record<string, any> = {};
    for (const [k, x] of Object.entries(v)) {
      const r = this.resolve(x);
      if (r !== NO_VALUE) out[k] = r;
    }
    return out;
  }

  private ref(name: string): any {
    const { account, region, partition } = this.assembly.env(this.stack);
    const pseudo: Record<string, any> = {
      'AWS::AccountId': account, 'AWS::Region': region, 'AWS::Partition': partition, 'AWS::URLSuffix': 'amazonaws.com',
      'AWS::StackName': this.stack, 'AWS::StackId': `arn:${partition}:cloudformation:${region}:${account}:stack/${this.stack}/0`, 'AWS::NoValue': NO_VALUE,
    };
    if (name in pseudo) return pseudo[name];
    if (this.template.Parameters?.[name]) {
      const p = this.template.Parameters[name];
      if (p.Default === undefined) throw new Error(`Parameter ${name} of ${this.stack} has no default`);
      return p.Default;
    }
    return this.assembly.ref(this.assembly.byLogicalId(this.stack, name));
  }

  private sub(arg: any): string {
    const [text, vars] = typeof arg === 'string' ? [arg, {}] : [arg[0], arg[1] ?? {}];
    return String(text).replace(/\$\{([^}!]+)\}/g, (_m: string, expr: string) => {
      if (expr in vars) return String(this.resolve(vars[expr]));
      if (expr.includes('.') && !expr.startsWith('AWS::')) {
        const [logicalId, attr] = expr.split(/\.(.+)/);
        return this.assembly.attribute(this.assembly.byLogicalId(this.stack, logicalId), attr);
      }
      return String(this.ref(expr));
    });
  }

  private condition(name: string): boolean {
    const c = this.template.Conditions?.[name];
    if (c === undefined) throw new Error(`Unknown condition ${name} in ${this.stack}`);
    return this.evalCondition(c);
  }

  private evalCondition(c: any): boolean {
    if (c.Condition) return this.condition(c.Condition);
    if (c['Fn::Equals']) return JSON.stringify(this.resolve(c['Fn::Equals'][0])) === JSON.stringify(this.resolve(c['Fn::Equals'][1]));
    if (c['Fn::Not']) return !this.evalCondition(c['Fn::Not'][0]);
    if (c['Fn::And']) return c['Fn::And'].every((x: any) => this.evalCondition(x));
    if (c['Fn::Or']) return c['Fn::Or'].some((x: any) => this.evalCondition(x));
    throw new Error(`Unsupported condition ${JSON.stringify(c)}`);
  }
}

const NO_VALUE = Symbol('AWS::NoValue');
