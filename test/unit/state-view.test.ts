import { appendFile, readFile, truncate, writeFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { StateFileError } from '../../src/errors.js';
import { StateStore, loadState } from '../../src/state/store.js';
import type { ItemState, StateFile } from '../../src/state/types.js';
import { openStateView, type StateView } from '../../src/state/view.js';
import { statePieces, stateText } from '../../src/state/state-file.js';
import { useTmpDir } from './tmp-dir.js';

const IDENTITY = { uri: 's3://media-archive/videos', indexId: 'idx1', bucket: 'media-archive', prefix: 'videos' };
// Characters of several bytes: some fall across the reader's 1 MiB reads.
const uri = (n: number) => `s3://media-archive/videos/clïp-日本-${String(n).padStart(5, '0')}.mp4`;

function anItem(n: number, overrides: Partial<ItemState> = {}): Partial<ItemState> {
  return { key: `videos/clip-${n}.mp4`, size: 1000 + n, etag: `e${n}`, status: 'planned', attempts: 0, ...overrides };
}

/** Every item the view streams, as an object in its order, plus the header: what loadState would give. */
async function viewed(view: StateView): Promise<StateFile> {
  const items: Record<string, ItemState> = {};
  for await (const [key, item] of view.items()) items[key] = item;
  return { ...view.header, items };
}

describe('openStateView: a state read without holding its items', () => {
  const dir = useTmpDir();

  it('streams the checkpoint with the journal laid over it: the same state, in the same order, as loadState', async () => {
    const path = dir.path('state.json');
    const store = await StateStore.open(path, IDENTITY, 'apply', 'tlmigrate test');
    // 10,000 items: more than one batch of the reader (4,096 lines).
    for (let n = 0; n < 10_000; n++) void store.setItem(uri(n), anItem(n));
    await store.setRun({ runId: 'r1', command: 'apply', pid: 1, startedAt: '2026-01-01T00:00:00.000Z', counters: { submitted: 0, failed: 0, reconciled: 0, retries: 0, throttled: 0 } });
    await store.checkpoint();
    // Since the checkpoint, in the journal only: changes to items it holds, items it does not hold, a run's end, a plan, a history entry.
    await store.setItem(uri(3), { status: 'submitted', taskId: 't3' });
    await store.setItem(uri(3), { status: 'ready', videoId: 'v3' });
    await store.setItem(uri(9_999), { status: 'failed', lastError: { code: 'video_duration_too_short', message: 'short', at: '2026-01-01T00:00:01.000Z' } });
    await store.setItem(uri(20_000), anItem(20_000, { status: 'intent' }));
    await store.setRun({ runId: 'r1', command: 'apply', pid: 1, startedAt: '2026-01-01T00:00:00.000Z', endedAt: '2026-01-01T01:00:00.000Z', outcome: 'completed', counters: { submitted: 1, failed: 1, reconciled: 0, retries: 0, throttled: 0 } });
    await store.setLastPlan({ planId: 'p1', createdAt: '2026-01-01T00:00:00.000Z' });
    await store.addHistory({ at: '2026-01-02T00:00:00.000Z', action: 'delete_video', videoId: 'v9', reason: 'duplicate' });
    expect((await readFile(`${path}.journal`, 'utf8')).split('\n').length).toBeGreaterThan(5);

    const view = (await openStateView(path)) as StateView;
    try {
      const loaded = (await loadState(path)) as StateFile;
      const seen = await viewed(view);
      expect(seen).toEqual(loaded);
      expect(Object.keys(seen.items)).toEqual(Object.keys(loaded.items));
      expect(seen.items[uri(3)]).toMatchObject({ status: 'ready', taskId: 't3', videoId: 'v3', size: 1003 });
      expect(Object.keys(seen.items).at(-1)).toBe(uri(20_000));
      expect(view.header.runs[0]?.outcome).toBe('completed');
      expect(view.header.lastPlan?.planId).toBe('p1');
      expect(view.header.history).toHaveLength(1);
      // Items are read from disk each time they are asked for, not kept.
      expect(Object.keys((await viewed(view)).items)).toHaveLength(10_001);
    } finally {
      await view.close();
      await store.close();
    }
  });

  it('decodes characters cut in two by a read (the pieces of a state read as bytes)', async () => {
    const state: StateFile = {
      version: 1,
      tool: 'tlmigrate test',
      source: { uri: IDENTITY.uri, bucket: IDENTITY.bucket, prefix: IDENTITY.prefix },
      indexId: 'idx1',
      createdAt: '2025-01-01T00:00:00.000Z',
      updatedAt: '2025-01-01T00:00:00.000Z',
      items: Object.fromEntries([1, 2, 3].map((n) => [uri(n), anItem(n, { key: `videos/日本-ï-${n}.mp4` }) as ItemState])),
      runs: [],
    };
    let text = '';
    for await (const piece of stateText(state)) text += piece;
    const bytes = Buffer.from(text, 'utf8');
    // Reads of 5 bytes: every character of 2 or 3 bytes is cut by some of them.
    async function* reads(): AsyncGenerator<Buffer> {
      for (let at = 0; at < bytes.length; at += 5) yield bytes.subarray(at, at + 5);
    }
    const items: Record<string, ItemState> = {};
    for await (const piece of statePieces(reads())) if (piece.kind === 'items') Object.assign(items, piece.items);
    expect(items).toEqual(state.items);
  });

  it('reads a state in another layout (one line, as older versions wrote it) whole', async () => {
    const path = dir.path('old.json');
    const state: StateFile = {
      version: 1,
      tool: 'tlmigrate 0.0.9',
      source: { uri: IDENTITY.uri, bucket: IDENTITY.bucket, prefix: IDENTITY.prefix },
      indexId: 'idx1',
      createdAt: '2025-01-01T00:00:00.000Z',
      updatedAt: '2025-01-01T00:00:00.000Z',
      items: { [uri(1)]: anItem(1) as ItemState },
      runs: [],
    };
    await writeFile(path, JSON.stringify(state));
    await appendFile(`${path}.journal`, `${JSON.stringify({ i: uri(1), s: { status: 'ready' } })}\n{"i":"torn`);
    const view = (await openStateView(path)) as StateView;
    expect(await viewed(view)).toEqual(await loadState(path));
    expect((await viewed(view)).items[uri(1)]?.status).toBe('ready');
  });

  it('no state: undefined; a journal without its checkpoint, a damaged journal, a foreign file: refused as loadState refuses them', async () => {
    expect(await openStateView(dir.path('none.json'))).toBeUndefined();
    await writeFile(dir.path('lost.json.journal'), `${JSON.stringify({ i: uri(1), s: { status: 'submitted', taskId: 't1' } })}\n`);
    await expect(openStateView(dir.path('lost.json'))).rejects.toMatchObject({ code: 'state_checkpoint_missing' });
    // A first line that parses as a head, then nothing: not JSON, as loadState says.
    await writeFile(dir.path('cut-head.json'), '{"version":1,"items":{');
    await expect(openStateView(dir.path('cut-head.json'))).rejects.toMatchObject({ code: 'state_corrupt' });
    await expect(loadState(dir.path('cut-head.json'))).rejects.toMatchObject({ code: 'state_corrupt' });
    await writeFile(dir.path('foreign.json'), '{"hello":"world"}');
    await expect(openStateView(dir.path('foreign.json'))).rejects.toMatchObject({ code: 'state_foreign' });
    const path = dir.path('damaged.json');
    const store = await StateStore.open(path, IDENTITY, 'apply', 'tlmigrate test');
    await store.close();
    await writeFile(`${path}.journal`, 'not json\n{"i":"x","s":{}}\n');
    await expect(openStateView(path)).rejects.toMatchObject({ code: 'state_corrupt' });
  });

  it('a checkpoint cut short is refused when its items are read, never shown as a smaller state', async () => {
    const path = dir.path('cut.json');
    const store = await StateStore.open(path, IDENTITY, 'apply', 'tlmigrate test');
    for (let n = 0; n < 100; n++) void store.setItem(uri(n), anItem(n));
    await store.close();
    const size = (await readFile(path)).length;
    await truncate(path, Math.floor(size / 2));
    const view = (await openStateView(path)) as StateView;
    const error = await viewed(view).catch((e: unknown) => e);
    await view.close();
    expect(error).toBeInstanceOf(StateFileError);
    expect((error as StateFileError).code).toBe('state_corrupt');
  });

  it('a checkpoint that replaces the file and retires the journal between its open and its journal read: it opens again, and misses nothing', async () => {
    const path = dir.path('busy.json');
    const store = await StateStore.open(path, IDENTITY, 'apply', 'tlmigrate test');
    try {
      for (let n = 0; n < 100; n++) void store.setItem(uri(n), anItem(n));
      await store.checkpoint();
      // Only in the journal: the opened checkpoint does not hold it, and the checkpoint below folds it away.
      await store.setItem(uri(7), { status: 'ready', videoId: 'v7' }, { durable: true });
      let checkpoints = 0;
      const view = (await openStateView(path, {
        afterOpen: async () => {
          if (checkpoints++ === 0) await store.checkpoint();
        },
      })) as StateView;
      try {
        expect(checkpoints).toBe(2);
        expect((await viewed(view)).items[uri(7)]).toMatchObject({ status: 'ready', videoId: 'v7' });
      } finally {
        await view.close();
      }
    } finally {
      await store.close();
    }
  });
});
