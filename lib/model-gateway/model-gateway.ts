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
import * as sns from 'aws-cdk-lib/aws-sns';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { Construct, IConstruct } from 'constructs';
import { acknowledge } from '../common/acknowledge';
import { createDataKey } from '../common/keys';
import { invokeEndpointStatement } from '../common/least-privilege';
import { invocationFor, MODEL_CATALOG, modelRegions } from '../config/model-catalog';
import { DocaiMetricFactory } from '../common/metric-factory';
import { packagePath } from '../common/package-root';

/** Prompt templates deployed as SSM parameters: `prompts/<workflow>.json`. */
export const PROMPTS_DIR = packagePath('prompts');
/** Standard SSM parameters hold 4 KB (https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-advanced-parameters.html). */
export const STANDARD_PARAMETER_BYTES = 4096;

/** Personal data the guardrail handles; credentials are always blocked. Entity names: AWS::Bedrock::Guardrail PiiEntityConfig. */
const PERSONAL_DATA = ['EMAIL', 'PHONE', 'NAME', 'ADDRESS', 'US_SOCIAL_SECURITY_NUMBER', 'CREDIT_DEBIT_CARD_NUMBER', 'US_BANK_ACCOUNT_NUMBER', 'INTERNATIONAL_BANK_ACCOUNT_NUMBER'];
const CREDENTIALS = ['AWS_ACCESS_KEY', 'AWS_SECRET_KEY', 'PASSWORD'];

/** A SageMaker endpoint the gateway calls for a `SAGEMAKER_LMI` model. */
export interface GenerationEndpointRef {
  readonly endpointName: string;
  /** @default - the endpoint hosts no inference component (calls name the endpoint only) */
  readonly inferenceComponentName?: string;
}

/** Who serves a model of the gateway. */
export enum ModelProvider {
  /** Amazon Bedrock through the Converse API. */
  BEDROCK = 'bedrock',
  /** The deployment's own generation endpoint (SageMaker, Large Model Inference container), passed to grantUse. */
  SAGEMAKER_LMI = 'sagemaker-lmi',
}

/** One model the gateway can call. */
export interface GatewayModel {
  readonly provider: ModelProvider;
  /** Bedrock model id (lib/config/model-catalog.ts), e.g. `amazon.nova-lite-v1:0`; for SAGEMAKER_LMI any name (the endpoint's name replaces it). */
  readonly modelId: string;
  /** Price the budgets and the estimated spend use (an estimate). */
  readonly usdPerMillionInputTokens: number;
  readonly usdPerMillionOutputTokens: number;
}

/** Token and spend budgets of one workflow; 0 means no limit of that kind. A spent budget answers 429. */
export interface GatewayBudget {
  readonly dailyTokens: number;
  readonly monthlyTokens: number;
  /** Per caller (the verified principal), per day. */
  readonly callerDailyTokens: number;
  readonly dailyUsd: number;
  readonly monthlyUsd: number;
}

/** One workflow (a kind of model call, e.g. `answer`) and its chain of models. */
export interface GatewayWorkflow {
  /** The chain, by name from `models`: the first answers, the others are fallbacks (answers marked degraded). */
  readonly models: string[];
  /** Active version of the workflow's prompt parameter. Rollback: an older number. */
  readonly promptVersion: number;
  /** How long an answer is served from the cache, seconds; 0 turns the cache off. */
  readonly cacheTtlSeconds: number;
  readonly maxOutputTokens: number;
  readonly budget: GatewayBudget;
}

/** Retries of one model call. */
export interface GatewayRetry {
  /** @default 3 */
  readonly maxAttempts?: number;
  /** @default Duration.millis(200) */
  readonly baseDelay?: Duration;
  /** @default Duration.seconds(2) */
  readonly maxDelay?: Duration;
  /** How long a call waits for an endpoint that is scaling from zero before the chain moves on. @default Duration.seconds(0) */
  readonly notReadyWait?: Duration;
}

