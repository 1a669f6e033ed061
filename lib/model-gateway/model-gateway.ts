import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { Aws, CfnCondition, CfnMapping, CfnRule, Duration, Fn, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import * as bedrock from 'aws-cdk-lib/aws-bedrock';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';
import { acknowledge } from '../common/acknowledge';
import { createDataKey } from '../common/keys';
import { invokeEndpointStatement } from '../common/least-privilege';
import { invocationFor, MODEL_CATALOG, modelRegions } from '../config/model-catalog';
import { metricDimensions } from '../common/metric-dimensions';
import { GatewayConfig } from '../config/stage-config';

/** Prompt templates deployed as SSM parameters: `prompts/<workflow>.json`. */
export const PROMPTS_DIR = path.join(__dirname, '..', '..', 'prompts');
/** Standard SSM parameters hold 4 KB (https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-advanced-parameters.html). */
export const STANDARD_PARAMETER_BYTES = 4096;

/** Personal data the guardrail handles; credentials are always blocked. Entity names: AWS::Bedrock::Guardrail PiiEntityConfig. */
const PERSONAL_DATA = ['EMAIL', 'PHONE', 'NAME', 'ADDRESS', 'US_SOCIAL_SECURITY_NUMBER', 'CREDIT_DEBIT_CARD_NUMBER', 'US_BANK_ACCOUNT_NUMBER', 'INTERNATIONAL_BANK_ACCOUNT_NUMBER'];
const CREDENTIALS = ['AWS_ACCESS_KEY', 'AWS_SECRET_KEY', 'PASSWORD'];

export interface GenerationEndpointRef {
  readonly endpointName: string;
  readonly inferenceComponentName?: string;
}

export interface ModelGatewayProps {
  /** The stage config's `gateway` section. */
  readonly config: GatewayConfig;
  /** Names: the prompt parameters are `/<namePrefix with / for ->/prompts/<workflow>`, the guardrail `<namePrefix>-gateway`. */
  readonly namePrefix: string;
  readonly removalPolicy: RemovalPolicy;
  /** Receives the budget alarms. */
  readonly alarmTopic: sns.ITopic;
  /** @default - a new customer managed key */
  readonly encryptionKey?: kms.IKey;
  /** @default PROMPTS_DIR */
  readonly promptsDir?: string;
}

/**
 * The model gateway's state and policy: a DynamoDB table for token budgets and the response cache
 * (on demand, KMS, point-in-time recovery, TTL), the prompt templates as versioned SSM parameters, a
 * Bedrock guardrail (prompt attacks, personal data) with a published version, and an alarm per
 * workflow at `budgetAlarmPercent` of a budget. `grantUse` gives a function exactly what the gateway
 * calls, and its environment.
 */
export class ModelGateway extends Construct {
  public readonly table: dynamodb.Table;
  public readonly key: kms.IKey;
  public readonly prompts: Record<string, ssm.StringParameter> = {};
  public readonly promptPrefix: string;
  public readonly guardrail: bedrock.CfnGuardrail;
  public readonly guardrailVersion: bedrock.CfnGuardrailVersion;
  public readonly budgetAlarms: cloudwatch.Alarm[] = [];
  private readonly config: GatewayConfig;

  constructor(scope: Construct, id: string, props: ModelGatewayProps) {
    super(scope, id);
    this.config = props.config;
    this.key = props.encryptionKey ?? createDataKey(this, 'Key', { description: 'Encrypts the model gateway table (budgets, cached answers)', removalPolicy: props.removalPolicy });

    this.table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: this.key,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: 'expiresAt',
      deletionProtection: props.removalPolicy === RemovalPolicy.RETAIN,
      removalPolicy: props.removalPolicy,
    });
    acknowledge(this.table, ['NIST.800.53.R5::NIST.800.53.R5-DynamoDBInBackupPlan', 'HIPAA.Security::HIPAA.Security-DynamoDBInBackupPlan', 'PCI.DSS.321::PCI.DSS.321-DynamoDBInBackupPlan'],
      'Point-in-time recovery (35 days) is on; the table holds only budget counters of the current day and month and cached answers with a TTL, all of which ' +
        'the gateway rebuilds by itself (a lost counter resets a budget period, a lost cache entry is a cache miss), so an AWS Backup plan would protect nothing the gateway needs.');

    // Prompts: one parameter per workflow; each deploy that changes the file creates a new version.
    this.promptPrefix = `/${props.namePrefix.replace(/-/g, '/')}/prompts`;
    const dir = props.promptsDir ?? PROMPTS_DIR;
    for (const workflow of Object.keys(props.config.workflows)) {
      const file = path.join(dir, `${workflow}.json`);
      const text = readPrompt(file, workflow);
      this.prompts[workflow] = new ssm.StringParameter(this, `Prompt${workflow[0].toUpperCase()}${workflow.slice(1)}`, {
        parameterName: `${this.promptPrefix}/${workflow}`,
        stringValue: text,
        tier: ssm.ParameterTier.STANDARD,
        description: `Prompt template of the ${workflow} workflow (prompts/${workflow}.json). Versions are immutable; the active one is gateway.workflows.${workflow}.promptVersion.`,
      });
      // Old versions are the rollback targets: keep them when the stack goes, like the data.
      this.prompts[workflow].applyRemovalPolicy(props.removalPolicy);
    }

    const g = props.config.guardrail;
    const filter = (type: string, input: string, output: string) => ({ type, inputStrength: input, outputStrength: output });
    const guardrailProps: bedrock.CfnGuardrailProps = {
      name: `${props.namePrefix}-gateway`,
      description: 'docai model gateway: prompt attacks on questions, harmful content and personal data in questions and answers',
      blockedInputMessaging: 'Your question was blocked by the content policy. Rephrase it without instructions to the assistant or personal data.',
      blockedOutputsMessaging: 'The answer was withheld by the content policy.',
      contentPolicyConfig: {
        filtersConfig: [
          // Prompt attacks are screened on input only (AWS: the output strength must be NONE).
          filter('PROMPT_ATTACK', g.promptAttackStrength, 'NONE'),
          ...['HATE', 'INSULTS', 'SEXUAL', 'VIOLENCE', 'MISCONDUCT'].map((t) => filter(t, 'MEDIUM', 'MEDIUM')),
        ],
      },
      sensitiveInformationPolicyConfig: {
        piiEntitiesConfig: [
          ...PERSONAL_DATA.map((type) => ({ type, action: g.personalData })),
          ...CREDENTIALS.map((type) => ({ type, action: 'BLOCK' })),
        ],
      },
    };
    this.guardrail = new bedrock.CfnGuardrail(this, 'Guardrail', guardrailProps);
    // A version is a snapshot of the guardrail: a new one whenever the policy above changes.
    const policyHash = crypto.createHash('sha256').update(JSON.stringify(guardrailProps)).digest('hex').slice(0, 12);
    this.guardrailVersion = new bedrock.CfnGuardrailVersion(this, `GuardrailVersion${policyHash}`, {
      guardrailIdentifier: this.guardrail.attrGuardrailId,
      description: `policy ${policyHash}`,
    });
    this.guardrailVersion.applyRemovalPolicy(RemovalPolicy.RETAIN); // a running function may still use it while the next deploy rolls out

    for (const workflow of Object.keys(props.config.workflows)) {
      const alarm = new cloudwatch.Alarm(this, `BudgetAlarm${workflow[0].toUpperCase()}${workflow.slice(1)}`, {
        alarmDescription: `The ${workflow} workflow has used ${props.config.budgetAlarmPercent}% of a daily or monthly token or spend budget (gateway.workflows.${workflow}.budget); at 100% requests answer 429.`,
        metric: new cloudwatch.Metric({ namespace: 'DocAI', metricName: 'BudgetUsedPercent', dimensionsMap: { Workflow: workflow, ...metricDimensions(this) }, statistic: 'Maximum', period: Duration.minutes(5) }),
        threshold: props.config.budgetAlarmPercent,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
        // Once a budget is spent every request is refused before a model is called, and no
        // BudgetUsedPercent is emitted: missing data keeps the alarm where it is, so it stays in
        // ALARM until the budget period turns and a request reports a lower figure ("ignore: the current
        // alarm state is maintained": https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html#alarms-and-missing-data).
        treatMissingData: cloudwatch.TreatMissingData.IGNORE,
      });
      alarm.addAlarmAction(new cwActions.SnsAction(props.alarmTopic));
      this.budgetAlarms.push(alarm);
    }
  }

  /** The guardrail's ARN (`bedrock:ApplyGuardrail` is authorized on it). */
  public get guardrailArn(): string {
    return this.guardrail.attrGuardrailArn;
  }

  /**
   * Gives `fn` the environment and exactly the permissions the gateway uses for `workflows`:
   * the table's item reads and writes, the prompts, the guardrail, and each model of the chains.
   */
  public grantUse(fn: lambda.Function, opts: { workflows: readonly (keyof GatewayConfig['workflows'])[]; generation?: GenerationEndpointRef }): void {
    const stack = Stack.of(fn);
    const models: Record<string, Record<string, unknown>> = {};
    const statements: iam.PolicyStatement[] = [];
    for (const workflow of opts.workflows) {
      for (const name of this.config.workflows[workflow].models) {
        const m = this.config.models[name];
        if (m.provider === 'bedrock') {
          const { invocationId, resources } = bedrockInvocation(stack, name, m.modelId);
          models[name] = { ...m, invocationId };
          // Converse is authorized as bedrock:InvokeModel (https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html).
          statements.push(new iam.PolicyStatement({ actions: ['bedrock:InvokeModel'], resources }));
        } else {
          if (!opts.generation) throw new Error(`gateway.workflows.${workflow} uses ${name} (the generation endpoint), but no generation endpoint was passed to grantUse`);
          models[name] = { ...m, modelId: opts.generation.endpointName, inferenceComponent: opts.generation.inferenceComponentName };
          // The call names the inference component when the endpoint hosts one: both ARNs are needed.
          statements.push(invokeEndpointStatement(fn, opts.generation));
        }
      }
    }
    const workflows = Object.fromEntries(opts.workflows.map((w) => [w, this.config.workflows[w]]));
    const c = this.config;
    fn.addEnvironment('GATEWAY_CONFIG', JSON.stringify({ models, workflows, timeoutSeconds: c.timeoutSeconds, retry: c.retry, breaker: c.breaker }));
    fn.addEnvironment('GATEWAY_TABLE', this.table.tableName);
    fn.addEnvironment('GATEWAY_PROMPT_PREFIX', this.promptPrefix);
    fn.addEnvironment('GATEWAY_GUARDRAIL_ID', this.guardrail.attrGuardrailId);
    fn.addEnvironment('GATEWAY_GUARDRAIL_VERSION', this.guardrailVersion.attrVersion);

    this.table.grant(fn, 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem');
    // DynamoDB decrypts the table key with the caller's permission when it reads or writes items
    // (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/encryption.howitworks.html).
    this.key.grant(fn, 'kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey');
    for (const w of opts.workflows) this.prompts[w].grantRead(fn);
    statements.push(new iam.PolicyStatement({ actions: ['bedrock:ApplyGuardrail'], resources: [this.guardrailArn] }));
    const seen = new Set<string>();
    for (const s of statements) {
      const k = JSON.stringify(s.toStatementJson());
      if (!seen.has(k)) { seen.add(k); fn.addToRolePolicy(s); }
    }
  }
}

