import { App, Duration, Size, Stack } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { DocumentPipeline, MAX_EMBED_BATCHES, WorkBucket } from '../../lib/document-pipeline';
import { synthStage } from '../helpers';

const machineDef = (stage: string, prefix: string) => {
  const t = synthStage(stage).templates[`docai-${stage}-app`].toJSON();
  const [, sm] = Object.entries(t.Resources as Record<string, any>).find(([k, r]) => r.Type === 'AWS::StepFunctions::StateMachine' && k.startsWith(prefix))!;
  const parts: any[] = sm.Properties.DefinitionString['Fn::Join'][1];
  return { sm, def: JSON.parse(parts.map((p) => (typeof p === 'string' ? p : 'ARN')).join('')), t };
};

function allStates(def: any): Record<string, any> {
  const out: Record<string, any> = {};
  const walk = (states: Record<string, any>) => {
    for (const [name, s] of Object.entries(states)) {
      out[name] = s;
      if (s.ItemProcessor) walk(s.ItemProcessor.States);
      if (s.Iterator) walk(s.Iterator.States);
    }
  };
  walk(def.States);
  return out;
}

describe.each(['pilot', 'production'])('document pipeline of the %s stage', (stage) => {
  test('is a Standard state machine with encrypted logs, X-Ray tracing and a customer key', () => {
    const { sm, t } = machineDef(stage, 'PipelineStateMachine');
    expect(sm.Properties.StateMachineType).toBe('STANDARD');
    expect(sm.Properties.TracingConfiguration).toEqual({ Enabled: true });
    expect(sm.Properties.EncryptionConfiguration).toEqual(expect.objectContaining({ Type: 'CUSTOMER_MANAGED_KMS_KEY', KmsKeyId: expect.anything() }));
    expect(sm.Properties.LoggingConfiguration).toEqual(expect.objectContaining({ Level: 'ALL', IncludeExecutionData: stage === 'pilot' }));
    const logGroupId = sm.Properties.LoggingConfiguration.Destinations[0].CloudWatchLogsLogGroup.LogGroupArn['Fn::GetAtt'][0];
    expect(t.Resources[logGroupId].Properties.KmsKeyId).toBeDefined();
  });

  test('every Task retries transient errors with backoff long enough for a cold GPU endpoint', () => {
    const tasks = Object.entries(allStates(machineDef(stage, 'PipelineStateMachine').def)).filter(([, s]) => s.Type === 'Task');
    expect(tasks.length).toBeGreaterThanOrEqual(10);
    for (const [name, s] of tasks) {
      const transient = s.Retry?.find((r: any) => r.ErrorEquals.includes('TransientError'));
      expect({ name, transient: !!transient, jitter: transient?.JitterStrategy }).toEqual({ name, transient: true, jitter: 'FULL' });
      // a lost database connection is raised as DatabaseUnavailable; Step Functions matches the name, not the base class
      expect({ name, database: transient.ErrorEquals.includes('DatabaseUnavailable') }).toEqual({ name, database: true });
      const cold = s.Retry.find((r: any) => r.ErrorEquals.includes('EndpointNotReady'));
      // total wait before giving up: sum of min(interval * rate^i, maxDelay) over the attempts
      let total = 0;
      for (let i = 0; i < cold.MaxAttempts; i++) total += Math.min(cold.IntervalSeconds * (cold.BackoffRate ?? 2) ** i, cold.MaxDelaySeconds ?? Infinity);
      expect({ name, coversColdStart: total >= 600 }).toEqual({ name, coversColdStart: true }); // twice the ~5 min scale-out
      // A paused database: its own retrier, not the quick transient one (the first retrier that names an
      // error is the one applied). Attempts connect for up to 20 s each (docai_shared.db.CONNECT_TIMEOUT_S):
      // with the mean (half, full jitter) backoff they cover a resume from a day's sleep (30 s or more) several times.
      const resuming = s.Retry.find((r: any) => r.ErrorEquals.includes('DatabaseResuming'));
      expect({ name, separate: !!resuming && !transient.ErrorEquals.includes('DatabaseResuming') }).toEqual({ name, separate: true });
      let covered = 20;
      for (let i = 0; i < resuming.MaxAttempts; i++) covered += 20 + Math.min(resuming.IntervalSeconds * resuming.BackoffRate ** i, resuming.MaxDelaySeconds) / 2;
      expect({ name, coversResume: covered >= 120 }).toEqual({ name, coversResume: true });
    }
  });

  test('Embed waits for a scale-to-zero endpoint once per cold start (each retry is a billed transition), and polls an always-on one', () => {
    const embed = allStates(machineDef(stage, 'PipelineStateMachine').def).Embed;
    const cold = embed.Retry.find((r: any) => r.ErrorEquals.includes('EndpointNotReady'));
    if (stage === 'pilot') {
      // the cold start (6 min) + the scale-out alarm's minute, constant, no jitter: the window sends the batches together
      expect(cold).toEqual({ ErrorEquals: ['EndpointNotReady'], IntervalSeconds: 7 * 60, BackoffRate: 1, MaxAttempts: 4 });
    } else {
      expect(cold).toMatchObject({ IntervalSeconds: 30, BackoffRate: 1.5, MaxDelaySeconds: 120, JitterStrategy: 'FULL' });
    }
    // the other Tasks never call the endpoint: they keep the quick retrier
    expect(allStates(machineDef(stage, 'PipelineStateMachine').def).Store.Retry.find((r: any) => r.ErrorEquals.includes('EndpointNotReady')).IntervalSeconds).toBe(30);
  });

  test('every Task (and the Map) catches everything into RecordFailure, which ends in a Fail state', () => {
    const states = allStates(machineDef(stage, 'PipelineStateMachine').def);
    for (const [name, s] of Object.entries(states)) {
      if (!(s.Type === 'Task' || (s.Type === 'Map' && name === 'EmbedBatches'))) continue;
      if (name === 'Embed') continue; // inside the Map: the Map's own Catch applies
      const catchAll = s.Catch?.find((c: any) => c.ErrorEquals.includes('States.ALL'));
      const target = name === 'RecordFailure' ? 'FailureNotRecorded' : 'RecordFailure';
      expect({ name, next: catchAll?.Next }).toEqual({ name, next: target });
    }
    expect(states.RecordFailure.Next).toBe('DocumentFailed');
    expect(states.DocumentFailed.Type).toBe('Fail');
    // permanent errors: no retry on them, routed by name
    expect(states.Extract.Catch.find((c: any) => c.ErrorEquals.includes('NeedsHumanReview')).Next).toBe('MarkForReview');
    expect(states.Store.Catch.find((c: any) => c.ErrorEquals.includes('StaleVersion')).Next).toBe('Superseded');
    for (const s of Object.values(states)) for (const r of s.Retry ?? []) expect(r.ErrorEquals).not.toContain('States.ALL');
  });

  test('the embedding Map has a bounded concurrency and keeps its results out of state', () => {
    const { config } = synthStage(stage);
    const map = allStates(machineDef(stage, 'PipelineStateMachine').def).EmbedBatches;
    expect(map.MaxConcurrency).toBe(config.pipeline.embedConcurrency);
    expect(map.ResultPath).toBeNull();
  });

  test('each Embed item carries the run\'s workflow (Chunk computes it), so backfill and replay tokens are not counted as ingest', () => {
    const map = allStates(machineDef(stage, 'PipelineStateMachine').def).EmbedBatches;
    expect((map.ItemSelector ?? map.Parameters)['workflow.$']).toBe('$.chunked.workflow');
  });

  test('a tag change that makes a failed version valid runs the upsert path for it; the review task names the one key its approval may use', () => {
    const states = allStates(machineDef(stage, 'PipelineStateMachine').def);
    const after = states[states.Retier.Next];
    expect(after.Type).toBe('Choice');
    expect(after.Choices).toEqual([expect.objectContaining({ Variable: '$.retiered.rerun.versionId', IsPresent: true, Next: 'RerunAfterTagChange' })]);
    expect(states.RerunAfterTagChange).toMatchObject({ Type: 'Pass', Next: 'Validate', Parameters: expect.objectContaining({ action: 'upsert', 'sequencer.$': '$.retiered.rerun.sequencer' }) });
    expect(states.WaitForReview.Parameters.MessageBody['reviewedTextKey.$']).toBe('$.review.reviewedTextKey');
  });

  test('Delete and BackfillItem may list the intake bucket (HeadObject of a missing key is a 404 only then, a 403 without), and nothing more', () => {
    const t = synthStage(stage).templates[`docai-${stage}-app`].toJSON();
    const R = t.Resources as Record<string, any>;
    for (const prefix of ['PipelineDelete', 'PipelineBackfillItem']) {
      const fn = Object.entries(R).find(([k, r]) => r.Type === 'AWS::Lambda::Function' && k.startsWith(prefix))![1];
      const role = fn.Properties.Role['Fn::GetAtt'][0];
      const statements = Object.values(R).filter((r: any) => ['AWS::IAM::ManagedPolicy', 'AWS::IAM::Policy'].includes(r.Type) && (r.Properties.Roles ?? []).some((x: any) => x.Ref === role))
        .flatMap((p: any) => p.Properties.PolicyDocument.Statement);
      const list = statements.filter((st: any) => [st.Action].flat().includes('s3:ListBucket'));
      expect({ prefix, n: list.length }).toEqual({ prefix, n: 1 });
      expect(list[0].Action).toBe('s3:ListBucket');
      const resource = JSON.stringify(list[0].Resource);
      expect(resource).toContain('arn:');
      expect(resource).not.toContain('/*'); // the bucket, not its objects
    }
  });

  test('documents wait for the embedding window between Chunk and the embedding Map exactly when the stage has one', () => {
    const { config, templates } = synthStage(stage);
    const states = allStates(machineDef(stage, 'PipelineStateMachine').def);
    const chunkFn = Object.values<any>(templates[`docai-${stage}-app`].findResources('AWS::Lambda::Function')).find((f) => f.Properties.Handler === 'pipeline_handlers.chunk_handler');
    if (config.embedding.batchWindowMinutes > 0) {
      expect(states.Chunk.Next).toBe('WaitForEmbedWindow');
      expect(states.WaitForEmbedWindow).toMatchObject({ Type: 'Wait', TimestampPath: '$.chunked.embedNotBefore', Next: 'EmbedBatches' });
      expect(chunkFn.Properties.Environment.Variables.EMBED_WINDOW_MINUTES).toBe(String(config.embedding.batchWindowMinutes));
    } else {
      expect(states.Chunk.Next).toBe('EmbedBatches');
      expect(states.WaitForEmbedWindow).toBeUndefined();
      expect(chunkFn.Properties.Environment.Variables.EMBED_WINDOW_MINUTES).toBeUndefined();
    }
    expect(config.embedding.batchWindowMinutes).toBe(stage === 'pilot' ? 720 : 0);
  });

  test('the Extract function gets the resource bounds the extractor reads (the same defaults as lambda/pipeline/extraction.py Limits)', () => {
    const fns = Object.values<any>(synthStage(stage).templates[`docai-${stage}-app`].findResources('AWS::Lambda::Function'));
    const extract = fns.find((f) => f.Properties.Handler === 'pipeline_handlers.extract_handler');
    expect(extract.Properties.Environment.Variables).toMatchObject({
      EXTRACT_MAX_XML_PART_BYTES: String(32 * 1024 * 1024), EXTRACT_MAX_COMPRESSION_RATIO: '200', EXTRACT_MAX_PDF_PAGES: '2000', EXTRACT_MAX_EXTRACTED_CHARS: '10000000',
    });
  });

  test('human review waits on a task token with the configured timeout', () => {
    const wait = allStates(machineDef(stage, 'PipelineStateMachine').def).WaitForReview;
    expect(wait.Resource).toContain('sqs:sendMessage.waitForTaskToken');
    expect(wait.TimeoutSeconds).toBe(synthStage(stage).config.pipeline.humanReviewTimeoutHours * 3600);
  });

  test('the backfill re-embeds with a Distributed Map over the intake bucket, bounded and failure-tolerant', () => {
    const { config } = synthStage(stage);
    const map = Object.values(machineDef(stage, 'PipelineBackfill').def.States)[0] as any;
    expect(map.ItemProcessor.ProcessorConfig.Mode).toBe('DISTRIBUTED');
    expect(map.ItemReader.Resource).toContain('s3:listObjectsV2');
    expect(map.MaxConcurrency).toBe(config.pipeline.backfillConcurrency);
    expect(map.ToleratedFailurePercentage).toBe(config.pipeline.backfillToleratedFailurePercent);
  });

  test('the work bucket is encrypted, private, versioned and expires objects within days', () => {
    const t = synthStage(stage).templates[`docai-${stage}-data`].toJSON();
    const [, b] = Object.entries(t.Resources as Record<string, any>).find(([k]) => k.startsWith('WorkBucket'))!;
    expect(b.Properties.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault.SSEAlgorithm).toBe('aws:kms');
    expect(b.Properties.PublicAccessBlockConfiguration.BlockPublicAcls).toBe(true);
    // pilot: 72 h review + 12 h window + a day -> 5 days, +1; production: 72 h + a day -> 4 days, +1
    expect(b.Properties.LifecycleConfiguration.Rules[0]).toEqual(expect.objectContaining({ ExpirationInDays: stage === 'pilot' ? 6 : 5, Status: 'Enabled' }));
  });

  test('each function can touch only what its step needs', () => {
    const t = synthStage(stage).templates[`docai-${stage}-app`].toJSON();
    const R = t.Resources as Record<string, any>;
    const statementsOf = (fnPrefix: string) => {
      const fn = Object.entries(R).find(([k, r]) => r.Type === 'AWS::Lambda::Function' && k.startsWith(fnPrefix))![1];
      const role = fn.Properties.Role['Fn::GetAtt'][0];
      return Object.values(R).filter((r: any) => r.Type === 'AWS::IAM::ManagedPolicy' && (r.Properties.Roles ?? []).some((x: any) => x.Ref === role)).flatMap((p: any) => p.Properties.PolicyDocument.Statement);
    };
    const actions = (fnPrefix: string) => new Set(statementsOf(fnPrefix).flatMap((s: any) => [s.Action].flat()));
    // only Embed may call the endpoint, only database steps may connect, nobody lists or deletes objects
    for (const f of ['PipelineValidate', 'PipelineExtract', 'PipelineChunk', 'PipelineStore', 'PipelineDelete', 'PipelineRecordFailure']) expect(actions(f).has('sagemaker:InvokeEndpoint')).toBe(false);
    expect(actions('PipelineEmbed').has('sagemaker:InvokeEndpoint')).toBe(true);
    for (const f of ['PipelineValidate', 'PipelineExtract', 'PipelineChunk', 'PipelineEmbed']) expect(actions(f).has('rds-db:connect')).toBe(false);
    for (const f of ['PipelineStore', 'PipelineDelete', 'PipelineRecordFailure']) expect(actions(f).has('rds-db:connect')).toBe(true);
    for (const f of ['PipelineValidate', 'PipelineExtract', 'PipelineChunk', 'PipelineEmbed', 'PipelineStore']) {
      for (const a of actions(f)) expect({ f, a, wildcardOrDelete: /\*|Delete|List/.test(a) }).toEqual({ f, a, wildcardOrDelete: false });
    }
    // Validate reads documents but writes nothing
    expect([...actions('PipelineValidate')].filter((a) => a.startsWith('s3:')).sort()).toEqual(['s3:GetObject', 's3:GetObjectVersion']);
    // the writer role only
    const connect = statementsOf('PipelineStore').find((s: any) => s.Action === 'rds-db:connect');
    expect(JSON.stringify(connect.Resource)).toContain('docai_writer');
  });
});

