/**
 * The permission contract: what moto, PGlite and the local Step Functions runner cannot see.
 *
 * Every AWS call the Python code made while pytest ran (lambda/tests/call_recorder.py; scripts/test.sh
 * runs pytest before jest), every call the state machines make (from their synthesized definitions),
 * every call SageMaker makes with the endpoint's execution role, and every call a human reviewer
 * makes, evaluated against the synthesized templates of both stages with an IAM policy evaluator
 * (@cloud-copilot/iam-simulate): identity policies, the target's resource policy, and for targets on a
 * customer managed key the KMS actions the service requires (kms-requirements.ts) against the key
 * policy. The end-to-end pipeline test does the same for the calls of the pipeline handlers.
 */
import { AssemblyResource, ContractAssembly, ContractCall, contractAssembly, contractCalls, describeDenial, evaluateAll, evaluateCall, functionForCaller, readRecording, rolePrincipal, stateMachineCalls, TEST_BINDINGS } from '.';
import { imageFor, InferenceFramework, PUBLISHED_IMAGES } from '../../lib/gpu-inference';
import { invocationFor, PRESETS, stageSupportedRegions } from '../../lib/config';
import { synthStage } from '../helpers';

const STAGES = ['pilot', 'production'] as const;

describe.each(STAGES)('permission contract, %s stage', (stage) => {
  let assembly: ContractAssembly;
  beforeAll(() => { assembly = contractAssembly(stage); });

  test('every AWS call the Python tests recorded is allowed for the function that makes it', async () => {
    const calls = contractCalls(assembly, readRecording('pytest'), TEST_BINDINGS);
    expect(calls.length).toBeGreaterThan(0);
    expect((await evaluateAll(assembly, calls)).map(describeDenial)).toEqual([]);
  });

  test('every Python function of the app makes at least one recorded call (pytest or the end-to-end test)', () => {
    const python = assembly.resources((r) => r.type === 'AWS::Lambda::Function' && String(r.properties.Runtime).startsWith('python'));
    // Which deployed function each pytest call ran as (the same attribution the contract uses).
    const covered = new Set(readRecording('pytest').map((c) => functionForCaller(assembly, c.caller).logicalId));
    // The pipeline handlers' calls are checked by test/document-pipeline/pipeline-e2e.test.ts against both stages.
    const e2e = ['validate_handler', 'extract_handler', 'chunk_handler', 'embed_handler', 'store_handler', 'delete_handler', 'record_failure_handler', 'mark_for_review_handler', 'backfill_item_handler', 'retier_handler'].map((h) => `pipeline_handlers.${h}`);
    // Functions that call no AWS API at all: nothing to record, and their roles grant nothing to call one with.
    const noAwsCalls = ['jwks_handler.handler']; // one HTTPS GET of the user pool's public keys (lambda/tests/test_jwks_handler.py)
    const uncovered = python.filter((f) => !covered.has(f.logicalId) && !e2e.includes(String(f.properties.Handler)) && !noAwsCalls.includes(String(f.properties.Handler))).map((f) => String(f.properties.Handler));
    expect(uncovered).toEqual([]);
    for (const f of python.filter((fn) => noAwsCalls.includes(String(fn.properties.Handler)))) {
      const role = assembly.resources((r) => r.type === 'AWS::IAM::Role').find((r) => assembly.arn(r) === assembly.resolve(f.stack, f.properties.Role))!;
      const actions = assembly.resources((r) => (r.type === 'AWS::IAM::Policy' || r.type === 'AWS::IAM::ManagedPolicy') && JSON.stringify(r.properties.Roles ?? []).includes(role.logicalId))
        .flatMap((p) => [p.properties.PolicyDocument.Statement].flat()).flatMap((st: any) => [st.Action].flat());
      // Besides tracing and the managed basic-execution policy (logs): the dead-letter queue, which the Lambda service
      // writes with the function's role for a failed asynchronous invocation.
      expect(actions.filter((a: string) => !a.startsWith('xray:'))).toEqual(['sqs:SendMessage']);
    }
  });

  test('every state machine role allows every task integration, Distributed Map child execution and item reader', async () => {
    const machines = assembly.resources((r) => r.type === 'AWS::StepFunctions::StateMachine');
    expect(machines.length).toBeGreaterThanOrEqual(2);
    const calls = machines.flatMap((m) => stateMachineCalls(assembly, m));
    expect(calls.map((c) => c.action)).toEqual(expect.arrayContaining(['lambda:InvokeFunction', 'sqs:SendMessage', 'sns:Publish', 'states:StartExecution', 's3:ListBucket']));
    expect((await evaluateAll(assembly, calls)).map(describeDenial)).toEqual([]);
  });

  test('each SageMaker execution role can pull its image from the registry AWS publishes for the region and read its pinned model archive', async () => {
    const models = assembly.resources((r) => r.type === 'AWS::SageMaker::Model');
    expect(models.length).toBeGreaterThan(0);
    const calls: ContractCall[] = [];
    for (const model of models) {
      const m = assembly.resolve(model.stack, model.properties);
      const image = String(m.PrimaryContainer.Image);
      const { region } = assembly.env(model.stack);
      const framework = (Object.keys(PUBLISHED_IMAGES) as InferenceFramework[]).find((f) => image.includes(`/${PUBLISHED_IMAGES[f].repository}:`))!;
      expect(image).toBe(imageFor(framework, region).imageUri); // the URI is the one AWS publishes (images.test.ts checks the table)
      const [, registry, repository] = /^(\d{12})\.dkr\.ecr\.[^/]+\/([^:]+):/.exec(image)!;
      const role = assembly.resources((r) => r.type === 'AWS::IAM::Role').find((r) => assembly.arn(r) === m.ExecutionRoleArn)!;
      const principal = rolePrincipal(assembly, role, `SageMaker model ${model.path} (${model.stack})`);
      const repoArn = `arn:aws:ecr:${region}:${registry}:repository/${repository}`;
      const call = (action: string, resource: string, target?: AssemblyResource, operation = action.split(':')[1]): ContractCall =>
        ({ principal, service: action.split(':')[0], operation, action, resource, target, origin: 'SageMaker CreateModel/endpoint (https://docs.aws.amazon.com/sagemaker/latest/dg/sagemaker-roles.html#sagemaker-roles-createmodel-perms)' });
      calls.push(call('ecr:GetAuthorizationToken', '*'), call('ecr:BatchGetImage', repoArn), call('ecr:GetDownloadUrlForLayer', repoArn), call('ecr:BatchCheckLayerAvailability', repoArn));
      // The pinned model archive in this account's bucket (staged by scripts/stage_model.py, outside the templates).
      if (framework !== InferenceFramework.LARGE_MODEL_INFERENCE) expect(m.PrimaryContainer.ModelDataUrl).toBeDefined();
      if (m.PrimaryContainer.ModelDataUrl) {
        const [, bucketName, key] = /^s3:\/\/([^/]+)\/(.+)$/.exec(String(m.PrimaryContainer.ModelDataUrl))!;
        expect(bucketName).toBe(`docai-models-${assembly.env(model.stack).account}-${region}`);
        calls.push(call('s3:GetObject', `arn:aws:s3:::${bucketName}/${key}`, undefined, 'GetObject'));
      }
      const configs = assembly.resources((r) => r.type === 'AWS::SageMaker::EndpointConfig' && r.stack === model.stack)
        .map((c) => assembly.resolve(c.stack, c.properties)).filter((c) => c.DataCaptureConfig && (c.ProductionVariants ?? []).some((v: any) => v.ModelName === undefined || v.ModelName === assembly.attribute(model, 'ModelName')));
      for (const c of configs) {
        const [, bucketName, prefix] = /^s3:\/\/([^/]+)\/?(.*)$/.exec(String(c.DataCaptureConfig.DestinationS3Uri))!;
        const bucket = assembly.resources((r) => r.type === 'AWS::S3::Bucket').find((b) => assembly.ref(b) === bucketName)!;
        calls.push(call('s3:PutObject', `arn:aws:s3:::${bucketName}/${prefix ? `${prefix}/` : ''}${c.EndpointConfigName ?? 'endpoint'}/AllTraffic/2026/11/22/18/capture.jsonl`, bucket, 'PutObject'));
      }
      // Data capture is opt-in (embedding.dataCaptureOptIn): the presets capture nothing.
      expect(configs).toEqual([]);
    }
    expect((await evaluateAll(assembly, calls)).map(describeDenial)).toEqual([]);
  });

  test('the shipped reviewer policy is enough to read a review task, read the document, supply text and approve or reject', async () => {
    const [policy] = assembly.resources((r) => r.type === 'AWS::IAM::ManagedPolicy' && r.path === 'Pipeline/ReviewerPolicy/Resource');
    expect(policy).toBeDefined();
    const { account } = assembly.env(policy.stack);
    const principal = { label: `reviewer with ${assembly.ref(policy)}`, arn: `arn:aws:iam::${account}:role/reviewer`, account, identityPolicies: [{ name: 'reviewer', policy: assembly.resolve(policy.stack, policy.properties.PolicyDocument) }] };
    const queue = assembly.byPath('-data', 'ReviewQueue', 'AWS::SQS::Queue');
    const intake = assembly.byPath('-data', 'Intake/Bucket', 'AWS::S3::Bucket');
    const work = assembly.byPath('-data', 'Work/Bucket', 'AWS::S3::Bucket');
    const machine = assembly.byPath('-app', 'Pipeline/StateMachine', 'AWS::StepFunctions::StateMachine');
    const c = (service: string, operation: string, action: string, resource: string, target: AssemblyResource): ContractCall => ({ principal, service, operation, action, resource, target, origin: 'README: human review' });
    const calls = [
      c('sqs', 'ReceiveMessage', 'sqs:ReceiveMessage', assembly.arn(queue), queue),
      c('sqs', 'DeleteMessage', 'sqs:DeleteMessage', assembly.arn(queue), queue),
      c('s3', 'GetObjectVersion', 's3:GetObjectVersion', `${assembly.arn(intake)}/scans/receipt.pdf`, intake),
      c('s3', 'PutObject', 's3:PutObject', `${assembly.arn(work)}/runs/upsert-0123abcd/reviewed.json`, work),
      // Task tokens have no resource-level permission (Service Authorization Reference): Resource "*";
      // the key of the state machine is what narrows it.
      c('states', 'SendTaskSuccess', 'states:SendTaskSuccess', '*', machine),
      c('states', 'SendTaskFailure', 'states:SendTaskFailure', '*', machine),
    ];
    expect((await evaluateAll(assembly, calls)).map(describeDenial)).toEqual([]);
    // ...and nothing else: not another bucket's objects, not other keys of the work bucket.
    const other = await evaluateCall(assembly, c('s3', 'PutObject', 's3:PutObject', `${assembly.arn(work)}/runs/upsert-0123abcd/vectors.json`, work));
    expect(other.map((d) => d.action)).toContain('s3:PutObject');
  });
});