function readPrompt(file: string, workflow: string): string {
  if (!fs.existsSync(file)) throw new Error(`ModelGateway: the ${workflow} workflow has no prompt template: create ${file} ({"system": "...", "user": "... {documents} ... {question} ..."})`);
  const text = fs.readFileSync(file, 'utf8');
  let parsed: { system?: unknown; user?: unknown } | null;
  try { parsed = JSON.parse(text); } catch (e) { throw new Error(`ModelGateway: ${file} is not JSON (${(e as Error).message})`, { cause: e }); }
  if (typeof parsed?.system !== 'string' || typeof parsed?.user !== 'string') throw new Error(`ModelGateway: ${file} must be {"system": "...", "user": "..."}`);
  for (const field of ['{documents}', '{question}']) {
    if (!parsed.user.includes(field)) throw new Error(`ModelGateway: ${file}: "user" must contain ${field}, where the gateway puts the ${field === '{documents}' ? 'retrieved passages (as data)' : 'question'}`);
  }
  const compact = JSON.stringify(parsed);
  if (Buffer.byteLength(compact) > STANDARD_PARAMETER_BYTES) {
    throw new Error(`ModelGateway: ${file} is ${Buffer.byteLength(compact)} bytes; a standard SSM parameter holds ${STANDARD_PARAMETER_BYTES}. Shorten the template`);
  }
  return compact;
}