test('DocumentPipeline validates its chunk settings', () => {
  expect(() => new DocumentPipeline(new Stack(), 'P', { chunkTokens: 100, chunkOverlapTokens: 100, maxDocumentSize: Size.mebibytes(1) } as any)).toThrow(/chunkOverlapTokens \(100\) must be smaller than chunkTokens \(100\)/);
});

test('the work bucket must outlive the longest run: review timeout + embedding window + a day', () => {
  // was: objects expired after 3 days while a document could wait 72 h for a reviewer, then 12 h for the window
  const { stacks, config } = synthStage('pilot');
  const days = stacks.data.workBucket.expiration.toDays();
  expect(days * 24).toBeGreaterThanOrEqual(config.pipeline.humanReviewTimeoutHours + config.embedding.batchWindowMinutes / 60 + 24);
  const app = new App();
  const stack = new Stack(app, 'S');
  const logs = new s3.Bucket(stack, 'Logs');
  const short = new WorkBucket(stack, 'W', { encryptionKey: new kms.Key(stack, 'K'), accessLogBucket: logs, expiration: Duration.days(3) });
  expect(() => new DocumentPipeline(stack, 'P', { ...({} as any), workBucket: short, humanReviewTimeout: Duration.hours(72), embedBatchWindow: Duration.hours(12) }))
    .toThrow(/the work bucket expires objects after 72 h, but a run can last 108 h/);
});

