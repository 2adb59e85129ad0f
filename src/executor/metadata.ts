import { ConfigError } from '../errors.js';
import type { MetadataValue, UserMetadata } from '../twelvelabs/types.js';

/** Names the platform fills itself; a user value would shadow them. */
export const RESERVED_METADATA_KEYS = new Set(['duration', 'filename', 'fps', 'width', 'height', 'size']);

/** `k=v` with the type inferred: integer, float, boolean, else string. */
export function parseMetadataPairs(pairs: string[]): UserMetadata {
  const out: UserMetadata = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new ConfigError('metadata_invalid', `--metadata '${pair}' is not KEY=VALUE: write e.g. --metadata project=archive`);
    const key = pair.slice(0, eq).trim();
    const raw = pair.slice(eq + 1);
    checkKey(key, '--metadata');
    out[key] = inferValue(raw);
  }
  return out;
}

export function inferValue(raw: string): MetadataValue {
  if (raw === 'true') return true;
  if (raw === 'false') return false;
  if (/^-?(0|[1-9]\d{0,14})$/.test(raw)) return Number(raw);
  if (/^-?(0|[1-9]\d*)\.\d+$/.test(raw) && Number.isFinite(Number(raw))) return Number(raw);
  return raw;
}

/** `--metadata-json FILE`: exact types; scalars only. */
export function parseMetadataJson(text: string, file: string): UserMetadata {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ConfigError('metadata_invalid', `--metadata-json ${file} is not valid JSON: write one object of scalar values`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ConfigError('metadata_invalid', `--metadata-json ${file} must hold one JSON object, e.g. {"project": "archive"}`);
  }
  const out: UserMetadata = {};
  for (const [key, v] of Object.entries(value)) {
    checkKey(key, '--metadata-json');
    if (typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v))) out[key] = v;
    else throw new ConfigError('metadata_invalid', `--metadata-json key '${key}' holds ${v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v}: only strings, numbers and booleans are allowed (no nesting)`);
  }
  return out;
}

/** Our own bounds (the platform documents none): a value this long is a mistake, and every request carries them all. */
export const MAX_METADATA_VALUE_BYTES = 1024;
export const MAX_METADATA_TOTAL_BYTES = 16 * 1024;

/** Refuses user metadata over the documented limits, per value and in all (as JSON, keys included). */
export function checkMetadataSize(metadata: UserMetadata): void {
  for (const [key, value] of Object.entries(metadata)) {
    const bytes = Buffer.byteLength(String(value), 'utf8');
    if (bytes > MAX_METADATA_VALUE_BYTES) {
      throw new ConfigError('metadata_too_large', `--metadata value of '${key}' is ${bytes} bytes, over the limit of ${MAX_METADATA_VALUE_BYTES} bytes per value: shorten it`);
    }
  }
  const total = Buffer.byteLength(JSON.stringify(metadata), 'utf8');
  if (total > MAX_METADATA_TOTAL_BYTES) {
    throw new ConfigError('metadata_too_large', `--metadata and --metadata-json come to ${total} bytes as JSON, over the limit of ${MAX_METADATA_TOTAL_BYTES} bytes in all: send fewer or shorter values`);
  }
}

function checkKey(key: string, flag: string): void {
  if (!key) throw new ConfigError('metadata_invalid', `${flag}: empty key: write KEY=VALUE`);
  if (RESERVED_METADATA_KEYS.has(key)) throw new ConfigError('metadata_reserved', `${flag} key '${key}' is a system metadata name: rename it (e.g. 'my_${key}')`);
  if (key.startsWith('tlm_')) throw new ConfigError('metadata_reserved', `${flag} key '${key}': tlm_* keys are tlmigrate's own fingerprint: rename it`);
}

/** Durations like 90s, 30m, 6h, 7d. */
export function parseDuration(text: string, flag: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*(s|m|h|d)?$/i.exec(text.trim());
  if (!match) throw new ConfigError('duration_invalid', `${flag} '${text}' is not a duration: write e.g. 90s, 30m, 6h or 7d`);
  const unit = (match[2] ?? 's').toLowerCase();
  const factor = unit === 'd' ? 86400 : unit === 'h' ? 3600 : unit === 'm' ? 60 : 1;
  return Math.round(Number(match[1]) * factor);
}
