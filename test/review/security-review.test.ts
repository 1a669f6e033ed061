/// <reference lib="dom" />
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { assemblyFingerprint, escapeMarkdown, collectBuildInfo, headerFacts, markStaleReviews, reviewCloudAssembly, reviewStack, securityReviewHtml, securityReviewMarkdown, withMarkdownHeader } from '../../lib/review';
import { synthStage, validationReport } from '../helpers';

const cell = escapeMarkdown;

describe('security review of the synthesized pilot', () => {
  // What `cdk synth` writes, copied elsewhere: the review must need nothing but the assembly.
  const synthesized = synthStage('pilot', { alarmEmail: 'oncall@example.com', 'aws:cdk:enable-path-metadata': true }, { rulePacks: true });
  const assembly = fs.mkdtempSync(path.join(os.tmpdir(), 'assembly-'));
  fs.cpSync(synthesized.outdir, assembly, { recursive: true });
  const review = reviewCloudAssembly(assembly);
  const md = securityReviewMarkdown(review);
  const lines = md.split('\n');
  const templates = Object.values(synthesized.templates).map((t) => t.toJSON());

  test('covers every stack, with its resources by type', () => {
    expect(review.stacks.map((s) => s.name).sort()).toEqual(Object.keys(synthesized.templates).sort());
    for (const s of review.stacks) {
      expect(md).toContain(`## Stack ${s.name}`);
      expect(s.resourcesByType.reduce((n, [, c]) => n + c, 0)).toBe(s.resourceCount);
    }
  });

  test('names every IAM role in the templates, with its statements', () => {
    const roleIds = templates.flatMap((t) => Object.entries<any>(t.Resources).filter(([, r]) => r.Type === 'AWS::IAM::Role').map(([id]) => id));
    expect(roleIds.length).toBeGreaterThan(10);
    for (const id of roleIds) expect(md).toContain(`(logical ID \`${id}\`)`);
    // every statement of an attached managed policy shows up under its role
    const storeRole = review.stacks.flatMap((s) => s.roles).find((r) => r.path === 'Pipeline/Store/ServiceRole')!;
    expect(storeRole.statements.map((s) => s.actions.join(','))).toEqual(expect.arrayContaining(['rds-db:connect']));
  });

  test('flags every statement that allows a wildcard resource', () => {
    const statements = review.stacks.flatMap((s) => s.roles.flatMap((r) => r.statements));
    const wildcard = statements.filter((s) => s.effect === 'Allow' && s.resources.includes('*'));
    expect(wildcard.length).toBeGreaterThan(0);
    for (const s of wildcard) expect(s.flags).toContain('wildcard resource (*)');
    expect(lines.some((l) => l.includes('xray:PutTelemetryRecords') && l.includes('**wildcard resource (\\*)**'))).toBe(true);
  });

  test('names every acknowledgement with its reason and the construct it sits on', () => {
    const acks = validationReport(synthesized.outdir).pluginReports.filter((p) => p.pluginName !== 'CloudFormation-Validate').flatMap((p) => p.suppressedViolations ?? []);
    expect(acks.length).toBeGreaterThan(50);
    expect(review.acknowledgements).toHaveLength(acks.length);
    for (const a of acks) {
      const row = lines.find((l) => l.includes(cell(a.ruleName)) && l.includes(`\`${a.acknowledgedAt}\``) && l.includes(cell(a.reason)));
      expect({ ack: a.acknowledgedId, at: a.acknowledgedAt, listed: !!row }).toEqual({ ack: a.acknowledgedId, at: a.acknowledgedAt, listed: true });
    }
  });

  test('lists encryption at rest for every data store, with the key', () => {
    const stores = review.stacks.flatMap((s) => s.encryption);
    const intake = stores.find((e) => e.path === 'Intake/Bucket')!;
    expect(intake).toMatchObject({ encryption: 'SSE-KMS (aws:kms)', key: '{Intake/Key.Arn}', customerManaged: true });
    expect(stores.find((e) => e.type === 'AWS::RDS::DBCluster')).toMatchObject({ key: '{VectorDb/Key.Arn}', customerManaged: true });
    // Aurora instances store nothing of their own: not listed as data stores (so not as unencrypted ones)
    expect(stores.filter((e) => e.type === 'AWS::RDS::DBInstance')).toEqual([]);
    // Not on a customer key, each acknowledged: the access-log bucket (S3 log delivery needs SSE-S3), the
    // GPU endpoint config (instance types with NVMe instance storage refuse a KMS volume key) and the
    // question endpoint's serverless config (a serverless variant has no instance volume in the account).
    expect(stores.filter((e) => !e.customerManaged).map((e) => e.path).sort()).toEqual(['Embedding/Config', 'Intake/AccessLogs', 'QuestionEmbedding/Config']);
    const dataStores = templates.flatMap((t) => Object.values<any>(t.Resources).filter((r) => /^AWS::(S3::Bucket|SQS::Queue|SNS::Topic|RDS::DBCluster|Logs::LogGroup|SecretsManager::Secret|DynamoDB::Table)$/.test(r.Type)));
    expect(stores.filter((e) => e.type !== 'AWS::Lambda::Function' && e.type !== 'AWS::StepFunctions::StateMachine' && e.type !== 'AWS::SageMaker::EndpointConfig')).toHaveLength(dataStores.length);
  });

  test('shows the network exposure: no internet path, ingress only from inside', () => {
    const net = review.stacks.find((s) => s.name === 'docai-pilot-data')!.network;
    expect(net).toMatchObject({ internetGateways: [], natGateways: [], publicSubnets: [], publicEndpoints: [] });
    expect(net.ingress.length).toBeGreaterThan(0);
    expect(net.ingress.filter((i) => i.open)).toEqual([]);
    expect(md).toMatch(/- internet gateways: none/);
  });

  test('includes the guard results and the readiness summary', () => {
    expect(review.guard).toMatchObject({ conclusion: 'success', open: [] });
    expect(md).toContain('## Control Tower guard results');
    expect(md).toMatch(/\| data \| \*\*partially ready\*\* \| DatabaseBackupsProduction \(warning\), DatabaseMultiAz \(warning\), AuditTrailLocked \(warning\) \|/);
    // the one internet-facing resource is named for the reviewer (and nothing else is exposed)
    expect(md).toMatch(/\| internet exposure \(gateways, public subnets, public endpoints, open ingress\) \| API Gateway REST API Query\/Api \(QueryApi[0-9A-F]{8}\) \|/);
    expect(md).toMatch(/\| security-and-cost \| \*\*ready\*\* \| - \|/);
  });
});

