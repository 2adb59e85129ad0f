import { nearest } from './suggest.js';

/**
 * yargs' usage error as one line: its `\n` folded, a "did you mean" for each mistyped flag (also
 * when yargs reports something else first, like the required flag it was meant to be), and a
 * pointer to the help of the command that was meant (`tlmigrate apply --help`).
 */
export function usageMessage(message: string, argv: readonly string[], commands: readonly string[], knownOptions: readonly string[]): string {
  const command = argv.find((word) => commands.includes(word));
  const help = `(see tlmigrate${command ? ` ${command}` : ''} --help)`;
  const unknown = unknownFlags(argv, knownOptions);
  const oneLine = message.replace(/\s*\n\s*/g, ' ').trim();
  const guess = (flag: string) => nearest(flag, knownOptions.filter((o) => o.length > 1))[0];
  // yargs names each unknown flag twice (max-rmp, maxRmp) and without its dashes: say it as typed.
  if (/^Unknown arguments?: /.test(oneLine) && unknown.length) {
    const named = unknown.map((flag) => {
      const match = guess(flag);
      return unknown.length === 1 ? `--${flag}${match ? `: did you mean --${match}?` : ''}` : `--${flag}${match ? ` (did you mean --${match}?)` : ''}`;
    });
    return `Unknown ${unknown.length === 1 ? 'flag' : 'flags'} ${named.join(', ')} ${help}`;
  }
  const hints = unknown.flatMap((flag) => {
    const match = guess(flag);
    return match ? [`--${flag}: did you mean --${match}?`] : [];
  });
  return `${oneLine}${hints.length ? `; ${hints.join('; ')}` : ''} ${help}`;
}

/** The `--flags` in argv that the command does not know (`--no-x` counts as `--x`). */
function unknownFlags(argv: readonly string[], knownOptions: readonly string[]): string[] {
  if (knownOptions.length === 0) return [];
  const known = new Set(knownOptions);
  const flags = argv.filter((word) => /^--[^-]/.test(word)).map((word) => word.slice(2).split('=')[0] ?? '');
  return [...new Set(flags)].filter((flag) => !known.has(flag) && !(flag.startsWith('no-') && known.has(flag.slice(3))));
}
