import { spawnSync } from 'child_process';
import * as fs from 'fs';

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
