import * as path from 'path';
import { synthStage } from '../helpers';
import { ContractAssembly } from './assembly';
import { ContractCall, Denial, describeDenial, evaluateCall } from './evaluate';
import { contractCalls, readRecordedCalls, RecordedCall } from './recorded-calls';
import { TEST_BINDINGS } from './bindings';

export * from './assembly';
export * from './evaluate';
export * from './recorded-calls';
export * from './state-machine-calls';
export * from './bindings';

/** Where lambda/tests/call_recorder.py writes (scripts/test.sh may point DOCAI_CALL_LOG_DIR elsewhere). */
export const RECORDED_CALLS_DIR = process.env.DOCAI_CALL_LOG_DIR ?? path.join(__dirname, '..', '..', 'build', 'recorded-calls');

export async function evaluateAll(assembly: ContractAssembly, calls: readonly ContractCall[]): Promise<Denial[]> {
  const denials: Denial[] = [];
  for (const c of calls) denials.push(...(await evaluateCall(assembly, c)));
  return denials;
}

/** Recorded calls evaluated against an assembly; returns one line per denied call (empty = all allowed). */
export async function deniedRecordedCalls(assembly: ContractAssembly, recorded: readonly RecordedCall[]): Promise<string[]> {
  return (await evaluateAll(assembly, contractCalls(assembly, recorded, TEST_BINDINGS))).map(describeDenial);
}

export function readRecording(name: 'pytest' | 'e2e'): RecordedCall[] {
  const file = path.join(RECORDED_CALLS_DIR, `${name}.jsonl`);
  try {
    return readRecordedCalls(file);
  } catch (e) {
    throw new Error(`No recording at ${file}: the permission contract needs the AWS calls the Python tests made. Run \`npm test\` (it runs pytest first) or \`npm run test:py\`. (${(e as Error).message})`, { cause: e });
  }
}

/**
 * A stage synthesized as `cdk synth` does (with `aws:cdk:path` metadata, which names the construct of
 * every resource), read as a contract assembly. Cached per test file, like synthStage.
 */
export function contractAssembly(stage: string, overrides: Record<string, unknown> = {}): ContractAssembly {
  return ContractAssembly.fromDirectory(synthStage(stage, { ...overrides, 'aws:cdk:enable-path-metadata': true }).outdir);
}
