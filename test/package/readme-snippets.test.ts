import * as fs from 'fs';
import * as path from 'path';
import * as ts from 'typescript';

const ROOT = path.join(__dirname, '..', '..');
const README = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');

interface Block { line: number; code: string; file?: string }

/** The README's ```ts blocks; one right after `<!-- file: path -->` is that file, shown whole. */
function tsBlocks(markdown: string): Block[] {
  const lines = markdown.split('\n');
  const out: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].trim() !== '```ts') continue;
    const end = lines.indexOf('```', i + 1);
    const marker = /^<!-- file: (\S+) -->$/.exec(lines[i - 1]?.trim() ?? '');
    out.push({ line: i + 2, code: lines.slice(i + 1, end).join('\n'), file: marker?.[1] });
    i = end;
  }
  return out;
}

/**
 * What the building-block snippets take as given (a scope's existing topic, function, placement...):
 * declared with the types the constructs take, so a snippet that passes the wrong thing fails to compile.
 */
const GIVEN = `
declare const topic: sns.ITopic;
declare const someFunction: lambda.Function;
declare const fn: lambda.Function;
declare const queue: IngestionQueue;
declare const intake: IntakeBucket;
declare const database: VectorDatabase;
declare const workBucket: WorkBucket;
declare const pipeline: DocumentPipeline;
declare const network: Network;
declare const placement: FunctionPlacement;
`;

const LIBRARY = path.join(ROOT, 'lib', 'blueprint');

function snippetModule(blocks: Block[]): { text: string; lineOf: (generatedLine: number) => number | undefined } {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const exported = new Set([...Object.keys(require(LIBRARY)), 'FunctionPlacement']);
  const used = new Set(blocks.flatMap((b) => b.code.match(/\b[A-Z][A-Za-z0-9_]*\b/g) ?? []).concat(GIVEN.match(/\b[A-Z][A-Za-z0-9_]*\b/g) ?? []));
  const header = [
    "import { Duration, Size } from 'aws-cdk-lib';",
    "import * as ec2 from 'aws-cdk-lib/aws-ec2';",
    "import * as kms from 'aws-cdk-lib/aws-kms';",
    "import * as lambda from 'aws-cdk-lib/aws-lambda';",
    "import * as s3 from 'aws-cdk-lib/aws-s3';",
    "import * as sns from 'aws-cdk-lib/aws-sns';",
    "import { Construct } from 'constructs';",
    `import { ${[...used].filter((n) => exported.has(n)).sort().join(', ')} } from ${JSON.stringify(LIBRARY)};`,
    GIVEN,
    'export {};',
  ].join('\n');
  const parts: string[] = [header];
  const starts: Array<{ at: number; block: Block }> = [];
  let lineNo = header.split('\n').length;
  for (const b of blocks) {
    parts.push(`function readme_line_${b.line}(this: Construct): void {`);
    lineNo += 1;
    starts.push({ at: lineNo + 1, block: b });
    parts.push(b.code, '}');
    lineNo += b.code.split('\n').length + 1;
  }
  return {
    text: parts.join('\n'),
    lineOf: (g) => {
      const s = [...starts].reverse().find((x) => g >= x.at);
      return s ? s.block.line + (g - s.at) : undefined;
    },
  };
}

function compile(rootFiles: string[]): readonly ts.Diagnostic[] {
  const config = ts.getParsedCommandLineOfConfigFile(path.join(ROOT, 'tsconfig.json'), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => undefined })!;
  const options: ts.CompilerOptions = {
    ...config.options, noEmit: true, noUnusedLocals: false, noUnusedParameters: false,
    // the example app imports the package by name: here its sources
    baseUrl: ROOT, paths: { 'docai-blueprint': ['lib/index.ts'], 'docai-blueprint/blueprint': ['lib/blueprint.ts'] },
  };
  const program = ts.createProgram(rootFiles, options);
  return ts.getPreEmitDiagnostics(program).filter((d) => d.file && rootFiles.includes(path.resolve(d.file.fileName)));
}

describe('README code', () => {
  const blocks = tsBlocks(README);

  test('a block shown as a file is that file, character for character', () => {
    const shown = blocks.filter((b) => b.file);
    expect(shown.map((b) => b.file)).toEqual(['examples/consumer/bin/app.ts', 'examples/consumer/lib/consumer-stack.ts']);
    for (const b of shown) expect(`${b.code}\n`).toBe(fs.readFileSync(path.join(ROOT, b.file!), 'utf8'));
  });

  test('every ts block compiles against the library', () => {
    const snippets = blocks.filter((b) => !b.file);
    expect(snippets.length).toBeGreaterThanOrEqual(5);
    const dir = fs.mkdtempSync(path.join(ROOT, 'build', 'readme-'));
    try {
      const mod = snippetModule(snippets);
      const file = path.join(dir, 'snippets.ts');
      fs.writeFileSync(file, mod.text);
      const consumer = ['bin/app.ts', 'lib/consumer-stack.ts'].map((f) => path.join(ROOT, 'examples', 'consumer', f));
      const problems = compile([file, ...consumer]).map((d) => {
        const { line } = d.file!.getLineAndCharacterOfPosition(d.start ?? 0);
        const where = d.file!.fileName === file ? `README.md:${mod.lineOf(line + 1)}` : path.relative(ROOT, d.file!.fileName);
        return `${where}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
      });
      expect(problems).toEqual([]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 300000);
});