/**
 * The id the gateway passes to Converse from the stack's region and the ARNs IAM must allow for it
 * (lib/config/model-catalog.ts): in-region, the foundation model; through a cross-region inference
 * profile, the profile and the foundation model in each of its destination regions
 * (https://docs.aws.amazon.com/bedrock/latest/userguide/inference-profiles-prereq.html). A literal when
 * the region is known at synth time; otherwise a mapping by AWS::Region, guarded by a template rule
 * that names the regions serving the model.
 */
function bedrockInvocation(stack: Stack, name: string, modelId: string): { invocationId: string; resources: string[] } {
  const fm = (region: string) => `arn:${stack.partition}:bedrock:${region}::foundation-model/${modelId}`;
  const profileArn = (id: string) => `arn:${stack.partition}:bedrock:${stack.region}:${stack.account}:inference-profile/${id}`;
  if (!Token.isUnresolved(stack.region)) {
    const inv = invocationFor(modelId, stack.region);
    if (!inv) throw new Error(`ModelGateway: ${modelId} (gateway.models.${name}) is not served in ${stack.region} (lib/config/model-catalog.ts); config validation refuses this region`);
    return { invocationId: inv.invocationId, resources: [...(inv.profile ? [profileArn(inv.invocationId)] : []), ...inv.foundationModelRegions.map(fm)] };
  }
  const regions = modelRegions(modelId);
  const invocations = regions.map((r) => [r, invocationFor(modelId, r)!] as const);
  const slots = Math.max(...invocations.map(([, inv]) => inv.foundationModelRegions.length));
  const key = name.replace(/(^|-)([a-z0-9])/g, (_m, _d, c: string) => c.toUpperCase());
  const mapping = (stack.node.tryFindChild('BedrockInvocations') as CfnMapping) ?? new CfnMapping(stack, 'BedrockInvocations', { mapping: {} });
  for (const [r, inv] of invocations) {
    mapping.setValue(r, `${key}Id`, inv.invocationId);
    // Fixed slots (IAM has no loop): a region with fewer destinations repeats its last one.
    for (let i = 0; i < slots; i++) mapping.setValue(r, `${key}Region${i}`, inv.foundationModelRegions[Math.min(i, inv.foundationModelRegions.length - 1)]);
  }
  if (!stack.node.tryFindChild(`${key}Region`)) {
    new CfnRule(stack, `${key}Region`, {
      assertions: [{
        assert: Fn.conditionContains(regions, stack.region),
        assertDescription: `Bedrock serves ${MODEL_CATALOG[modelId].name} (${modelId}, gateway.models.${name}) neither in-region nor through an inference profile in this region. Regions: ${regions.join(', ')}`,
      }],
    });
  }
  const invocationId = mapping.findInMap(stack.region, `${key}Id`);
  const viaProfile = (stack.node.tryFindChild(`${key}ViaProfile`) as CfnCondition) ?? new CfnCondition(stack, `${key}ViaProfile`, { expression: Fn.conditionNot(Fn.conditionEquals(invocationId, modelId)) });
  const resources = [Fn.conditionIf(viaProfile.logicalId, profileArn(invocationId), Aws.NO_VALUE).toString()];
  for (let i = 0; i < slots; i++) resources.push(fm(mapping.findInMap(stack.region, `${key}Region${i}`)));
  return { invocationId, resources };
}
