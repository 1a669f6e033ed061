import { spawnSync } from 'child_process';
import * as fs from 'fs';
import { AppProps, Stack } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';

/** The context key aws-cdk-lib reads to decide which stacks bundle their assets (cx-api BUNDLING_STACKS). */
const BUNDLING_STACKS = 'aws:cdk:bundling-stacks';

/** CLI commands that upload assets and change an account: they need bundled Lambda code. */
const DEPLOYING_COMMANDS = new Set(['deploy', 'watch', 'import', 'migrate', 'publish-assets']);

/** True when a Docker daemon answers (`docker info` within a few seconds). */
export function dockerReachable(timeoutMs = 5000): boolean {
  if (process.env.DOCAI_ASSUME_NO_DOCKER === '1') return false;
  const r = spawnSync('docker', ['info', '--format', '{{.ServerVersion}}'], { timeout: timeoutMs, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return r.status === 0 && r.stdout.trim().length > 0;
}

function commandLineOf(pid: number): string[] | undefined {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((a) => a.length > 0);
  } catch {
    const r = spawnSync('ps', ['-o', 'args=', '-p', String(pid)], { encoding: 'utf8' });
    return r.status === 0 ? r.stdout.trim().split(/\s+/) : undefined;
  }
}

function parentOf(pid: number): number | undefined {
  try {
    // /proc/<pid>/stat: "pid (comm) state ppid ..."; comm may contain spaces, so split after ')'.
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    return Number.isInteger(ppid) && ppid > 0 ? ppid : undefined;
  } catch {
    const r = spawnSync('ps', ['-o', 'ppid=', '-p', String(pid)], { encoding: 'utf8' });
    const ppid = Number(r.stdout?.trim());
    return r.status === 0 && ppid > 0 ? ppid : undefined;
  }
}

/**
 * The CDK CLI command this app runs under (`synth`, `deploy`, ...), found by walking up the process
 * tree to the `cdk` process. The CLI does not tell the app which command it runs, and the app must
 * refuse `deploy` of unbundled Lambda code before the CLI touches AWS. `undefined` when the app was
 * not started by the CLI (tests, `tsx bin/app.ts`).
 */
export function cdkCliCommand(): string | undefined {
  let pid: number | undefined = process.ppid;
  for (let depth = 0; pid && pid > 1 && depth < 12; depth++) {
    const argv = commandLineOf(pid);
    if (argv) {
      const cdkIndex = argv.findIndex((a) => /(^|[\\/])cdk(\.js)?$/.test(a) || /aws-cdk[\\/]bin[\\/]cdk/.test(a));
      if (cdkIndex >= 0) {
        const rest = argv.slice(cdkIndex + 1);
        for (let i = 0; i < rest.length; i++) {
          const a = rest[i];
          if (!a.startsWith('-')) return a;
          // options that take a value: skip the value too
          if (/^(-c|--context|-a|--app|-o|--output|--profile|--role-arn|-r|--plugin|-p|--tags|-t)$/.test(a)) i++;
        }
        return undefined;
      }
    }
    pid = parentOf(pid);
  }
  return undefined;
}

export interface BundlingDecision {
  /** Skip Docker bundling of the Python Lambdas (templates stay complete; assets are not deployable). */
  readonly skipBundling: boolean;
  /** Set when the requested command cannot proceed: the message to print before exiting non-zero. */
  readonly refusal?: string;
  /** One line for stderr when bundling is skipped. */
  readonly notice?: string;
}

/** Decides whether to bundle Lambda assets for this run. */
export function decideBundling(opts: { dockerAvailable: boolean; cliCommand: string | undefined }): BundlingDecision {
  if (opts.dockerAvailable) return { skipBundling: false };
  if (opts.cliCommand && DEPLOYING_COMMANDS.has(opts.cliCommand)) {
    return {
      skipBundling: true,
      refusal:
        `docai-blueprint: refusing 'cdk ${opts.cliCommand}': no Docker daemon is reachable, and Docker is needed to bundle the ` +
        'Python Lambdas (PythonFunction installs their requirements in a Lambda build image). Start Docker (docker info must ' +
        'succeed) and run the command again. Nothing was sent to AWS.',
    };
  }
  return {
    skipBundling: true,
    notice: 'docai-blueprint: no Docker daemon reachable: skipping Python Lambda bundling (templates are complete; these assets must not be deployed).',
  };
}

/** Raised when a deploying CDK command cannot run without Docker (the message says what to do). */
export class BundlingRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BundlingRefusedError';
  }
}

let dockerAnswered: boolean | undefined;

/**
 * The switch between bundling the Python Lambdas with Docker and synthesizing without Docker. bin/app.ts
 * and a consumer's app use it the same way: `new App(LambdaBundling.appProps())`. Without a reachable
 * Docker daemon (or with `DOCAI_ASSUME_NO_DOCKER=1`) `cdk synth` skips bundling (templates complete,
 * Lambda assets unbundled and not deployable) and `cdk deploy` is refused before anything reaches AWS.
 * The switch has to be given to the App: the CDK CLI always passes `aws:cdk:bundling-stacks=["**"]` and
 * refuses `-c aws:...` keys, so only the App's `postCliContext` can turn bundling off.
 */
export class LambdaBundling {
  /**
   * Props for `new App(...)`: `props` with bundling skipped when Docker is not reachable. Throws
   * BundlingRefusedError under `cdk deploy` (and other deploying commands) without Docker.
   * @param props the App props you would pass otherwise
   */
  public static appProps(props: AppProps = {}): AppProps {
    const decision = decideBundling({ dockerAvailable: LambdaBundling.dockerAvailable(), cliCommand: cdkCliCommand() });
    if (decision.refusal) throw new BundlingRefusedError(decision.refusal);
    if (decision.notice) process.stderr.write(`${decision.notice}\n`);
    if (!decision.skipBundling) return props;
    return { ...props, postCliContext: { ...props.postCliContext, [BUNDLING_STACKS]: [] } };
  }

  /** True when a Docker daemon answers (asked once per process). */
  public static dockerAvailable(): boolean {
    if (dockerAnswered === undefined) dockerAnswered = dockerReachable();
    return dockerAnswered;
  }

  /**
   * Fails with the switch's name, instead of Docker's raw `exited with status 1`, when `scope`'s stack
   * must bundle Lambda code and no Docker daemon answers. Called by every Python Lambda construct.
   */
  public static assertBundlingPossible(scope: IConstruct, id: string): void {
    if (!Stack.of(scope).bundlingRequired || LambdaBundling.dockerAvailable()) return;
    throw new Error(
      `docai-blueprint: ${[scope.node.path, id].filter((p) => p).join('/')} is a Python Lambda bundled with Docker, and no Docker daemon answers (docker info failed). ` +
        'Start Docker, or synthesize without bundling (templates complete, Lambda assets not deployable): create the app with ' +
        '`new App(LambdaBundling.appProps())` (import { LambdaBundling } from \'docai-blueprint\'), as bin/app.ts does; it skips bundling ' +
        'when Docker is missing and refuses `cdk deploy`. In tests, `new App({ context: { \'aws:cdk:bundling-stacks\': [] } })` does the same.');
  }
}
