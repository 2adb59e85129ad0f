import { ConfigError } from '../errors.js';

/**
 * Parsing of every numeric, size and duration flag, in one place: each refusal is one line that
 * quotes what the user typed and names the fix (the catalogue in docs/errors.md lists them).
 * yargs hands these flags over as strings, so `abc` is still `abc` here and not `NaN`.
 */

/** What yargs gives for a string flag: the text, an array when repeated (the last one wins), or nothing. */
export type FlagInput = string | number | readonly (string | number)[] | undefined;

const SIZE_UNITS: Readonly<Record<string, number>> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
  tib: 2 ** 40,
};

const DURATION_UNITS_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, min: 60_000, h: 3_600_000, d: 86_400_000 };

/** One line of --help: what sizes and durations look like. */
export const SIZE_HELP = 'bytes, or a number with a unit such as 500MB or 1.5GiB (KB, MB, GB, TB are powers of 1000; KiB, MiB, GiB, TiB of 1024)';
export const DURATION_HELP = 'a duration such as 30s, 2m or 1h (a plain number is seconds)';

function lastValue(raw: FlagInput): string | undefined {
  const value = Array.isArray(raw) ? raw[raw.length - 1] : raw;
  return value === undefined ? undefined : String(value);
}

function quoted(text: string): string {
  return JSON.stringify(text);
}

/** A whole number within `min..max`, e.g. `--concurrency`. */
export function parseWholeNumber(flag: string, raw: FlagInput, range: { min: number; max: number; example: number }): number {
  const text = lastValue(raw) ?? '';
  const bounds = `${range.min} to ${range.max}, e.g. ${flag} ${range.example}`;
  if (!/^[+-]?\d+$/.test(text.trim())) throw new ConfigError('flag_invalid', `${flag} ${quoted(text)} is not a whole number: use ${bounds}`);
  const value = Number(text);
  if (value < range.min || value > range.max) throw new ConfigError('flag_out_of_range', `${flag} ${quoted(text)} is out of range: use a whole number from ${bounds}`);
  return value;
}

/** A positive number (decimals allowed), e.g. `--max-rpm 0.5`. */
export function parsePositiveNumber(flag: string, raw: FlagInput, what: { unit: string; example: number }): number {
  const text = lastValue(raw) ?? '';
  const fix = `use a number above 0 (${what.unit}), e.g. ${flag} ${what.example}`;
  if (!/^[+-]?(\d+(\.\d*)?|\.\d+)$/.test(text.trim())) throw new ConfigError('flag_invalid', `${flag} ${quoted(text)} is not a number: ${fix}`);
  const value = Number(text);
  if (!(value > 0) || !Number.isFinite(value)) throw new ConfigError('flag_out_of_range', `${flag} ${quoted(text)} is out of range: ${fix}`);
  return value;
}

/** Bytes, with an optional unit: `1000`, `10MB` (10^6), `1.5GiB` (2^30). */
export function parseSize(flag: string, raw: FlagInput, range: { min: number; example: string }): number {
  const text = lastValue(raw) ?? '';
  const match = /^([+-]?(?:\d+(?:\.\d*)?|\.\d+))\s*([a-z]*)$/i.exec(text.trim());
  const factor = match ? SIZE_UNITS[(match[2] || 'b').toLowerCase()] : undefined;
  if (!match || factor === undefined) {
    throw new ConfigError('flag_invalid', `${flag} ${quoted(text)} is not a size: write ${SIZE_HELP}, e.g. ${flag} ${range.example}`);
  }
  const bytes = Math.round(Number(match[1]) * factor);
  if (bytes < range.min || !Number.isSafeInteger(bytes)) {
    throw new ConfigError('flag_out_of_range', `${flag} ${quoted(text)} is out of range: use ${range.min} ${range.min === 1 ? 'byte' : 'bytes'} or more, e.g. ${flag} ${range.example}`);
  }
  return bytes;
}

/**
 * A duration in milliseconds: `30s`, `2m`, `1h30m`, `500ms`, `7d`; a plain number is seconds (what
 * these flags always meant). `min`/`max` in milliseconds.
 */
export function parseDurationMs(flag: string, raw: FlagInput, range: { min: number; max: number; example: string; why?: string }): number {
  const text = lastValue(raw) ?? '';
  const ms = durationMs(text);
  if (ms === undefined) throw new ConfigError('flag_invalid', `${flag} ${quoted(text)} is not a duration: write ${DURATION_HELP}, e.g. ${flag} ${range.example}`);
  if (ms < range.min || ms > range.max) {
    const why = range.why ? ` (${range.why})` : '';
    throw new ConfigError('flag_out_of_range', `${flag} ${quoted(text)} is out of range: use ${spokenMs(range.min)} to ${spokenMs(range.max)}${why}, e.g. ${flag} ${range.example}`);
  }
  return ms;
}

function durationMs(text: string): number | undefined {
  const trimmed = text.trim();
  const plain = /^[+-]?(\d+(\.\d*)?|\.\d+)$/.test(trimmed) ? Number(trimmed) : undefined;
  if (plain !== undefined) return Math.round(plain * 1000);
  if (!/^((\d+(\.\d*)?|\.\d+)\s*[a-z]+\s*)+$/i.test(trimmed)) return undefined;
  let total = 0;
  for (const part of trimmed.matchAll(/(\d+(?:\.\d*)?|\.\d+)\s*([a-z]+)/gi)) {
    const factor = DURATION_UNITS_MS[(part[2] ?? '').toLowerCase()];
    if (factor === undefined) return undefined;
    total += Number(part[1]) * factor;
  }
  return Math.round(total);
}

/** 30s, 2m, 1h, 7d, 100ms: a bound as a user would type it. */
function spokenMs(ms: number): string {
  if (ms === 0) return '0s';
  for (const [unit, factor] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) {
    if (ms >= factor && ms % factor === 0) return `${ms / factor}${unit}`;
  }
  return ms >= 1000 ? `${ms / 1000}s` : `${ms}ms`;
}

/** An empty default for a repeatable string flag, typed: yargs infers `never[]` from a bare `[]`. */
export function noStrings(): string[] {
  return [];
}
