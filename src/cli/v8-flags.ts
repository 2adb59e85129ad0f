import { setFlagsFromString } from 'node:v8';

/**
 * V8 settings for the CLI's own process (never the library's: a host application keeps its own).
 * Set before anything is loaded; both are read when they apply, not only at start-up.
 * - `--semi-space-growth-factor=1`: the young generation keeps its initial 1 MiB semi-spaces
 *   instead of growing to 16 MiB during module loading; socket reads of a stream are freed at
 *   the next minor collection instead of piling up (about 30 MiB of peak RSS while streaming).
 * - `--liftoff-only`: fetch's HTTP parser (llhttp, WebAssembly) stays on the baseline compiler;
 *   its optimizing compile takes a ~20 MiB burst of native memory at the first API requests.
 * Figures and their run-time cost: docs/benchmarks.md, "The CLI's own memory".
 */
export const CLI_V8_FLAGS = ['--semi-space-growth-factor=1', '--liftoff-only'] as const;

/**
 * The flags for a command line: `plan` keeps V8's growing young generation. It streams no video,
 * and the growth factor's frequent minor collections cost it a sixth of its time at 100k objects
 * (docs/benchmarks.md, "bench:plan with the listing on its own thread").
 */
export function cliV8Flags(argv: readonly string[] = []): string[] {
  const command = commandOf(argv);
  return CLI_V8_FLAGS.filter((flag) => command !== 'plan' || flag !== '--semi-space-growth-factor=1');
}

/** The global options that take a value: a value is not the command (`--log-file plan apply ...`). */
const GLOBAL_VALUED = new Set(['--log-level', '--log-file']);

/** The command word of a command line, before yargs reads it: the first word that is neither an option nor a global option's value. */
export function commandOf(argv: readonly string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (GLOBAL_VALUED.has(arg)) i += 1;
    else if (!arg.startsWith('-')) return arg;
  }
  return undefined;
}

/** Applies {@link cliV8Flags} for this command line to this process. */
export function applyCliV8Flags(argv: readonly string[] = [], set: (flag: string) => void = setFlagsFromString): void {
  for (const flag of cliV8Flags(argv)) set(flag);
}
