import { createReadStream } from 'node:fs';
import { errnoCode } from '../errors.js';
import { PartedStore } from './parted-store.js';
import { StateStore, type StateIdentity } from './store.js';

/** A new state for a plan of more items than this is written in parts (issue 15); below, one file. */
export const PARTS_THRESHOLD = 100_000;

export interface RunStoreChoice {
  /** Items of the plan about to be applied: a new state for more than `threshold` is made in parts. */
  planItems: number;
  threshold?: number | undefined;
  /** Items per part of a new state in parts (default `PART_SIZE`). */
  partSize?: number | undefined;
}

/**
 * Opens the state `apply` records into: a state in parts as such; a one-file state as one file
 * (whatever its size: converting it to parts is not built; it keeps working as before); a new
 * state in parts when the plan holds more than the threshold, else in one file.
 */
export async function openRunStore(
  path: string,
  identity: StateIdentity & { bucket: string; prefix: string; indexName?: string | undefined },
  command: string,
  tool: string,
  choice: RunStoreChoice,
): Promise<StateStore | PartedStore> {
  const layout = await stateLayout(path);
  const parted = layout === 'parts' || (layout === 'none' && choice.planItems > (choice.threshold ?? PARTS_THRESHOLD));
  return parted ? PartedStore.open(path, identity, command, tool, choice.partSize === undefined ? {} : { partSize: choice.partSize }) : StateStore.open(path, identity, command, tool);
}

/**
 * Which layout the state file at `path` has, by its first line (a manifest's ends with `"parts":[`,
 * as `manifestText` writes it); a file laid out otherwise is read as one file, whose reader judges it.
 */
export async function stateLayout(path: string): Promise<'none' | 'one-file' | 'parts'> {
  const stream = createReadStream(path, { encoding: 'utf8', highWaterMark: 64 * 1024 });
  let head = '';
  try {
    for await (const chunk of stream) {
      head += chunk as string;
      const end = head.indexOf('\n');
      if (end !== -1) {
        head = head.slice(0, end);
        break;
      }
    }
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return 'none';
    throw error;
  } finally {
    stream.destroy();
  }
  return head.trimEnd().endsWith('"parts":[') || head.trimEnd().endsWith('"parts":[]}') ? 'parts' : 'one-file';
}