/** The circuit breaker per model. */
export interface GatewayBreaker {
  /** Consecutive failures that open it. @default 5 */
  readonly failureThreshold?: number;
  /** How long it stays open. @default Duration.seconds(30) */
  readonly openDuration?: Duration;
}

/** What the gateway's callers are told at run time: the models, the workflows and how hard to try. */
export interface GatewayRouting {
  /** Models by name. */
  readonly models: { readonly [name: string]: GatewayModel };
  /** Workflows by name (each needs `prompts/<name>.json`). */
  readonly workflows: { readonly [name: string]: GatewayWorkflow };
  /** Time one request may spend in the gateway (keep it under API Gateway's 29 s). @default Duration.seconds(20) */
  readonly timeout?: Duration;
  /** @default - 3 attempts, 200 ms to 2 s backoff, no wait for a cold endpoint */
  readonly retry?: GatewayRetry;
  /** @default - opens after 5 failures, for 30 s */
  readonly breaker?: GatewayBreaker;
}

/** Bedrock Guardrails filter strength. */
export enum GuardrailFilterStrength {
  LOW = 'LOW',
  MEDIUM = 'MEDIUM',
  HIGH = 'HIGH',
}

/** What the guardrail does with personal data in questions and answers. */
export enum PersonalDataAction {
  ANONYMIZE = 'ANONYMIZE',
  BLOCK = 'BLOCK',
}

/** The guardrail's policy choices (harmful content is filtered at MEDIUM and credentials are blocked whatever these say). */
export interface GatewayGuardrailOptions {
  /** Filter strength against prompt attacks on the question (screened on input only). @default GuardrailFilterStrength.HIGH */
  readonly promptAttackStrength?: GuardrailFilterStrength;
  /** @default PersonalDataAction.ANONYMIZE */
  readonly personalData?: PersonalDataAction;
}

export interface ModelGatewayProps extends GatewayRouting {
  /** Names: the prompt parameters are `/<namePrefix with / for ->/prompts/<workflow>`, the guardrail `<namePrefix>-gateway`. */
  readonly namePrefix: string;
  /**
   * What happens to the table, the key and old prompt versions when they leave the stack.
   * @default RemovalPolicy.RETAIN (with table deletion protection)
   */
  readonly removalPolicy?: RemovalPolicy;
  /** Receives the budget alarms. @default - the alarms have no action */
  readonly alarmTopic?: sns.ITopic;
  /** @default - a new customer managed key */
  readonly encryptionKey?: kms.IKey;
  /** @default PROMPTS_DIR (the package's prompts/) */
  readonly promptsDir?: string;
  /** @default - prompt attacks screened HIGH, personal data anonymized */
  readonly guardrail?: GatewayGuardrailOptions;
  /** Alarm when a workflow has used this percent of a daily or monthly budget. @default 80 */
  readonly budgetAlarmPercent?: number;
}

/** What grantUse and gatewayEnvironment are asked for. */
export interface GatewayUseOptions {
  /** The workflows the caller runs (names of `workflows`). */
  readonly workflows: string[];
  /** The endpoint behind SAGEMAKER_LMI models. @default - none; a chain with such a model is refused */
  readonly generation?: GenerationEndpointRef;
}

/**
 * The model gateway as its callers see it: the state the Python gateway keeps (budgets and cache
 * table, prompt parameters, guardrail version), its routing, what a caller is granted, and its
 * metrics. Implemented by ModelGateway and by ModelGateway.fromModelGatewayAttributes.
 */