test('batch keys that could outgrow the 256 KiB state at the extraction bound are refused at synth, naming the fix', () => {
  const app = new App();
  const stack = new Stack(app, 'S');
  const logs = new s3.Bucket(stack, 'Logs');
  const work = new WorkBucket(stack, 'W', { encryptionKey: new kms.Key(stack, 'K'), accessLogBucket: logs, expiration: Duration.days(10) });
  // 10M characters of one-letter words: 5M tokens / 350 new tokens per chunk / 1 per batch = 14,286 batches
  expect(() => new DocumentPipeline(stack, 'P', { ...({} as any), workBucket: work, embedBatchSize: 1 }))
    .toThrow(new RegExp(`makes up to 14286 embedding batches, whose keys would exceed Step Functions' 256 KiB state \\(at most ${MAX_EMBED_BATCHES}\\)\\. Raise embedBatchSize`));
});

test('Chunk and Store get the memory their peak at the document bounds needs (npm run bench:limits), and Chunk its batch bound', () => {
  const t = synthStage('pilot').templates['docai-pilot-app'];
  const fns = Object.values(t.findResources('AWS::Lambda::Function')) as any[];
  const byHandler = (h: string) => fns.find((f) => f.Properties.Handler === `pipeline_handlers.${h}`).Properties;
  expect(byHandler('chunk_handler').MemorySize).toBe(2048);
  expect(byHandler('store_handler').MemorySize).toBe(2048);
  expect(byHandler('chunk_handler').Environment.Variables.MAX_EMBED_BATCHES).toBe('2000');
});