/**
 * The Converse calls of every chain, in every region the stage supports: the synthesized template is
 * environment-agnostic, so each region is the same template resolved with another AWS::Region. What a
 * call needs comes from the model catalogue (Bedrock: the inference profile's ARN and the foundation
 * model in each destination region, https://docs.aws.amazon.com/bedrock/latest/userguide/inference-profiles-prereq.html),
 * and the id the gateway is configured to call must be the catalogue's for the region.
 */
function bedrockChainCalls(outdir: string, region: string, modelRegions?: (modelId: string) => readonly string[]): ContractCall[] {
  const assembly = ContractAssembly.fromDirectory(outdir, region);
  const fns = assembly.resources((r) => r.type === 'AWS::Lambda::Function' && r.properties.Environment?.Variables?.GATEWAY_CONFIG !== undefined);
  expect(fns.length).toBeGreaterThan(0);
  const calls: ContractCall[] = [];
  for (const fn of fns) {
    const gw = JSON.parse(String(assembly.resolve(fn.stack, fn.properties.Environment.Variables.GATEWAY_CONFIG)));
    const principal = rolePrincipal(assembly, assembly.byLogicalId(fn.stack, fn.properties.Role['Fn::GetAtt'][0]), `function ${fn.path} (${fn.stack}) in ${region}`);
    const { account } = assembly.env(fn.stack);
    for (const w of Object.values(gw.workflows) as Array<{ models: string[] }>) {
      for (const name of w.models) {
        const m = gw.models[name];
        if (m.provider !== 'bedrock') continue;
        const expected = invocationFor(m.modelId, region)!;
        expect({ region, name, invocationId: m.invocationId }).toEqual({ region, name, invocationId: expected.invocationId });
        const call = (resource: string): ContractCall => ({ principal, service: 'bedrock', operation: 'Converse', action: 'bedrock:InvokeModel', resource, origin: `gateway chain ${name} from ${region} (lib/config/model-catalog.ts)` });
        if (expected.profile) calls.push(call(`arn:aws:bedrock:${region}:${account}:inference-profile/${expected.invocationId}`));
        for (const d of modelRegions?.(m.modelId) ?? expected.foundationModelRegions) calls.push(call(`arn:aws:bedrock:${d}::foundation-model/${m.modelId}`));
      }
    }
  }
  return calls;
}

