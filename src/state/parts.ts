import { createReadStream } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { StateFileError, errnoCode } from '../errors.js';
import { itemsText, statePieces } from './state-file.js';
import { STATE_VERSION, type ItemState, type ItemStatus, type StateFile } from './types.js';

/**
 * The state in parts (issue 15). Past a threshold `STATE.json` is a manifest: the header of the
 * one-file state (version, tool, source, index, dates, last plan, runs, history) and a line per
 * part, in key order, with no `items` member, so a tlmigrate that knows only one file refuses it.
 * Each part, `STATE.json.parts/NNNNN-GGGGGG.json` (part id, the checkpoint generation that wrote
 * it), holds ~10,000 items in the one-file layout's item lines, sorted by source URI. A part file
 * is never rewritten: a checkpoint writes a new generation, then the manifest that names it.
 */

/** Items per part a store aims at; a part is split once it holds twice as many. */
export const PART_SIZE = 10_000;

/** A part as the manifest lists it: its file (relative to the manifest's folder), its URI range, and its counts. */
export interface PartEntry {
  file: string;
  first: string;
  last: string;
  items: number;
  byStatus: Partial<Record<ItemStatus, number>>;
}

export type PartsManifest = Omit<StateFile, 'items'> & { parts: PartEntry[] };

/** A part file's head: the part's id, then its items. */
export interface PartHead {
  part: number;
}

/**
 * Source URIs in S3's order (by UTF-8 bytes, as listings and plans are): UTF-16 order but for
 * surrogates, which UTF-8 puts after U+E000-U+FFFF. No allocation, unlike comparing Buffers.
 */
export function compareUris(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return byteRank(x) - byteRank(y);
  }
  return a.length - b.length;
}

function byteRank(unit: number): number {
  if (unit < 0xd800) return unit;
  return unit >= 0xe000 ? unit - 0x800 : unit + 0x2000;
}

/** The folder of a parted state's part files. */
export function partsFolder(path: string): string {
  return `${path}.parts`;
}

/** A part file's name, relative to the manifest's folder, as the manifest records it. */
export function partFileName(path: string, id: number, generation: number): string {
  return `${basename(path)}.parts/${String(id).padStart(5, '0')}-${String(generation).padStart(6, '0')}.json`;
}

/** The part id and generation of a part file's name (a manifest's `file`, or a name in the parts folder). */
export function parsePartFileName(file: string): { id: number; generation: number } | undefined {
  const match = /(?:^|\/)(\d{5,})-(\d{6,})\.json$/.exec(file);
  return match ? { id: Number(match[1]), generation: Number(match[2]) } : undefined;
}

/** Where a manifest's part file is on disk. */
export function partPath(manifestPath: string, file: string): string {
  return join(dirname(manifestPath), file);
}

/** The manifest's text: the header on the first line, a line per part, the closing brackets (jq reads it; a person can too). */
export function manifestText(manifest: PartsManifest): string {
  const { parts, ...header } = manifest;
  const head = JSON.stringify(header);
  const lines = parts.map((part) => JSON.stringify(part));
  return `${head.slice(0, -1)}${head.length > 2 ? ',' : ''}"parts":[${lines.length === 0 ? '' : '\n'}${lines.join(',\n')}\n]}\n`;
}

/** Whether a parsed state file is a parts manifest (rather than a one-file state, or something else). */
export function isPartsManifest(value: unknown): value is PartsManifest {
  return typeof value === 'object' && value !== null && Array.isArray((value as { parts?: unknown }).parts) && !('items' in value);
}

/** Refuses a manifest that names a part file outside its parts folder or lists parts out of order. */
export function checkManifest(manifest: PartsManifest, path: string): void {
  if (manifest.version !== STATE_VERSION) {
    throw new StateFileError('state_version', `state file ${path} has version ${JSON.stringify(manifest.version)}; this tlmigrate reads version ${STATE_VERSION}: use the tlmigrate that wrote it`);
  }
  let previous: string | undefined;
  for (const [n, part] of manifest.parts.entries()) {
    const sane = typeof part.file === 'string' && !part.file.includes('..') && /^[^/\\]+\.parts\/\d{5,}-\d{6,}\.json$/.test(part.file);
    const ordered = typeof part.first === 'string' && typeof part.last === 'string' && compareUris(part.first, part.last) <= 0 && (previous === undefined || compareUris(previous, part.first) < 0);
    if (!sane || !ordered || typeof part.items !== 'number') {
      throw new StateFileError('state_corrupt', `state file ${path}: part ${n + 1} of its manifest is damaged (a file outside its parts folder, or a URI range out of order): it was left untouched; restore it from a backup`);
    }
    previous = part.last;
  }
}

/** A part file's text: `{"part":N,"items":{` then a line per item in the order given (key order), then `}}`. */
export function partText(id: number, items: Iterable<[string, ItemState]>): AsyncGenerator<string> {
  return itemsText({ part: id } satisfies PartHead, items);
}

/**
 * A part file's items, streamed in its (key) order. A missing file is `state_part_missing` (a
 * checkpoint replaced it: readers open the manifest again); a file cut short, or items out of
 * order, is refused as damage.
 */
export async function* readPart(manifestPath: string, file: string): AsyncGenerator<[string, ItemState]> {
  const path = partPath(manifestPath, file);
  const stream = createReadStream(path, { encoding: 'utf8', highWaterMark: 1 << 20 });
  let previous: string | undefined;
  try {
    for await (const piece of statePieces<PartHead>(stream)) {
      if (piece.kind === 'other') throw damagedPart(manifestPath, path, 'ends before its last item or is not in tlmigrate\'s layout');
      if (piece.kind !== 'items') continue;
      for (const uri in piece.items) {
        if (previous !== undefined && compareUris(previous, uri) >= 0) throw damagedPart(manifestPath, path, 'has its items out of key order');
        previous = uri;
        yield [uri, piece.items[uri] as ItemState];
      }
    }
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') {
      throw new StateFileError('state_part_missing', `part file ${path} named by state file ${manifestPath} is missing: restore the folder ${partsFolder(manifestPath)} from a backup`, { cause: error });
    }
    if (error instanceof StateFileError) throw error;
    throw new StateFileError('state_unreadable', `cannot read part file ${path} (${errnoCode(error) ?? 'error'}): check its permissions`, { cause: error });
  } finally {
    stream.destroy();
  }
}

function damagedPart(manifestPath: string, path: string, what: string): StateFileError {
  return new StateFileError('state_corrupt', `part file ${path} of state file ${manifestPath} ${what}: it was left untouched; restore it from a backup`);
}
