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
