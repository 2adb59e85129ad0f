import { createReadStream } from 'node:fs';
import type { StateFile } from './types.js';

const ITEMS_OPEN = '"items":{';

/**
 * The state file's text, a piece at a time: the fields of the state on the first line, then one
 * line per item (`"s3://bucket/key":{...},`), then the closing braces. Still one JSON document (jq
 * reads it as before), never one string as large as the state: V8 cannot build a string past
 * about 2^29 characters (512 M), which a state of 1.6 to 1.8 million items reaches.
 */
export async function* stateText(state: StateFile): AsyncGenerator<string> {
  const { items, ...fields } = state;
  const head = JSON.stringify(fields);
  yield `${head.slice(0, -1)}${head.length > 2 ? ',' : ''}${ITEMS_OPEN}\n`;
  let first = true;
  // Items written while this runs (between pieces) may or may not be in this copy: each is also in
  // the journal that follows the checkpoint, and replaying it sets the same fields again.
  for (const uri of Object.keys(items)) {
    const item = items[uri];
    if (item === undefined) continue;
    yield `${first ? '' : ',\n'}${JSON.stringify(uri)}:${JSON.stringify(item)}`;
    first = false;
  }
  yield `${first ? '' : '\n'}}}\n`;
}

/**
 * Reads a state file written by `stateText` line by line, without holding its text whole.
 * Undefined when the file has another layout (an older tlmigrate's single line, or a file a
 * person reformatted): the caller then parses it whole, which also names what is wrong.
 */
export async function readStateLines(path: string): Promise<StateFile | undefined> {
  let state: StateFile | undefined;
  let batch: string[] = [];
  let closed = false;
  // Item lines are parsed a few thousand at a time, as one object: one JSON.parse per batch, not per line.
  const flush = (): boolean => {
    if (batch.length === 0 || state === undefined) return true;
    const entries = parseObject(`{${batch.join('')}}`);
    batch = [];
    if (entries === undefined) return false;
    Object.assign(state.items, entries);
    return true;
  };
  for await (const line of lines(path)) {
    if (closed) {
      if (line.trim() !== '') return undefined;
      continue;
    }
    if (state === undefined) {
      if (!line.endsWith(ITEMS_OPEN)) return undefined;
      state = parseObject(`${line}}}`) as StateFile | undefined;
      if (state === undefined) return undefined;
      continue;
    }
    if (line === '}}') {
      closed = true;
      if (!flush()) return undefined;
      continue;
    }
    // Every item line but the last ends with a comma: the batch's last loses it.
    batch.push(line);
    if (batch.length >= 4096 && line.endsWith(',')) {
      batch[batch.length - 1] = line.slice(0, -1);
      if (!flush()) return undefined;
    }
  }
  return closed ? state : undefined;
}

/** A file's lines, read in large chunks. */
async function* lines(path: string): AsyncGenerator<string> {
  let rest = '';
  for await (const chunk of createReadStream(path, { encoding: 'utf8', highWaterMark: 1 << 20 })) {
    const text = rest + String(chunk);
    const parts = text.split('\n');
    rest = parts.pop() ?? '';
    yield* parts;
  }
  if (rest !== '') yield rest;
}

function parseObject(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
