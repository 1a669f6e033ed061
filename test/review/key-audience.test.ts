/**
 * Every customer-managed key earns its monthly charge by serving a key-policy audience no other key
 * of its stack serves (lib/review/key-audience.ts defines the audience); the security review lists
 * each key's audience, generated from the templates.
 */
import { audienceOf, canonicalConditions, KeyAudience, keysSharingAnAudience, render, reviewCloudAssembly, securityReviewMarkdown } from '../../lib/review';
import { synthStage } from '../helpers';

type Json = any;
const show = (v: unknown) => render(v);
const ROOT = { Effect: 'Allow', Principal: { AWS: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::', { Ref: 'AWS::AccountId' }, ':root']] } }, Action: 'kms:*', Resource: '*' };
const LOGS = (actions: string[], group = 'log-group:*') => ({
  Effect: 'Allow', Principal: { Service: 'logs.eu-west-1.amazonaws.com' }, Action: actions, Resource: '*',
  Condition: { ArnLike: { 'kms:EncryptionContext:aws:logs:arn': `arn:aws:logs:eu-west-1:111122223333:${group}` } },
});
const policy = (...statements: Json[]) => ({ Version: '2012-10-17', Statement: [ROOT, ...statements] });
const key = (stack: string, name: string, p: Json): KeyAudience => ({ stack, key: name, logicalId: name, description: '', audience: audienceOf(p, show), usedBy: [] });

describe('key-policy audience', () => {
  test('the account-root default is no member; a key with nothing else is the account\'s alone', () => {
    expect(audienceOf(policy(), show)).toEqual([]);
    // the account root under a condition is a member: it is a narrower delegation than the default
    expect(audienceOf(policy({ ...ROOT, Action: 'kms:Decrypt', Condition: { StringEquals: { 'kms:ViaService': 'secretsmanager.eu-west-1.amazonaws.com' } } }), show))
      .toEqual(['Allow AWS: arn:<Partition>:iam::<AccountId>:root if StringEquals kms:viaservice = secretsmanager.eu-west-1.amazonaws.com']);
  });

  test('conditions count exactly; actions do not; key order and key case do not', () => {
    const a = audienceOf(policy(LOGS(['kms:Encrypt*', 'kms:Decrypt*'])), show);
    expect(audienceOf(policy(LOGS(['kms:Decrypt*'])), show)).toEqual(a);
    expect(audienceOf(policy(LOGS(['kms:Decrypt*'], 'log-group:/aws/vpc/*')), show)).not.toEqual(a);
    const twoKeys = { StringEquals: { 'aws:SourceAccount': '1', 'aws:sourcearn': 'x' } };
    expect(canonicalConditions(twoKeys, show)).toBe(canonicalConditions({ StringEquals: { 'aws:SourceArn': 'x', 'aws:SourceAccount': '1' } }, show));
    expect(canonicalConditions(twoKeys, show)).not.toBe(canonicalConditions({ StringLike: { 'aws:SourceAccount': '1', 'aws:SourceArn': 'x' } }, show));
  });

  test('a Deny counts: the key administrator\'s denial sets a key apart', () => {
    const deny = { Effect: 'Deny', Principal: { AWS: '*' }, Action: ['kms:Decrypt'], Resource: '*', Condition: { ArnEquals: { 'aws:PrincipalArn': 'arn:aws:iam::111122223333:role/key-admin' } } };
    expect(audienceOf(policy(deny), show)).toEqual(['Deny AWS: * if ArnEquals aws:principalarn = arn:aws:iam::111122223333:role/key-admin']);
    expect(keysSharingAnAudience([key('s', 'A', policy()), key('s', 'B', policy(deny))])).toEqual([]);
  });

  test('two keys of one stack with one audience are found; the same audience in two stacks is not a finding', () => {
    const logs = policy(LOGS(['kms:Decrypt*']));
    expect(keysSharingAnAudience([key('data', 'FlowLogKey', logs), key('data', 'OperationsKey', policy(LOGS(['kms:Encrypt*']))), key('app', 'AppKey', logs)]))
      .toEqual([{ stack: 'data', keys: ['FlowLogKey', 'OperationsKey'], audience: expect.stringContaining('Allow Service: logs.eu-west-1.amazonaws.com if ArnLike') }]);
    expect(keysSharingAnAudience([key('data', 'A', logs), key('app', 'B', logs)])).toEqual([]);
  });
});

// Construct paths in the templates, as `cdk synth` writes them, so the review names keys and their users by path.
const CONTEXT = { alarmEmail: 'oncall@example.com', 'aws:cdk:enable-path-metadata': true };

describe.each(['pilot', 'production'])('the %s stage\'s keys', (stage) => {
  const s = synthStage(stage, CONTEXT);
  const review = reviewCloudAssembly(s.outdir);
  const md = securityReviewMarkdown(review);

  test('no two keys of one stack share an audience', () => {
    expect(review.keyAudiences.length).toBeGreaterThan(5);
    expect(review.keysSharingAnAudience).toEqual([]);
    expect(md).toContain('| keys sharing a key-policy audience with another key of their stack | none |');
  });

  test('the review lists every key of the templates with its audience and the resources using it', () => {
    const inTemplates = Object.entries(s.templates).flatMap(([stack, t]) => Object.entries<Json>(t.toJSON().Resources).filter(([, r]) => r.Type === 'AWS::KMS::Key').map(([id]) => `${stack}:${id}`));
    expect(review.keyAudiences.map((a) => `${a.stack}:${a.logicalId}`).sort()).toEqual(inTemplates.sort());
    for (const a of review.keyAudiences) {
      // a key nothing uses is a charge for nothing
      expect({ key: a.key, used: a.usedBy.length > 0 }).toEqual({ key: a.key, used: true });
      const section = md.slice(md.indexOf(`## Stack ${a.stack}`));
      expect(section.slice(0, section.indexOf('### Keys: who can decrypt'))).toContain(`| \`${a.key}\` |`);
    }
  });

  test('one key encrypts the data stack\'s logs (flow logs, migrations); the database, intake and audit keys stay apart, denied to the key administrator', () => {
    const data = review.keyAudiences.filter((a) => a.stack === `docai-${stage}-data`);
    const logsKey = data.find((a) => a.usedBy.includes('Logs::LogGroup Network/FlowLogs'))!;
    expect(logsKey.key).toBe('OperationsKey');
    expect(logsKey.usedBy).toEqual(expect.arrayContaining(['Logs::LogGroup VectorDb/MigrationsLogs']));
    expect(logsKey.audience.filter((m) => m.startsWith('Allow'))).toEqual([expect.stringMatching(/^Allow Service: logs\.<Region>\.amazonaws\.com if ArnLike kms:encryptioncontext:aws:logs:arn = /)]);
    for (const k of ['Intake/Key', 'VectorDb/Key', 'Audit/Key']) {
      expect({ k, denied: data.find((a) => a.key === k)!.audience.some((m) => m.startsWith('Deny AWS: * if ArnEquals aws:principalarn') && m.endsWith(`:role/docai-${stage}-key-admin`)) }).toEqual({ k, denied: true });
    }
  });
});

test('pilot and production create the same keys with the same audiences (a promotion re-keys nothing)', () => {
  const shape = (stage: string) => reviewCloudAssembly(synthStage(stage, CONTEXT).outdir).keyAudiences
    .map((a) => `${a.stack.replace(stage, '<stage>')}:${a.logicalId} ${a.audience.join('; ').replace(/s3:::[a-z0-9-]+-intake-[0-9a-f]{8}-/g, 's3:::<intake bucket>-').replace(new RegExp(stage, 'g'), '<stage>')}`).sort();
  expect(shape('production')).toEqual(shape('pilot'));
});

test('with cost-allocation tag activation, the cost stack\'s log key and alert-topic key serve two audiences', () => {
  const review = reviewCloudAssembly(synthStage('pilot', { ...CONTEXT, activateCostAllocationTags: true }).outdir);
  expect(review.keyAudiences.filter((a) => a.stack === 'docai-pilot-cost').map((a) => a.key).sort()).toEqual(['CostAlerts/Key', 'CostControls/LogKey']);
  expect(review.keysSharingAnAudience).toEqual([]);
});
