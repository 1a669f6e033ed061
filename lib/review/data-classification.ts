/**
 * Which tiers' text each data store and log can hold. The templates tell where data flows (a log
 * group a state machine writes its execution data to, an endpoint's data capture bucket, the fields
 * of an access-log format, a database's statement logging); what the code puts into a store they
 * cannot tell, so that is declared below, one row per store kind, matched by construct path and
 * type, with a fallback per Workload tag. A store nothing matches is listed as UNCLASSIFIED (and
 * test/review fails on it): whoever adds a store says here what it holds.
 */
import { TemplateView, asArray, workloadOf } from './sections';

type Json = any;

export interface ClassificationRow {
  readonly store: string;
  readonly type: string;
  readonly holds: string;
  /** "every tier (...)", "questions of every tier", or "none" (no document, question or answer text). */
  readonly tiers: string;
  /** What the row rests on: "template: ..." (derived) or "declared" (the table below). */
  readonly basis: string;
}

interface Declared {
  readonly path: RegExp;
  readonly type?: string;
  readonly holds: string;
  /** 'all': text of every tier; 'questions': questions of every tier's callers; 'none'. */
  readonly tiers: 'all' | 'questions' | 'none';
}

const FUNCTION_LOGS = 'structured records the function\'s code writes (ids, keys, counts, outcomes, error messages); the code logs no document, question or answer text, but an error message may quote what an AWS or database error quotes';

/** What the code puts in each store (the templates cannot tell). Most specific first. */
const DECLARED: Declared[] = [
  { path: /^Intake\/Bucket$/, type: 'AWS::S3::Bucket', holds: 'uploaded documents', tiers: 'all' },
  { path: /^Intake\/AccessLogs$/, type: 'AWS::S3::Bucket', holds: 'S3 server access logs of the buckets (object keys, requesters, source IPs)', tiers: 'none' },
  { path: /^Work\/Bucket$/, type: 'AWS::S3::Bucket', holds: 'extracted text, chunks and reviewed text of pipeline runs', tiers: 'all' },
  { path: /^Capture\/Bucket$/, type: 'AWS::S3::Bucket', holds: 'SageMaker data capture: sampled requests and responses of the embedding endpoint (document chunks, and questions where that endpoint embeds them)', tiers: 'all' },
  { path: /^Audit\/Bucket$/, type: 'AWS::S3::Bucket', holds: 'the audit trail: one record per request with the principal, tier, screened question, chunk ids and the answer', tiers: 'all' },
  { path: /^Audit\/Results$/, type: 'AWS::S3::Bucket', holds: 'Athena query results over the audit trail (questions and answers)', tiers: 'all' },
  { path: /^Gateway\/Table$/, holds: 'model gateway state: cached answers (each item one tier) and spend budgets', tiers: 'all' },
  { path: /^VectorDb\/Instance$/, holds: 'chunks and embeddings of every document, row-level security per tier', tiers: 'all' },
  // Aurora: the cluster volume holds the data; its instances (writer, readers) compute over it and hold caches of it.
  { path: /^VectorDb\/Cluster$/, holds: 'chunks and embeddings of every document (the Aurora cluster volume), row-level security per tier', tiers: 'all' },
  { path: /^VectorDb\/Cluster\/(Writer|Reader\d+)$/, holds: 'no storage of its own: an instance of the vector database cluster, serving (and caching in memory) the chunks of every tier', tiers: 'all' },
  { path: /Secret$/, type: 'AWS::SecretsManager::Secret', holds: 'database credentials', tiers: 'none' },
  { path: /^IngestionQueue\/(Queue|DeadLetter)$/, holds: 'S3 event notifications (bucket, key, version id)', tiers: 'none' },
  { path: /^Review(Queue|DeadLetter)$/, holds: 'human review tasks (task token, run id, document key, cause)', tiers: 'none' },
  { path: /^AsyncFailures$/, holds: 'failed asynchronous invocation events of the functions (their input: keys and metadata)', tiers: 'none' },
  { path: /^Network\/FlowLogs$/, holds: 'VPC flow logs (addresses, ports, bytes)', tiers: 'none' },
  { path: /Logs$/, type: 'AWS::Logs::LogGroup', holds: FUNCTION_LOGS, tiers: 'none' },
  { path: /./, type: 'AWS::Cognito::UserPool', holds: 'user identities (email) and tier group membership', tiers: 'none' },
];

/** Fallbacks by type and Workload tag, so a new log group of a known workload is still classified. */
const BY_WORKLOAD: Array<{ type: string; workload: RegExp; holds: string; tiers: Declared['tiers'] }> = [
  { type: 'AWS::Logs::LogGroup', workload: /^(pipeline|ingestion|query|vector-db|platform|inference)$/, holds: FUNCTION_LOGS, tiers: 'none' },
  { type: 'AWS::Logs::LogGroup', workload: /^(network|observability)$/, holds: 'operational logs (no document data)', tiers: 'none' },
  { type: 'AWS::SQS::Queue', workload: /./, holds: 'messages between functions (keys and metadata)', tiers: 'none' },
];

