import { writeFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { readStateLines, stateText } from '../../src/state/state-file.js';
import { loadState } from '../../src/state/store.js';
import type { ItemState, StateFile } from '../../src/state/types.js';
import { useTmpDir } from './tmp-dir.js';

function aState(keys: string[]): StateFile {
  const items: Record<string, ItemState> = {};
  for (const [n, key] of keys.entries()) items[`s3://b/${key}`] = { key, size: n, etag: `e${n}`, status: 'planned', attempts: 0, updatedAt: '2026-11-01T00:00:00.000Z' };
  return { version: 1, tool: 'tlmigrate test', source: { uri: 's3://b', bucket: 'b', prefix: '' }, indexId: 'idx', createdAt: '2026-11-01T00:00:00.000Z', updatedAt: '2026-11-01T00:00:00.000Z', items, runs: [{ runId: 'r1', command: 'apply', pid: 1, startedAt: '2026-11-01T00:00:00.000Z', counters: { submitted: 0, failed: 0, reconciled: 0, retries: 0, throttled: 0 } }] };
}

async function text(state: StateFile): Promise<string> {
  let out = '';
  for await (const piece of stateText(state)) out += piece;
  return out;
}

const AWKWARD = ['a.mp4', 'with "quotes" and, commas.mp4', 'new\nline}}.mp4', '}}', 'été/日本 語.mp4', 'back\\slash.mp4'];

describe('the state file, a line per item', () => {
  const tmp = useTmpDir();

  it.each([[[]], [['a.mp4']], [AWKWARD]])('is one JSON document equal to the state, and reads back line by line (%j)', async (keys) => {
    const state = aState(keys);
    const written = await text(state);
    expect(JSON.parse(written)).toEqual(state);
    expect(written.split('\n')).toHaveLength(keys.length + 3);
    const path = tmp.path('state.json');
    await writeFile(path, written);
    expect(await readStateLines(path)).toEqual(state);
  });

  it('an item recorded while the text is being written leaves one valid document', async () => {
    const state = aState(['a.mp4', 'b.mp4', 'c.mp4']);
    let out = '';
    let n = 0;
    for await (const piece of stateText(state)) {
      out += piece;
      if (++n === 2) {
        state.items['s3://b/late.mp4'] = { key: 'late.mp4', size: 1, etag: 'x', status: 'intent', attempts: 1, updatedAt: '2026-11-01T00:00:00.000Z' };
        delete state.items['s3://b/c.mp4'];
      }
    }
    expect(Object.keys((JSON.parse(out) as StateFile).items)).toEqual(['s3://b/a.mp4', 's3://b/b.mp4']);
  });

  it.each([
    ['one line (an older tlmigrate)', (s: StateFile) => JSON.stringify(s)],
    ['reformatted by a person (jq .)', (s: StateFile) => JSON.stringify(s, null, 2)],
  ])('another layout, %s, is parsed whole', async (_name, layout) => {
    const state = aState(AWKWARD);
    const path = tmp.path('state.json');
    await writeFile(path, layout(state));
    expect(await readStateLines(path)).toBeUndefined();
    expect(await loadState(path)).toEqual(state);
  });

  it('a damaged item line is refused as corrupt, not half read', async () => {
    const path = tmp.path('state.json');
    const lines = (await text(aState(['a.mp4', 'b.mp4', 'c.mp4']))).split('\n');
    lines[2] = '"s3://b/b.mp4":{"key":"b.mp4",';
    await writeFile(path, lines.join('\n'));
    await expect(loadState(path)).rejects.toMatchObject({ code: 'state_corrupt' });
  });
});
