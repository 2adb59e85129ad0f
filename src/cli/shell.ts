import { isAbsolute, relative, resolve } from 'node:path';

/**
 * Commands printed for the user to run next are pasted into a POSIX shell as they are: every word
 * is quoted when the shell would otherwise split, glob or expand it.
 */

/** One word for a POSIX shell: as is when safe, else in single quotes (`'` written as `'\''`). */
export function shellQuote(word: string): string {
  if (/^[\w@%+=:,./-]+$/.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** A command line from its words, each quoted as needed: `formatCommand(['tlmigrate', 'apply', 'my plan.json'])`. */
export function formatCommand(argv: readonly string[]): string {
  return argv.map(shellQuote).join(' ');
}

/**
 * A path as a command printed now should name it: relative to `cwd` when it lies inside it (short,
 * and right for a command run from here), else absolute; never starting with `-` (it would read as a flag).
 */
export function commandPath(path: string, cwd = process.cwd()): string {
  const absolute = resolve(cwd, path);
  const inside = relative(cwd, absolute);
  if (inside === '' || inside.startsWith('..') || isAbsolute(inside)) return absolute;
  return inside.startsWith('-') ? `./${inside}` : inside;
}

/** `--state FILE` when the state file is not the default one, so a printed command keeps it. */
export function stateFlag(state: string | undefined, defaultState = 'tlmigrate-state.json', cwd = process.cwd()): string[] {
  if (state === undefined || resolve(cwd, state) === resolve(cwd, defaultState)) return [];
  return ['--state', commandPath(state, cwd)];
}
