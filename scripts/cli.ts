/**
 * Flag parsing shared by the npm scripts: Node's own `util.parseArgs` in strict mode, plus what it
 * lacks: `--help`, a one-line error with a did-you-mean for an unknown flag, and `-c key=value`
 * context pairs the way the CDK CLI takes them.
 */
import { parseArgs } from 'util';
import { nearest } from '../lib/config';

export interface Flag {
  readonly type: 'string' | 'boolean';
  readonly description: string;
  /** Shown in --help, e.g. `<dir>`. */
  readonly value?: string;
  readonly default?: string;
  readonly short?: string;
  readonly multiple?: boolean;
}

export interface Cli {
  readonly name: string;
  /** One or more usage lines after "Usage: ". */
  readonly usage: string;
  readonly summary: string;
  readonly flags: Record<string, Flag>;
  /** Flags that are passed on to another program (deploy passes cdk deploy flags). */
  readonly passThrough?: boolean;
}

export class CliError extends Error {}

export function helpText(cli: Cli): string {
  const rows = Object.entries(cli.flags).map(([name, f]) => {
    const left = `${f.short ? `-${f.short}, ` : '    '}--${name}${f.value ? ` ${f.value}` : ''}`;
    return [left, `${f.description}${f.default !== undefined ? ` (default: ${f.default})` : ''}`];
  });
  rows.push(['-h, --help', 'this text']);
  const width = Math.max(...rows.map(([l]) => l.length)) + 2;
  return [`Usage: ${cli.usage}`, '', cli.summary, '', ...rows.map(([l, r]) => `  ${l.padEnd(width)}${r}`)].join('\n');
}

/**
 * Parses argv against `cli.flags`; prints help and exits 0 on -h/--help. Throws `CliError` with one
 * line naming the flag and the nearest valid one on an unknown flag, or naming the flag and what it
 * needs on a missing value.
 */
export function parseCli(cli: Cli, argv: string[] = process.argv.slice(2)): { values: Record<string, string | boolean | string[] | undefined>; rest: string[] } {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(helpText(cli));
    process.exit(0);
  }
  const options = Object.fromEntries(Object.entries(cli.flags).map(([name, f]) => [name, { type: f.type, ...(f.short ? { short: f.short } : {}), ...(f.multiple ? { multiple: true } : {}) }]));
  const names = Object.keys(cli.flags).map((n) => `--${n}`);
  // A negative number after a flag that takes a value is that value (`--chunks-per-doc -3`), so the
  // range check can name it, not a missing value.
  argv = argv.flatMap((a, i) => (/^-\d/.test(argv[i + 1] ?? '') && cli.flags[a.replace(/^--/, '')]?.type === 'string' ? [`${a}=${argv[i + 1]}`] : /^-\d/.test(a) && cli.flags[(argv[i - 1] ?? '').replace(/^--/, '')]?.type === 'string' ? [] : [a]));
  try {
    const { values, positionals, tokens } = parseArgs({ args: argv, options, strict: !cli.passThrough, allowPositionals: true, tokens: true });
    if (!cli.passThrough && positionals.length) throw new CliError(`${cli.name}: unexpected argument "${positionals[0]}" (flags take the form --name value; ${cli.name} -- --help lists them)`);
    // With pass-through, what is not ours goes on, in order.
    const rest: string[] = [];
    if (cli.passThrough) {
      for (const t of tokens ?? []) {
        if (t.kind === 'option' && !cli.flags[t.name]) rest.push(t.rawName, ...(t.value !== undefined && !t.inlineValue ? [t.value] : []));
        else if (t.kind === 'positional') rest.push(t.value);
        else if (t.kind === 'option-terminator') rest.push('--');
      }
    }
    return { values: values as Record<string, string | boolean | string[] | undefined>, rest };
  } catch (e) {
    if (e instanceof CliError) throw e;
    const err = e as Error & { code?: string };
    if (err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      const flag = /'([^']+)'/.exec(err.message)?.[1] ?? err.message;
      throw new CliError(`${cli.name}: unknown flag ${flag}; did you mean ${nearest(flag, names)}? (${cli.name} -- --help lists the flags)`);
    }
    if (err.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
      const flag = /--[\w-]+/.exec(err.message)?.[0] ?? '';
      const spec = cli.flags[flag.slice(2)];
      throw new CliError(`${cli.name}: ${flag} needs a value${spec?.value ? ` ${spec.value}` : ''}: ${spec?.description ?? err.message}`);
    }
    throw new CliError(`${cli.name}: ${err.message}`);
  }
}

/** `-c key=value` pairs (as the CDK CLI takes them) into a context object. */
export function contextPairs(cli: Cli, pairs: readonly string[] | undefined): Record<string, string> {
  const ctx: Record<string, string> = {};
  for (const p of pairs ?? []) {
    const eq = p.indexOf('=');
    if (eq <= 0) throw new CliError(`${cli.name}: -c ${JSON.stringify(p)}: expected key=value, e.g. -c stage=production`);
    ctx[p.slice(0, eq)] = p.slice(eq + 1);
  }
  return ctx;
}

/** Runs `main`, turning a CliError (or a StageConfigError) into its message and exit code 2 (1). */
export function runCli(main: () => void | Promise<void>): void {
  Promise.resolve()
    .then(main)
    .catch((e: Error) => {
      console.error(e.message);
      process.exit(e instanceof CliError ? 2 : 1);
    });
}

/** The context flag every script that resolves a stage accepts. */
export const CONTEXT_FLAG: Flag = { type: 'string', short: 'c', multiple: true, value: 'key=value', description: 'stage context, as for cdk synth (stage, configFile, alarmEmail, ...)' };