/** The types classified: stores that can hold data, and the Step Functions execution data. */
export const CLASSIFIED_TYPES = ['AWS::S3::Bucket', 'AWS::Logs::LogGroup', 'AWS::SQS::Queue', 'AWS::RDS::DBInstance', 'AWS::RDS::DBCluster', 'AWS::DynamoDB::Table', 'AWS::SecretsManager::Secret', 'AWS::Cognito::UserPool', 'AWS::StepFunctions::StateMachine'];

export const UNCLASSIFIED = 'UNCLASSIFIED';

export function classifyStores(views: TemplateView[], tierNames: string[]): ClassificationRow[] {
  const every = tierNames.length ? `every tier (${tierNames.join(', ')})` : 'every tier';
  const tierText = (t: Declared['tiers']) => (t === 'all' ? every : t === 'questions' ? `questions of ${every}` : 'none');
  const rows: ClassificationRow[] = [];
  // SageMaker data capture, over all stacks: an endpoint and the bucket it writes to may sit in two.
  const capture = new Map<string, string>();
  for (const v of views) {
    for (const [id, r] of Object.entries<Json>(v.resources)) {
      const dc = r.Type === 'AWS::SageMaker::EndpointConfig' ? r.Properties?.DataCaptureConfig : undefined;
      if (!dc || dc.EnableCapture === false) continue;
      const uri = v.show(dc.DestinationS3Uri);
      capture.set(uri, `${v.stack}:${v.pathOf(id)} captures ${asArray<Json>(dc.CaptureOptions).map((o) => o.CaptureMode).join(' and ')} of ${dc.InitialSamplingPercentage}% of requests to ${uri}`);
    }
  }
  const bucketFed = (v: TemplateView, r: Json) => {
    const name = v.show(r.Properties?.BucketName);
    return name ? [...capture.entries()].filter(([uri]) => uri.startsWith(`s3://${name}/`) || uri === `s3://${name}`) : [];
  };
  for (const v of views) {
    const ids = (type: string) => Object.entries<Json>(v.resources).filter(([, r]) => r.Type === type);
    const idOf = (x: Json): string | undefined => (typeof x?.Ref === 'string' ? x.Ref : Array.isArray(x?.['Fn::GetAtt']) ? x['Fn::GetAtt'][0] : undefined);
    // Where the templates say what flows into a log group
    const derived = new Map<string, { holds: string; tiers: string }>();
    for (const [id, r] of ids('AWS::StepFunctions::StateMachine')) {
      for (const d of asArray<Json>(r.Properties?.LoggingConfiguration?.Destinations)) {
        const lg = idOf(d.CloudWatchLogsLogGroup?.LogGroupArn);
        if (!lg) continue;
        const withData = r.Properties.LoggingConfiguration.IncludeExecutionData === true;
        derived.set(lg, withData
          ? { holds: `execution log of ${v.pathOf(id)} WITH execution data (every state's input and output: document keys, version ids, tier, counts, errors; text travels by S3 key, not inline)`, tiers: 'none' }
          : { holds: `execution log of ${v.pathOf(id)} without execution data (state names, timings, errors)`, tiers: 'none' });
      }
    }
    for (const [, r] of ids('AWS::ApiGateway::Stage')) {
      const dest = v.show(r.Properties?.AccessLogSetting?.DestinationArn);
      const lg = Object.keys(v.resources).find((k) => v.resources[k].Type === 'AWS::Logs::LogGroup' && dest.includes(`{${v.pathOf(k)}}`));
      if (!lg) continue;
      const fields = [...String(r.Properties.AccessLogSetting.Format ?? '').matchAll(/\$context\.([\w.]+)/g)].map((m) => m[1]);
      const body = fields.some((f) => /requestBody|responseBody/.test(f));
      derived.set(lg, { holds: `API access log, fields ${fields.join(', ')}${fields.includes('identity.sourceIp') ? ' (caller IPs and subjects: personal data)' : ''}`, tiers: body ? `questions of ${every}` : 'none' });
    }
    for (const [, r] of ids('AWS::WAFv2::LoggingConfiguration')) {
      for (const d of asArray<Json>(r.Properties?.LogDestinationConfigs)) {
        const lg = idOf(d);
        if (!lg) continue;
        const redacted = asArray<Json>(r.Properties.RedactedFields).map((f) => f.SingleHeader?.Name ?? Object.keys(f)[0]);
        derived.set(lg, { holds: `WAF request log (URI, query string, headers, source IP, matched rules; not the body)${redacted.length ? `, redacted: ${redacted.join(', ')}` : ': headers NOT redacted, so bearer tokens in Authorization are logged'}`, tiers: 'none' });
      }
    }
    for (const [, r] of ids('AWS::EC2::FlowLog')) {
      const lg = idOf(r.Properties?.LogGroupName) ?? idOf(r.Properties?.LogDestination);
      if (lg) derived.set(lg, { holds: `VPC flow logs (${r.Properties.TrafficType ?? 'ALL'} traffic: addresses, ports, bytes)`, tiers: 'none' });
    }
    // RDS instances log under /aws/rds/instance/<id>/, Aurora clusters under /aws/rds/cluster/<id>/.
    const databases = [
      ...ids('AWS::RDS::DBInstance').filter(([, r]) => !r.Properties?.DBClusterIdentifier).map(([id, r]) => ({ id, name: v.show(r.Properties?.DBInstanceIdentifier), kind: 'instance', pg: idOf(r.Properties?.DBParameterGroupName) })),
      ...ids('AWS::RDS::DBCluster').map(([id, r]) => ({ id, name: v.show(r.Properties?.DBClusterIdentifier), kind: 'cluster', pg: idOf(r.Properties?.DBClusterParameterGroupName) })),
    ];
    for (const { id, name, kind, pg } of databases) {
      const params = pg ? v.resources[pg]?.Properties?.Parameters ?? {} : {};
      for (const [lg, g] of ids('AWS::Logs::LogGroup')) {
        const lgName = v.show(g.Properties?.LogGroupName);
        if (!name || !lgName.startsWith(`/aws/rds/${kind}/${name}/`)) continue;
        if (lgName.endsWith('/postgresql')) {
          const stmt = params.log_statement ?? 'none';
          const slow = params.log_min_duration_statement;
          // log_parameter_max_length=0 keeps bind parameters out of logged statements (PostgreSQL 13+);
          // the statements themselves are parameterized, so no chunk text or vector is in the text.
          const noParams = params.log_parameter_max_length !== undefined && Number(params.log_parameter_max_length) === 0;
          const texty = !noParams && (stmt === 'all' || stmt === 'mod' || (slow !== undefined && Number(slow) >= 0));
          derived.set(lg, {
            holds: `PostgreSQL log of ${v.pathOf(id)}: log_statement=${stmt}, log_min_duration_statement=${slow ?? '-1'}${noParams ? ', log_parameter_max_length=0 (statements without their bind parameters)' : ''}${texty ? ' (logged statements carry their parameters: chunk text and query vectors of a slow insert or search)' : ''}`,
            tiers: texty ? every : 'none',
          });
        } else derived.set(lg, { holds: `RDS ${lgName.split('/').pop()} log of ${v.pathOf(id)}`, tiers: 'none' });
      }
    }
    for (const [id, r] of ids('AWS::Lambda::Function')) {
      const lg = idOf(r.Properties?.LoggingConfig?.LogGroup);
      if (lg && !derived.has(lg)) {
        const level = r.Properties.LoggingConfig.ApplicationLogLevel;
        derived.set(lg, { holds: `logs of ${v.pathOf(id)} (application level ${level ?? 'as the code sets'}): ${FUNCTION_LOGS}${level === 'DEBUG' || level === 'TRACE' ? '; DEBUG level: check what the code writes at it' : ''}`, tiers: 'none' });
      }
    }
    for (const [id, r] of Object.entries<Json>(v.resources)) {
      if (!CLASSIFIED_TYPES.includes(r.Type)) continue;
      const path = v.pathOf(id);
      const store = `${v.stack}:${path}`;
      if (r.Type === 'AWS::StepFunctions::StateMachine') {
        rows.push({ store, type: r.Type, holds: 'execution history kept by Step Functions: every state\'s input and output (document keys, version ids, tier, counts, errors; text travels by S3 key)', tiers: 'none', basis: 'declared (what the states pass)' });
        continue;
      }
      const d = derived.get(id);
      if (d) {
        rows.push({ store, type: r.Type, holds: d.holds, tiers: d.tiers, basis: 'template' });
        continue;
      }
      const declared = DECLARED.find((x) => x.path.test(path) && (!x.type || x.type === r.Type));
      if (declared) {
        let holds = declared.holds;
        let basis = 'declared';
        if (r.Type === 'AWS::S3::Bucket') {
          const fed = bucketFed(v, r);
          if (fed.length) {
            holds = `${holds}; ${fed.map(([, t]) => t).join('; ')}`;
            basis = 'declared + template (data capture)';
          }
        }
        rows.push({ store, type: r.Type, holds, tiers: tierText(declared.tiers), basis });
        continue;
      }
      const fallback = BY_WORKLOAD.find((x) => x.type === r.Type && x.workload.test(workloadOf(r) ?? ''));
      if (fallback) rows.push({ store, type: r.Type, holds: fallback.holds, tiers: tierText(fallback.tiers), basis: `declared by Workload tag ${workloadOf(r)}` });
      else rows.push({ store, type: r.Type, holds: UNCLASSIFIED, tiers: UNCLASSIFIED, basis: 'nothing in lib/review/data-classification.ts matches it' });
    }
  }
  // An endpoint capturing to a bucket outside these templates is still a store of every tier's text.
  for (const [uri, text] of capture) {
    const inApp = views.some((w) => Object.values<Json>(w.resources).some((r) => r.Type === 'AWS::S3::Bucket' && bucketFed(w, r).some(([u]) => u === uri)));
    if (!inApp) rows.push({ store: uri, type: 'SageMaker data capture', holds: text, tiers: every, basis: 'template (destination outside these templates)' });
  }
  return rows;
}