describe('security review flags what a reviewer must look at', () => {
  const template = {
    Resources: {
      Role: { Type: 'AWS::IAM::Role', Properties: { AssumeRolePolicyDocument: { Statement: [{ Effect: 'Allow', Action: 'sts:AssumeRole', Principal: { Service: 'lambda.amazonaws.com' } }] } } },
      Policy: { Type: 'AWS::IAM::Policy', Properties: { Roles: [{ Ref: 'Role' }], PolicyDocument: { Statement: [
        { Effect: 'Allow', Action: 's3:*', Resource: '*' },
        { Effect: 'Allow', Action: 's3:GetObject', Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': ['Bucket', 'Arn'] }, '/*']] } },
        { Effect: 'Allow', Action: 'sqs:SendMessage', Resource: { 'Fn::GetAtt': ['Queue', 'Arn'] }, Condition: { Bool: { 'aws:SecureTransport': 'true' } } },
      ] } } },
      Bucket: { Type: 'AWS::S3::Bucket', Properties: {} },
      Queue: { Type: 'AWS::SQS::Queue', Properties: { KmsMasterKeyId: 'alias/aws/sqs' } },
      Igw: { Type: 'AWS::EC2::InternetGateway', Properties: {} },
      PublicSubnet: { Type: 'AWS::EC2::Subnet', Properties: { MapPublicIpOnLaunch: true } },
      Sg: { Type: 'AWS::EC2::SecurityGroup', Properties: { GroupDescription: 'web', SecurityGroupIngress: [{ IpProtocol: 'tcp', FromPort: 22, ToPort: 22, CidrIp: '0.0.0.0/0' }] } },
      Db: { Type: 'AWS::RDS::DBInstance', Properties: { PubliclyAccessible: true, StorageEncrypted: false } },
    },
  };
  const s = reviewStack('fixture', 'fixture.template.json', template);

  test('wildcard actions and resources are flagged; scoped statements are not', () => {
    const [all, objects, send] = s.roles[0].statements;
    expect(all.flags).toEqual(['wildcard action', 'wildcard resource (*)']);
    expect(objects).toMatchObject({ resources: ['{Bucket.Arn}/*'], flags: ['wildcard in resource'] });
    expect(send).toMatchObject({ flags: [], conditions: 'Bool aws:SecureTransport = true' });
  });

  test('data stores without a customer-managed key are marked', () => {
    expect(s.encryption.map((e) => [e.logicalId, e.customerManaged])).toEqual([['Bucket', false], ['Queue', false], ['Db', false]]);
  });

  test('internet gateways, public subnets, open ingress and public databases are listed', () => {
    expect(s.network.internetGateways).toEqual(['Igw']);
    expect(s.network.publicSubnets).toEqual(['PublicSubnet']);
    expect(s.network.ingress).toEqual([{ group: 'Sg', protocol: 'tcp', ports: '22', source: '0.0.0.0/0', description: undefined, open: true }]);
    expect(s.network.publicEndpoints).toEqual(['publicly accessible database Db']);
  });

  test('a directory that is not a cloud assembly is refused with the fix', () => {
    expect(() => reviewCloudAssembly(fs.mkdtempSync(path.join(os.tmpdir(), 'empty-')))).toThrow(/not a cloud assembly \(no manifest.json\): run "npx cdk synth" first/);
  });
});

describe('the HTML review, rendered in headless Chromium', () => {
  const synthesized = synthStage('pilot', { alarmEmail: 'oncall@example.com', 'aws:cdk:enable-path-metadata': true }, { rulePacks: true });
  const review = reviewCloudAssembly(synthesized.outdir);
  const md = securityReviewMarkdown(review);
  const header = { generatedAt: '2026-11-22T10:00:00.000Z', assembly: 'cdk.out', fingerprint: assemblyFingerprint(synthesized.outdir), build: collectBuildInfo({ stage: 'pilot', projectName: 'docai', context: { stage: 'pilot', alarmEmail: 'oncall@example.com', '@aws-cdk/core:checkSecretUsage': true } }) };
  const html = securityReviewHtml(md, header);
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'review-html-')), 'security-review.html');
  fs.writeFileSync(file, html);

  /**
   * The characters a reader must see, from the Markdown itself: code spans verbatim, backslash
   * escapes resolved, bold markers dropped. Any other `*` or `<...>` is counted too, so one that a
   * renderer would turn into italics or swallow as a tag makes the counts differ.
   */
  function literalText(markdown: string): string {
    return markdown.split('\n').map((line) => (line.match(/`[^`]*`|\\.|\*\*|[^`\\*]+|\*/g) ?? []).map((t) => {
      if (t.startsWith('`')) return t.slice(1, -1).replace(/\\\|/g, '|');
      if (t.startsWith('\\')) return t.slice(1);
      return t === '**' ? '' : t;
    }).join('')).join('\n');
  }
  const count = (s: string, re: RegExp) => (s.match(re) ?? []).length;
  const PLACEHOLDER = /<[A-Za-z][\w:]*>/g;

  let page: { text: string; tocTargets: string[]; missingTargets: string[]; pageWidth: number; viewport: number; widestTable: number; bodyWidth: number; stale: boolean };
  beforeAll(async () => {
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    try {
      const p = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      await p.goto(`file://${file}`);
      page = await p.evaluate(() => {
        const main = document.querySelector('main') as HTMLElement;
        const targets = Array.from(document.querySelectorAll('nav.toc a')).map((a) => (a as HTMLAnchorElement).getAttribute('href')!.slice(1));
        return {
          text: main.innerText,
          tocTargets: targets,
          missingTargets: targets.filter((id) => !document.getElementById(id)),
          pageWidth: document.documentElement.scrollWidth,
          viewport: window.innerWidth,
          widestTable: Math.max(...Array.from(document.querySelectorAll('main table')).map((t) => (t as HTMLElement).getBoundingClientRect().width)),
          bodyWidth: document.body.getBoundingClientRect().width,
          stale: !!document.querySelector('.stale'),
        };
      });
      // Kept for a person to look at: build/review-screenshot.png (the acknowledgement table).
      fs.mkdirSync(path.join(__dirname, '..', '..', 'build'), { recursive: true });
      await p.locator('#acknowledged-findings').scrollIntoViewIfNeeded();
      await p.screenshot({ path: path.join(__dirname, '..', '..', 'build', 'review-screenshot.png') });
    } finally {
      await browser.close();
    }
  }, 60_000);

  test('every wildcard and every <placeholder> of the Markdown is visible in the rendered text', () => {
    const literal = literalText(md);
    expect(count(literal, /\*/g)).toBeGreaterThan(20);
    expect(count(literal, PLACEHOLDER)).toBeGreaterThan(100);
    expect(count(page.text, /\*/g)).toBe(count(literal, /\*/g));
    expect(count(page.text, PLACEHOLDER)).toBe(count(literal, PLACEHOLDER));
    // and each statement's actions and resources verbatim, e.g. arn:<AWS::Partition>:iam::<AWS::AccountId>:root
    for (const st of review.stacks.flatMap((s) => s.roles.flatMap((r) => r.statements))) {
      for (const v of [...st.actions, ...st.resources]) expect(page.text).toContain(v);
    }
    for (const a of review.acknowledgements) expect(page.text).toContain(a.reason.replace(/\n/g, ' '));
  });

  test('no table runs off the page: long cells wrap, wide tables scroll inside the page', () => {
    expect(page.pageWidth).toBeLessThanOrEqual(page.viewport);
    expect(page.widestTable).toBeLessThanOrEqual(page.bodyWidth);
  });

  test('a table of contents links to every section', () => {
    expect(page.tocTargets).toEqual(expect.arrayContaining(['summary', 'rule-packs', 'acknowledged-findings', 'control-tower-guard-results', 'production-readiness', 'stack-docai-pilot-data']));
    expect(page.missingTargets).toEqual([]);
    expect(page.stale).toBe(false);
  });

  test('the header says when, from which commit, library version, stage and context', () => {
    for (const [k, v] of headerFacts(header)) expect(html).toContain(`<th scope="row">${k}</th><td><code>${v.replace(/&/g, '&amp;').replace(/</g, '&lt;')}</code></td>`);
    expect(header.build.context).toEqual({ alarmEmail: 'oncall@example.com', stage: 'pilot' });
    expect(header.build.awsCdkLibVersion).toBe(JSON.parse(fs.readFileSync(require.resolve('aws-cdk-lib/package.json'), 'utf8')).version);
    expect(header.build.gitCommit).toMatch(/^[0-9a-f]{40}( \(with uncommitted changes\))?$|^unknown/);
  });

  test('a synth that changes the templates marks an earlier review STALE, in the file and on the console', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stale-'));
    fs.cpSync(synthesized.outdir, dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'security-review.html'), securityReviewHtml(md, { ...header, fingerprint: assemblyFingerprint(dir) }));
    fs.writeFileSync(path.join(dir, 'security-review.md'), withMarkdownHeader(md, { ...header, fingerprint: assemblyFingerprint(dir) }));
    expect(markStaleReviews(dir)).toEqual([]);
    const t = path.join(dir, 'docai-pilot-app.template.json');
    fs.writeFileSync(t, fs.readFileSync(t, 'utf8').replace('"Resources"', '"Resources" ')); // any change of a template
    expect(markStaleReviews(dir).map((f) => path.basename(f)).sort()).toEqual(['security-review.html', 'security-review.md']);
    expect(fs.readFileSync(path.join(dir, 'security-review.html'), 'utf8')).toMatch(/<body>\n<p class="stale" role="alert">STALE REVIEW/);
    expect(fs.readFileSync(path.join(dir, 'security-review.md'), 'utf8')).toMatch(/^> \*\*STALE REVIEW/);
  });
});
