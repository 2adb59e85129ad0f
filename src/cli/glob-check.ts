import picomatch from 'picomatch';
import { shellQuote } from './shell.js';

interface GlobTally {
  flag: '--include' | '--exclude';
  glob: string;
  matches: (key: string) => boolean;
  hits: number;
  /** Spellings that would have matched, e.g. `**\/*.mp4` for `*.mp4`, and how many keys each matched. */
  alternatives: Array<{ glob: string; matches: (key: string) => boolean; hits: number }>;
}

/**
 * Counts, for each --include/--exclude glob, the listed keys it matches, so a glob that matches
 * nothing (`*.mp4` against `videos/a.mp4`: globs match the whole key) is a warning, not a silent
 * empty plan. It also tries the spellings the user probably meant and names those that match.
 */
export class GlobCheck {
  private readonly tallies: GlobTally[];
  private listed = 0;

  constructor(include: readonly string[], exclude: readonly string[], prefix: string) {
    const tally = (flag: GlobTally['flag'], glob: string): GlobTally => ({
      flag,
      glob,
      matches: picomatch(glob, { dot: true }),
      hits: 0,
      alternatives: alternativesFor(glob, prefix).map((alt) => ({ glob: alt, matches: picomatch(alt, { dot: true }), hits: 0 })),
    });
    this.tallies = [...include.map((g) => tally('--include', g)), ...exclude.map((g) => tally('--exclude', g))];
  }

  see(key: string): void {
    this.listed += 1;
    for (const t of this.tallies) {
      if (t.matches(key)) t.hits += 1;
      else if (t.hits === 0) for (const alt of t.alternatives) if (alt.matches(key)) alt.hits += 1;
    }
  }

  /** One line per glob that matched none of the listed keys. */
  warnings(): string[] {
    if (this.listed === 0) return [];
    return this.tallies
      .filter((t) => t.hits === 0)
      .map((t) => {
        const better = t.alternatives.find((alt) => alt.hits > 0);
        const hint = better ? `; did you mean ${t.flag} ${shellQuote(better.glob)} (${better.hits} keys)?` : '';
        return `${t.flag} ${shellQuote(t.glob)} matched none of the ${this.listed} listed keys: globs match the whole key, prefix included${hint}`;
      });
  }
}

function alternativesFor(glob: string, prefix: string): string[] {
  const out: string[] = [];
  const folder = prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`;
  if (folder && !glob.startsWith(folder) && !glob.startsWith('**')) out.push(`${folder}${glob.replace(/^\/+/, '')}`);
  if (!glob.startsWith('**/')) out.push(`**/${glob.replace(/^\/+/, '')}`);
  return out;
}