describe.each(STAGES)('Bedrock chains in every supported region, %s stage', (stage) => {
  let outdir: string;
  beforeAll(() => { outdir = synthStage(stage, { 'aws:cdk:enable-path-metadata': true }).outdir; });

  test('each gateway function may Converse with every model of its chains: in-region, or through the inference profile and each destination region', async () => {
    const regions = stageSupportedRegions(PRESETS[stage]);
    expect(regions).toEqual(expect.arrayContaining(['us-east-1', 'us-east-2', 'eu-west-1']));
    const profiles = new Set<string>();
    for (const region of regions) {
      const calls = bedrockChainCalls(outdir, region);
      for (const c of calls) if (c.resource.includes(':inference-profile/')) profiles.add(c.resource.split('/')[1]);
      expect((await evaluateAll(ContractAssembly.fromDirectory(outdir, region), calls)).map(describeDenial)).toEqual([]);
    }
    // Both kinds are exercised: us-east-1 in-region, the others through the US and EU profiles.
    expect([...profiles].sort()).toEqual(['eu.amazon.nova-lite-v1:0', 'eu.amazon.nova-micro-v1:0', 'us.amazon.nova-lite-v1:0', 'us.amazon.nova-micro-v1:0']);
  });

  test('and nothing wider: the foundation model in a region outside the profile stays denied', async () => {
    const calls = bedrockChainCalls(outdir, 'eu-west-1', () => ['ap-northeast-1', 'us-east-1']);
    const denied = (await evaluateAll(ContractAssembly.fromDirectory(outdir, 'eu-west-1'), calls.filter((c) => c.resource.includes('::foundation-model/')))).map(describeDenial);
    expect(denied.length).toBe(calls.filter((c) => c.resource.includes('::foundation-model/')).length);
  });
});