export interface IModelGateway extends IConstruct {
  /** Budgets and cached answers. */
  readonly table: dynamodb.ITable;
  /** Encrypts the table. */
  readonly encryptionKey: kms.IKey;
  /** SSM path under which each workflow's prompt is `<promptPrefix>/<workflow>`. */
  readonly promptPrefix: string;
  readonly guardrailId: string;
  /** The guardrail's ARN (`bedrock:ApplyGuardrail` is authorized on it). */
  readonly guardrailArn: string;
  /** The published guardrail version the gateway applies. */
  readonly guardrailVersion: string;
  readonly routing: GatewayRouting;
  /**
   * Exactly what the gateway calls for `options.workflows`: the table's items (and its key), the
   * prompts, the guardrail, each model of the chains.
   */
  grantUse(grantee: iam.IGrantable, options: GatewayUseOptions): iam.Grant;
  /** The environment the Python gateway reads in a function of `consumer`'s stack (GATEWAY_*). */
  gatewayEnvironment(consumer: IConstruct, options: GatewayUseOptions): { [name: string]: string };
  /** Any metric the gateway emits for a workflow (DocAI namespace, Workflow and deployment dimensions). */
  metric(metricName: string, workflow: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  /** Highest share of a daily or monthly budget used, percent (Maximum). Not emitted once the budget is spent. */
  metricBudgetUsedPercent(workflow: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  /** Answers from a fallback model (Sum). */
  metricFallbacks(workflow: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  metricCacheHits(workflow: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  metricCacheMisses(workflow: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  /** Cache hits per lookup, percent. */
  metricCacheHitRatio(workflow: string, props?: cloudwatch.MathExpressionOptions): cloudwatch.MathExpression;
}

/** A gateway deployed elsewhere (another stack or app). */
export interface ModelGatewayAttributes extends GatewayRouting {
  /** ARN of the gateway's table (`ModelGateway.table.tableArn`). */
  readonly tableArn: string;
  /** The table's key. */
  readonly encryptionKey: kms.IKey;
  readonly promptPrefix: string;
  readonly guardrailId: string;
  /** The published guardrail version (a number, as a string). */
  readonly guardrailVersion: string;
}

/** The metrics, grants and environment both kinds of gateway share. */
abstract class ModelGatewayBase extends Construct implements IModelGateway {
  public abstract readonly table: dynamodb.ITable;
  public abstract readonly encryptionKey: kms.IKey;
  public abstract readonly promptPrefix: string;
  public abstract readonly guardrailId: string;
  public abstract readonly guardrailVersion: string;
  public abstract readonly routing: GatewayRouting;
  protected readonly metrics: DocaiMetricFactory;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    this.metrics = DocaiMetricFactory.of(this);
  }

  public abstract get guardrailArn(): string;

  /** The prompt parameter of `workflow`. */
  protected abstract promptParameter(workflow: string): ssm.IStringParameter;

  public grantUse(grantee: iam.IGrantable, options: GatewayUseOptions): iam.Grant {
    const { statements } = this.resolveModels(Construct.isConstruct(grantee) ? grantee : this, options);
    // DynamoDB uses the table key with the caller's permission when it reads or writes items
    // (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/encryption.howitworks.html).
    let grant = this.table.grant(grantee, 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem')
      .combine(this.encryptionKey.grant(grantee, 'kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey'));
    for (const w of options.workflows) grant = grant.combine(this.promptParameter(w).grantRead(grantee));
    statements.push(new iam.PolicyStatement({ actions: ['bedrock:ApplyGuardrail'], resources: [this.guardrailArn] }));
    const seen = new Set<string>();
    for (const s of statements) {
      const k = JSON.stringify(s.toStatementJson());
      if (seen.has(k)) continue;
      seen.add(k);
      grant = grant.combine(iam.Grant.addToPrincipal({ grantee, actions: s.actions, resourceArns: s.resources }));
    }
    return grant;
  }

  public gatewayEnvironment(consumer: IConstruct, options: GatewayUseOptions): { [name: string]: string } {
    const { models } = this.resolveModels(consumer, options);
    const r = this.routing;
    const workflows = Object.fromEntries(options.workflows.map((w) => [w, workflowJson(r.workflows[w])]));
    const retry = r.retry ?? {};
    const breaker = r.breaker ?? {};
    // The shape lambda/shared/docai_shared/gateway reads (its config module).
    const config = {
      models, workflows,
      timeoutSeconds: (r.timeout ?? Duration.seconds(20)).toSeconds(),
      retry: {
        maxAttempts: retry.maxAttempts ?? 3, baseDelayMs: (retry.baseDelay ?? Duration.millis(200)).toMilliseconds(),
        maxDelayMs: (retry.maxDelay ?? Duration.seconds(2)).toMilliseconds(), notReadyWaitSeconds: (retry.notReadyWait ?? Duration.seconds(0)).toSeconds(),
      },
      breaker: { failureThreshold: breaker.failureThreshold ?? 5, openSeconds: (breaker.openDuration ?? Duration.seconds(30)).toSeconds() },
    };
    return {
      GATEWAY_CONFIG: JSON.stringify(config),
      GATEWAY_TABLE: this.table.tableName,
      GATEWAY_PROMPT_PREFIX: this.promptPrefix,
      GATEWAY_GUARDRAIL_ID: this.guardrailId,
      GATEWAY_GUARDRAIL_VERSION: this.guardrailVersion,
    };
  }

  public metric(metricName: string, workflow: string, props: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return this.metrics.metric(metricName, { Workflow: workflow }, props);
  }

  public metricBudgetUsedPercent(workflow: string, props: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return this.metric('BudgetUsedPercent', workflow, { statistic: 'Maximum', ...props });
  }

  public metricFallbacks(workflow: string, props: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return this.metric('Fallbacks', workflow, { statistic: 'Sum', ...props });
  }

  public metricCacheHits(workflow: string, props: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return this.metric('CacheHits', workflow, { statistic: 'Sum', ...props });
  }

  public metricCacheMisses(workflow: string, props: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
    return this.metric('CacheMisses', workflow, { statistic: 'Sum', ...props });
  }

  public metricCacheHitRatio(workflow: string, props: cloudwatch.MathExpressionOptions = {}): cloudwatch.MathExpression {
    return this.metrics.expression('100 * h / MAX([h + m, 1])', { h: this.metricCacheHits(workflow, { label: `${workflow} CacheHits` }), m: this.metricCacheMisses(workflow, { label: `${workflow} CacheMisses` }) }, { label: 'cache hit ratio %', ...props });
  }

  /** Each model of the workflows' chains: its runtime entry and the statement that allows calling it. */
  private resolveModels(consumer: IConstruct, options: GatewayUseOptions): { models: Record<string, Record<string, unknown>>; statements: iam.PolicyStatement[] } {
    const stack = Stack.of(consumer);
    const models: Record<string, Record<string, unknown>> = {};
    const statements: iam.PolicyStatement[] = [];
    for (const workflow of options.workflows) {
      const wf = this.routing.workflows[workflow];
      if (!wf) throw new Error(`ModelGateway: workflow "${workflow}" is not one of the gateway's (${Object.keys(this.routing.workflows).join(', ')}); add it to workflows or ask for one of those`);
      for (const name of wf.models) {
        const m = this.routing.models[name];
        if (!m) throw new Error(`ModelGateway: workflows.${workflow}.models names "${name}", which is not in models (${Object.keys(this.routing.models).join(', ')})`);
        const base = { provider: m.provider, modelId: m.modelId, usdPerMillionInputTokens: m.usdPerMillionInputTokens, usdPerMillionOutputTokens: m.usdPerMillionOutputTokens };
        if (m.provider === ModelProvider.BEDROCK) {
          const { invocationId, resources } = bedrockInvocation(stack, name, m.modelId);
          models[name] = { ...base, invocationId };
          // Converse is authorized as bedrock:InvokeModel (https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html).
          statements.push(new iam.PolicyStatement({ actions: ['bedrock:InvokeModel'], resources }));
        } else {
          if (!options.generation) throw new Error(`gateway.workflows.${workflow} uses ${name} (the generation endpoint), but no generation endpoint was passed to grantUse`);
          models[name] = { ...base, modelId: options.generation.endpointName, inferenceComponent: options.generation.inferenceComponentName };
          // The call names the inference component when the endpoint hosts one: both ARNs are needed.
          statements.push(invokeEndpointStatement(consumer, options.generation));
        }
      }
    }
    return { models, statements };
  }
}

/** A workflow as the Python gateway reads it (fixed key order, so the environment does not change with the caller's). */
function workflowJson(w: GatewayWorkflow): Record<string, unknown> {
  const b = w.budget;
  return {
    models: [...w.models], promptVersion: w.promptVersion, cacheTtlSeconds: w.cacheTtlSeconds, maxOutputTokens: w.maxOutputTokens,
    budget: { dailyTokens: b.dailyTokens, monthlyTokens: b.monthlyTokens, callerDailyTokens: b.callerDailyTokens, dailyUsd: b.dailyUsd, monthlyUsd: b.monthlyUsd },
  };
}

/**
 * The model gateway's state and policy: a DynamoDB table for token budgets and the response cache
 * (on demand, KMS, point-in-time recovery, TTL), the prompt templates as versioned SSM parameters, a
 * Bedrock guardrail (prompt attacks, personal data) with a published version, and an alarm per
 * workflow at `budgetAlarmPercent` of a budget. `grantUse` gives a caller exactly what the gateway
 * calls; `gatewayEnvironment` is what its function needs to find it all.
 */
export class ModelGateway extends ModelGatewayBase {
  /** A gateway deployed elsewhere: grants and environment name its resources by ARN and name. */
  public static fromModelGatewayAttributes(scope: Construct, id: string, attrs: ModelGatewayAttributes): IModelGateway {
    return new ImportedModelGateway(scope, id, attrs);
  }

  /** The table (its L2 is reachable as `node.findChild('Table')`). */
  public readonly table: dynamodb.ITable;
  public readonly encryptionKey: kms.IKey;
  public readonly prompts: { [workflow: string]: ssm.StringParameter } = {};
  public readonly promptPrefix: string;
  /** The guardrail resource (escape hatch). */
  public readonly guardrail: bedrock.CfnGuardrail;
  /** The published version resource (escape hatch). */
  public readonly guardrailVersionResource: bedrock.CfnGuardrailVersion;
  public readonly guardrailId: string;
  public readonly guardrailVersion: string;
  public readonly routing: GatewayRouting;
  public readonly budgetAlarms: cloudwatch.Alarm[] = [];

  constructor(scope: Construct, id: string, props: ModelGatewayProps) {
    super(scope, id);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    this.routing = { models: props.models, workflows: props.workflows, timeout: props.timeout, retry: props.retry, breaker: props.breaker };
    const workflows = Object.keys(props.workflows);
    for (const w of workflows) this.resolveRefs(w, props);
    this.encryptionKey = props.encryptionKey ?? createDataKey(this, 'Key', { description: 'Encrypts the model gateway table (budgets, cached answers)', removalPolicy });

    const table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: this.encryptionKey,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: 'expiresAt',
      deletionProtection: removalPolicy === RemovalPolicy.RETAIN,
      removalPolicy,
    });
    this.table = table;
    acknowledge(table, ['NIST.800.53.R5::NIST.800.53.R5-DynamoDBInBackupPlan', 'HIPAA.Security::HIPAA.Security-DynamoDBInBackupPlan', 'PCI.DSS.321::PCI.DSS.321-DynamoDBInBackupPlan'],
      'Point-in-time recovery (35 days) is on; the table holds only budget counters of the current day and month and cached answers with a TTL, all of which ' +
        'the gateway rebuilds by itself (a lost counter resets a budget period, a lost cache entry is a cache miss), so an AWS Backup plan would protect nothing the gateway needs.');

    // Prompts: one parameter per workflow; each deploy that changes the file creates a new version.
    this.promptPrefix = `/${props.namePrefix.replace(/-/g, '/')}/prompts`;
    const dir = props.promptsDir ?? PROMPTS_DIR;
    for (const workflow of workflows) {
      const file = path.join(dir, `${workflow}.json`);
      const text = readPrompt(file, workflow);
      this.prompts[workflow] = new ssm.StringParameter(this, `Prompt${workflow[0].toUpperCase()}${workflow.slice(1)}`, {
        parameterName: `${this.promptPrefix}/${workflow}`,
        stringValue: text,
        tier: ssm.ParameterTier.STANDARD,
        description: `Prompt template of the ${workflow} workflow (prompts/${workflow}.json). Versions are immutable; the active one is gateway.workflows.${workflow}.promptVersion.`,
      });
      // Old versions are the rollback targets: keep them when the stack goes, like the data.
      this.prompts[workflow].applyRemovalPolicy(removalPolicy);
    }

    const g = props.guardrail ?? {};
    const filter = (type: string, input: string, output: string) => ({ type, inputStrength: input, outputStrength: output });
    const guardrailProps: bedrock.CfnGuardrailProps = {
      name: `${props.namePrefix}-gateway`,
      description: 'docai model gateway: prompt attacks on questions, harmful content and personal data in questions and answers',
      blockedInputMessaging: 'Your question was blocked by the content policy. Rephrase it without instructions to the assistant or personal data.',
      blockedOutputsMessaging: 'The answer was withheld by the content policy.',
      contentPolicyConfig: {
        filtersConfig: [
          // Prompt attacks are screened on input only (AWS: the output strength must be NONE).
          filter('PROMPT_ATTACK', g.promptAttackStrength ?? GuardrailFilterStrength.HIGH, 'NONE'),
          ...['HATE', 'INSULTS', 'SEXUAL', 'VIOLENCE', 'MISCONDUCT'].map((t) => filter(t, 'MEDIUM', 'MEDIUM')),
        ],
      },
      sensitiveInformationPolicyConfig: {
        piiEntitiesConfig: [
          ...PERSONAL_DATA.map((type) => ({ type, action: g.personalData ?? PersonalDataAction.ANONYMIZE })),
          ...CREDENTIALS.map((type) => ({ type, action: 'BLOCK' })),
        ],
      },
    };
    this.guardrail = new bedrock.CfnGuardrail(this, 'Guardrail', guardrailProps);
    // A version is a snapshot of the guardrail: a new one whenever the policy above changes.
    const policyHash = crypto.createHash('sha256').update(JSON.stringify(guardrailProps)).digest('hex').slice(0, 12);
    this.guardrailVersionResource = new bedrock.CfnGuardrailVersion(this, `GuardrailVersion${policyHash}`, {
      guardrailIdentifier: this.guardrail.attrGuardrailId,
      description: `policy ${policyHash}`,
    });
    this.guardrailVersionResource.applyRemovalPolicy(RemovalPolicy.RETAIN); // a running function may still use it while the next deploy rolls out
    this.guardrailId = this.guardrail.attrGuardrailId;
    this.guardrailVersion = this.guardrailVersionResource.attrVersion;

    const budgetAlarmPercent = props.budgetAlarmPercent ?? 80;
    for (const workflow of workflows) {
      const alarm = new cloudwatch.Alarm(this, `BudgetAlarm${workflow[0].toUpperCase()}${workflow.slice(1)}`, {
        alarmDescription: `The ${workflow} workflow has used ${budgetAlarmPercent}% of a daily or monthly token or spend budget (gateway.workflows.${workflow}.budget); at 100% requests answer 429.`,
        metric: this.metricBudgetUsedPercent(workflow),
        threshold: budgetAlarmPercent,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
        // Once a budget is spent every request is refused before a model is called, and no
        // BudgetUsedPercent is emitted: missing data keeps the alarm where it is, so it stays in
        // ALARM until the budget period turns and a request reports a lower figure ("ignore: the current
        // alarm state is maintained": https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html#alarms-and-missing-data).
        treatMissingData: cloudwatch.TreatMissingData.IGNORE,
      });
      if (props.alarmTopic) alarm.addAlarmAction(new cwActions.SnsAction(props.alarmTopic));
      this.budgetAlarms.push(alarm);
    }
  }

  public get guardrailArn(): string {
    return this.guardrail.attrGuardrailArn;
  }

  protected promptParameter(workflow: string): ssm.IStringParameter {
    const p = this.prompts[workflow];
    if (!p) throw new Error(`ModelGateway: workflow "${workflow}" is not one of the gateway's (${Object.keys(this.prompts).join(', ')})`);
    return p;
  }

  /** A chain must name models that exist: caught at synth, naming the workflow and the model. */
  private resolveRefs(workflow: string, props: GatewayRouting): void {
    for (const name of props.workflows[workflow].models) {
      if (!props.models[name]) throw new Error(`ModelGateway: workflows.${workflow}.models names "${name}", which is not in models (${Object.keys(props.models).join(', ')})`);
    }
  }
}

class ImportedModelGateway extends ModelGatewayBase {
  public readonly table: dynamodb.ITable;
  public readonly encryptionKey: kms.IKey;
  public readonly promptPrefix: string;
  public readonly guardrailId: string;
  public readonly guardrailVersion: string;
  public readonly routing: GatewayRouting;
  private readonly prompts: Record<string, ssm.IStringParameter> = {};

  constructor(scope: Construct, id: string, attrs: ModelGatewayAttributes) {
    super(scope, id);
    this.encryptionKey = attrs.encryptionKey;
    this.table = dynamodb.Table.fromTableAttributes(this, 'Table', { tableArn: attrs.tableArn, encryptionKey: attrs.encryptionKey });
    this.promptPrefix = attrs.promptPrefix;
    this.guardrailId = attrs.guardrailId;
    this.guardrailVersion = attrs.guardrailVersion;
    this.routing = { models: attrs.models, workflows: attrs.workflows, timeout: attrs.timeout, retry: attrs.retry, breaker: attrs.breaker };
  }

  /** arn:<partition>:bedrock:<region>:<account>:guardrail/<id> (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonbedrock.html). */
  public get guardrailArn(): string {
    return Stack.of(this).formatArn({ service: 'bedrock', resource: 'guardrail', resourceName: this.guardrailId });
  }

  protected promptParameter(workflow: string): ssm.IStringParameter {
    if (!this.routing.workflows[workflow]) throw new Error(`ModelGateway: workflow "${workflow}" is not one of the imported gateway's (${Object.keys(this.routing.workflows).join(', ')})`);
    this.prompts[workflow] ??= ssm.StringParameter.fromStringParameterName(this, `Prompt${workflow[0].toUpperCase()}${workflow.slice(1)}`, `${this.promptPrefix}/${workflow}`);
    return this.prompts[workflow];
  }
}

function readPrompt(file: string, workflow: string): string {
  if (!fs.existsSync(file)) throw new Error(`ModelGateway: the ${workflow} workflow has no prompt template: create ${file} ({"system": "...", "user": "... {documents} ... {question} ..."})`);
  const text = fs.readFileSync(file, 'utf8');
  let parsed: { system?: unknown; user?: unknown } | null = null;
  // The parser's message is kept in ours: jsii compiles for ES2020, whose Error takes no `cause`.
  let notJson: string | undefined;
  try { parsed = JSON.parse(text); } catch (e) { notJson = (e as Error).message; }
  if (notJson !== undefined) throw new Error(`ModelGateway: ${file} is not JSON (${notJson})`);
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
