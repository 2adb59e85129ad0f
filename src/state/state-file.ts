import { createReadStream } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import type { ItemState, StateFile } from './types.js';

const ITEMS_OPEN = '"items":{';

/**
 * The state file's text, a piece at a time: the fields of the state on the first line, then one
 * line per item (`"s3://bucket/key":{...},`), then the closing braces. Still one JSON document (jq
 * reads it as before), never one string as large as the state: V8 cannot build a string past
 * about 2^29 characters (512 M), which a state of 1.6 to 1.8 million items reaches.
 */
export async function* stateText(state: StateFile): AsyncGenerator<string> {
  const { items, ...fields } = state;
  // Items written while this runs (between pieces) may or may not be in this copy: each is also in
  // the journal that follows the checkpoint, and replaying it sets the same fields again.
  yield* itemsText(fields, (function* () {
    for (const uri of Object.keys(items)) {
      const item = items[uri];
      if (item !== undefined) yield [uri, item] as [string, ItemState];
    }
  })());
}

/**
 * A JSON object in the state file's layout: `fields` on the first line, then `"items":{`, a line
 * per item in the order given, and the closing braces. The one-file state and each part of a
 * parted state are written by it, and read back by `statePieces`.
 */
export async function* itemsText(fields: object, items: Iterable<[string, ItemState]>): AsyncGenerator<string> {
  const head = JSON.stringify(fields);
  yield `${head.slice(0, -1)}${head.length > 2 ? ',' : ''}${ITEMS_OPEN}\n`;
  let first = true;
  for (const [uri, item] of items) {
    yield `${first ? '' : ',\n'}${JSON.stringify(uri)}:${JSON.stringify(item)}`;
    first = false;
  }
  yield `${first ? '' : '\n'}}}\n`;
}

/** A state file read a piece at a time: its head (every field, items empty), then batches of items. */
export type StatePiece<H = StateFile> = { kind: 'head'; head: H } | { kind: 'items'; items: Record<string, ItemState> } | { kind: 'other' };

/**
 * Reads a state file written by `stateText` line by line, without holding its text whole.
 * Undefined when the file has another layout (an older tlmigrate's single line, or a file a
 * person reformatted): the caller then parses it whole, which also names what is wrong.
 */
export async function readStateLines(path: string): Promise<StateFile | undefined> {
  let state: StateFile | undefined;
  for await (const piece of statePieces(createReadStream(path, { encoding: 'utf8', highWaterMark: 1 << 20 }))) {
    if (piece.kind === 'other') return undefined;
    if (piece.kind === 'head') state = piece.head;
    else if (state) Object.assign(state.items, piece.items);
  }
  return state;
}

/**
 * The pieces of a state file in `stateText`'s layout, read from `text`: the head first, then the
 * items a few thousand lines per `JSON.parse`. Ends with `other` when the layout is another (or
 * the file ends before its closing braces), after which nothing read is to be trusted.
 */
export async function* statePieces<H = StateFile>(text: AsyncIterable<string | Buffer>): AsyncGenerator<StatePiece<H>> {
  let head = false;
  let batch: string[] = [];
  let closed = false;
  const flush = (): StatePiece<H> => {
    const entries = batch.length === 0 ? {} : parseObject(`{${batch.join('')}}`);
    batch = [];
    return entries === undefined ? { kind: 'other' } : { kind: 'items', items: entries as Record<string, ItemState> };
  };
  for await (const line of lines(text)) {
    if (closed) {
      if (line.trim() !== '') return yield { kind: 'other' };
      continue;
    }
    if (!head) {
      const state = line.endsWith(ITEMS_OPEN) ? (parseObject(`${line}}}`) as H | undefined) : undefined;
      if (state === undefined) return yield { kind: 'other' };
      head = true;
      yield { kind: 'head', head: state };
      continue;
    }
    if (line === '}}') {
      closed = true;
      const piece = flush();
      yield piece;
      if (piece.kind === 'other') return;
      continue;
    }
    // Every item line but the last ends with a comma: the batch's last loses it.
    batch.push(line);
    if (batch.length >= 4096 && line.endsWith(',')) {
      batch[batch.length - 1] = line.slice(0, -1);
      const piece = flush();
      yield piece;
      if (piece.kind === 'other') return;
    }
  }
  if (!closed) yield { kind: 'other' };
}

/** The lines of a text read in large chunks. */
async function* lines(text: AsyncIterable<string | Buffer>): AsyncGenerator<string> {
  let rest = '';
  // Bytes are decoded across chunk ends: a character cut in two by a read stays whole.
  const decoder = new StringDecoder('utf8');
  for await (const chunk of text) {
    const text = rest + (typeof chunk === 'string' ? chunk : decoder.write(chunk));
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