describe('the contract fails when a grant is missing', () => {
  test('without its guardrail statement, the query function\'s ApplyGuardrail is denied; every other gateway call stays allowed', async () => {
    const assembly = contractAssembly('pilot');
    const calls = contractCalls(assembly, readRecording('pytest').filter((c) => c.caller.startsWith('query_handler.')), TEST_BINDINGS);
    const actions = new Set(calls.map((c) => c.action));
    for (const a of ['bedrock:ApplyGuardrail', 'bedrock:InvokeModel', 'dynamodb:UpdateItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'ssm:GetParameter', 'lambda:InvokeFunction', 's3:PutObject', 'sagemaker:InvokeEndpoint']) expect(actions).toContain(a);
    const strip = (call: (typeof calls)[number]) => ({
      ...call,
      principal: {
        ...call.principal,
        identityPolicies: call.principal.identityPolicies.map((p) => ({ ...p, policy: { ...p.policy, Statement: [p.policy.Statement].flat().filter((s: any) => ![s.Action].flat().includes('bedrock:ApplyGuardrail')) } })),
      },
    });
    const denied = (await evaluateAll(assembly, calls.map(strip))).map(describeDenial);
    expect(denied.length).toBeGreaterThan(0);
    for (const d of denied) expect(d).toMatch(/needs bedrock:ApplyGuardrail on arn:aws:bedrock:/);
  });

  test.each(STAGES)('%s: the query function may invoke the question endpoint; in the pilot not the documents\' GPU endpoint', async (stage) => {
    const assembly = contractAssembly(stage);
    const ask = (EndpointName: string) => contractCalls(assembly, [{ source: 'test', test: null, caller: 'query_handler.handler', service: 'sagemaker-runtime', operation: 'InvokeEndpoint', params: { EndpointName } }], TEST_BINDINGS);
    expect((await evaluateAll(assembly, ask('docai-test-question-embed'))).map(describeDenial)).toEqual([]);
    const gpu = (await evaluateAll(assembly, ask('docai-test-embed'))).map(describeDenial);
    if (stage === 'pilot') expect(gpu).toEqual([expect.stringMatching(/needs sagemaker:InvokeEndpoint on arn:aws:sagemaker:[^:]+:\d+:endpoint\/docai-pilot-embed: ImplicitlyDenied/)]);
    else expect(gpu).toEqual([]); // production's question endpoint is the GPU endpoint
  });

  test('without its KMS statement, the ingestion function\'s StartExecution on the encrypted state machine is denied, naming the key', async () => {
    const assembly = contractAssembly('pilot');
    const [call] = contractCalls(assembly, readRecording('pytest').filter((c) => c.caller.startsWith('ingestion_handler.')), TEST_BINDINGS);
    expect(call.action).toBe('states:StartExecution');
    expect(await evaluateCall(assembly, call)).toEqual([]);
    const withoutKms = {
      ...call,
      principal: {
        ...call.principal,
        identityPolicies: call.principal.identityPolicies.map((p) => ({ ...p, policy: { ...p.policy, Statement: [p.policy.Statement].flat().filter((s: any) => ![s.Action].flat().some((a: string) => a.startsWith('kms:'))) } })),
      },
    };
    const denied = (await evaluateCall(assembly, withoutKms)).map(describeDenial);
    expect(denied).toEqual([expect.stringMatching(/StartExecution .* needs kms:GenerateDataKey on arn:aws:kms:.*customer managed key docai-pilot-app\/AppKey/)]);
  });
});

describe('the retrieve role\'s database users (issue 25, item 4), simulated over the synthesized roles', () => {
  const TIERS = ['public', 'internal', 'confidential', 'restricted'];
  const connect = (assembly: ContractAssembly, tier: string) => contractCalls(assembly, [{ source: 'test', test: null, caller: 'retrieve_handler.handler', service: 'rds', operation: 'GenerateDbAuthToken',
    params: { DBHostname: 'docai-test-db.cluster.local', Port: 5432, DBUsername: `docai_reader_${tier}`, Region: 'us-east-1' } }], TEST_BINDINGS);

  test('IAM authorization: the role may connect as the configured tier\'s reader only, never as another tier or the writer', async () => {
    const fs = await import('fs'); const os = await import('os'); const path = await import('path');
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'cfg-')), 'config.json');
    fs.writeFileSync(file, JSON.stringify({ query: { authorization: 'iam', iamCallerTier: 'internal' } }));
    const assembly = contractAssembly('pilot', { configFile: file });
    for (const tier of TIERS) {
      const denied = (await evaluateAll(assembly, connect(assembly, tier))).map(describeDenial);
      if (tier === 'internal') expect(denied).toEqual([]);
      else expect(denied).toEqual([expect.stringMatching(new RegExp(`needs rds-db:connect on .*dbuser:.*/docai_reader_${tier}: ImplicitlyDenied`))]);
    }
    const writer = contractCalls(assembly, [{ source: 'test', test: null, caller: 'retrieve_handler.handler', service: 'rds', operation: 'GenerateDbAuthToken',
      params: { DBHostname: 'docai-test-db.cluster.local', Port: 5432, DBUsername: 'docai_writer', Region: 'us-east-1' } }], TEST_BINDINGS);
    expect((await evaluateAll(assembly, writer)).length).toBe(1);
  });

  test('Cognito authorization: the role may connect as every reader (the verified token picks one: lambda/tests/test_retrieve_tier.py)', async () => {
    const assembly = contractAssembly('pilot');
    for (const tier of TIERS) expect((await evaluateAll(assembly, connect(assembly, tier))).map(describeDenial)).toEqual([]);
  });
});

describe('the vector store collector\'s database user (issue 26, item 4)', () => {
  test.each(STAGES)('%s: the collector may connect as docai_metrics (no table grant) and as no user that reads chunks', async (stage) => {
    const assembly = contractAssembly(stage);
    const as = (DBUsername: string) => contractCalls(assembly, [{ source: 'test', test: null, caller: 'vector_metrics_handler.handler', service: 'rds', operation: 'GenerateDbAuthToken',
      params: { DBHostname: 'docai-test-db.cluster.local', Port: 5432, DBUsername, Region: 'us-east-1' } }], TEST_BINDINGS);
    expect((await evaluateAll(assembly, as('docai_metrics'))).map(describeDenial)).toEqual([]);
    for (const user of ['docai_writer', 'docai_reader_restricted']) {
      expect((await evaluateAll(assembly, as(user))).map(describeDenial)).toEqual([expect.stringMatching(new RegExp(`needs rds-db:connect on .*dbuser:.*/${user}: ImplicitlyDenied`))]);
    }
  });
});
