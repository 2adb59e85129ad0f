import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { ItemState, StateFile } from './types.js';

const ITEMS_OPEN = '"items":{';

/**
 * The state file's text, a piece at a time: the fields of the state on the first line, then one
 * line per item (`"s3://bucket/key":{...},`), then the closing braces. Still one JSON document (jq
 * reads it as before), never one string as large as the state: V8 cannot build a string past
 * about 512 MB, which a state of about 1.4 million items reaches.
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
  const lines = createInterface({ input: createReadStream(path, 'utf8'), crlfDelay: Infinity });
  let state: StateFile | undefined;
  let closed = false;
  try {
    for await (const line of lines) {
      if (closed) return line.trim() === '' ? state : undefined;
      if (state === undefined) {
        if (!line.endsWith(ITEMS_OPEN)) return undefined;
        state = parseObject(`${line}}}`) as StateFile | undefined;
        if (state === undefined) return undefined;
        continue;
      }
      if (line === '}}') {
        closed = true;
        continue;
      }
      const entry = parseObject(`{${line.endsWith(',') ? line.slice(0, -1) : line}}`);
      const uri = entry === undefined ? undefined : Object.keys(entry)[0];
      if (entry === undefined || uri === undefined) return undefined;
      state.items[uri] = entry[uri] as ItemState;
    }
    return closed ? state : undefined;
  } finally {
    lines.close();
  }
}

function parseObject(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
