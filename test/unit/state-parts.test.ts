import { cp, mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BLANK_ITEM } from '../../src/state/events.js';
import { PartedStore, type CheckpointPoint } from '../../src/state/parted-store.js';
import { compareUris, type PartsManifest } from '../../src/state/parts.js';
import { loadState, StateStore } from '../../src/state/store.js';
import type { ItemState } from '../../src/state/types.js';
import { openStateView, readLedger, type StateView } from '../../src/state/view.js';
import { useTmpDir } from './tmp-dir.js';

const IDENTITY = { uri: 's3://archive/clips', indexId: 'idx1', bucket: 'archive', prefix: 'clips' };
const uri = (n: number) => `s3://archive/clips/c-${String(n).padStart(6, '0')}.mp4`;
const anItem = (n: number, patch: Partial<ItemState> = {}): Partial<ItemState> => ({ key: `clips/c-${n}.mp4`, size: n, etag: `e${n}`, status: 'planned', attempts: 0, updatedAt: '2026-12-01T00:00:00.000Z', ...patch });

/** What the state should hold: every change laid over the last, as the store and a replay apply them. */
class Model {
  readonly items = new Map<string, ItemState>();
  set(uri: string, patch: Partial<ItemState>): void {
    this.items.set(uri, { ...(this.items.get(uri) ?? BLANK_ITEM), ...patch } as ItemState);
  }
  /** The items in key order, as a state in parts gives them. */
  sorted(): Array<[string, ItemState]> {
    return [...this.items].sort(([a], [b]) => compareUris(a, b));
  }
  copy(): Model {
    const model = new Model();
    for (const [key, item] of this.items) model.items.set(key, item);
    return model;
  }
}

/** Records a change in the store and the model alike. */
function change(store: PartedStore | StateStore, model: Model, key: string, patch: Partial<ItemState>, durable = false): Promise<void> {
  const stamped = { ...patch, updatedAt: patch.updatedAt ?? '2026-12-01T00:00:01.000Z' };
  model.set(key, stamped);
  return store.setItem(key, stamped, { durable });
}

async function viewed(view: StateView): Promise<Array<[string, ItemState]>> {
  const items: Array<[string, ItemState]> = [];
  for await (const entry of view.items()) items.push(entry);
  return items;
}

async function viewOf(path: string): Promise<Array<[string, ItemState]>> {
  const view = (await openStateView(path)) as StateView;
  try {
    return await viewed(view);
  } finally {
    await view.close();
  }
}

/** Every item of a parted state, read through a fresh PartedStore that loads each part. */
async function storeItems(store: PartedStore): Promise<Array<[string, ItemState]>> {
  for (const part of store.partList()) await store.loadPart(part.id);
  return [...store.loadedItems()].sort(([a], [b]) => compareUris(a, b));
}

/** A shuffled order of 0..n-1 (a fixed seed: the same each run). */
function shuffled(n: number): number[] {
  const order = Array.from({ length: n }, (_, i) => i);
  let seed = 7;
  for (let i = n - 1; i > 0; i--) {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    const j = seed % (i + 1);
    [order[i], order[j]] = [order[j] as number, order[i] as number];
  }
  return order;
}

async function partFiles(path: string): Promise<string[]> {
  return (await readdir(`${path}.parts`)).sort();
}

describe('the state in parts: layout', () => {
  const tmp = useTmpDir();

  it('a manifest with no items member (older code refuses it by name) and part files of key-ordered items, each plain JSON', async () => {
    const path = tmp.path('state.json');
    const store = await PartedStore.open(path, IDENTITY, 'apply', 'tlmigrate test', { partSize: 100 });
    const model = new Model();
    for (const n of shuffled(450)) void change(store, model, uri(n), anItem(n, { status: n % 3 === 0 ? 'ready' : 'planned' }));
    await store.close();
    const manifest = JSON.parse(await readFile(path, 'utf8')) as PartsManifest & { items?: unknown };
    expect(manifest.items).toBeUndefined();
    expect(manifest).toMatchObject({ version: 1, tool: 'tlmigrate test', indexId: 'idx1', source: { uri: IDENTITY.uri } });
    // 450 new items routed into one part, then split at the checkpoint into parts of about 100.
    expect(manifest.parts.length).toBeGreaterThanOrEqual(4);
    expect(manifest.parts.reduce((n, p) => n + p.items, 0)).toBe(450);
    let previous = '';
    for (const part of manifest.parts) {
      expect(part.file).toMatch(/^state\.json\.parts\/\d{5}-\d{6}\.json$/);
      const file = JSON.parse(await readFile(join(tmp.dir, part.file), 'utf8')) as { part: number; items: Record<string, ItemState> };
      const keys = Object.keys(file.items);
      expect(keys).toEqual([...keys].sort(compareUris));
      expect([keys[0], keys.at(-1), keys.length]).toEqual([part.first, part.last, part.items]);
      expect(compareUris(previous, part.first)).toBeLessThan(0);
      expect(part.byStatus.ready).toBe(Object.values(file.items).filter((i) => i.status === 'ready').length);
      expect(part.items).toBeLessThanOrEqual(200);
      previous = part.last;
    }
    await expect(loadState(path)).rejects.toMatchObject({ code: 'state_parted' });
    await expect(StateStore.open(path, IDENTITY, 'apply', 'test')).rejects.toMatchObject({ code: 'state_parted' });
    expect(await viewOf(path)).toEqual(model.sorted());
  });

  it('compares URIs as S3 orders keys (UTF-8 bytes), past U+FFFF too', () => {
    const keys = ['a', 'ab', 'a\u{1F600}', 'a\uFFFD', 'a\uE000', 'b', 'B', 'é', 'a\u00FF'];
    const bytes = [...keys].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
    expect([...keys].sort(compareUris)).toEqual(bytes);
  });
});

describe('PartedStore', () => {
  const tmp = useTmpDir();

  /** A checkpointed state of `n` items in parts of 100, reopened: nothing loaded. */
  async function aState(n: number, options: { pause?: (point: CheckpointPoint) => Promise<void> | void } = {}): Promise<{ path: string; store: PartedStore; model: Model }> {
    await mkdir(tmp.path('live'));
    const path = tmp.path('live/state.json');
    const first = await PartedStore.open(path, IDENTITY, 'apply', 'tlmigrate test', { partSize: 100 });
    const model = new Model();
    for (let i = 0; i < n; i++) void change(first, model, uri(i * 2), anItem(i * 2));
    await first.close();
    const store = await PartedStore.open(path, IDENTITY, 'apply', 'tlmigrate test', { partSize: 100, ...options });
    return { path, store, model };
  }

  it('a checkpoint writes the parts changed, not the state: one part file and the manifest for changes in one part', async () => {
    const { path, store, model } = await aState(1_000);
    try {
      const before = await partFiles(path);
      expect(before).toHaveLength(store.partList().length);
      const part = store.partList()[3];
      if (!part) throw new Error('no part 3');
      for (let n = 0; n < 20; n++) await change(store, model, part.written?.first ?? '', { status: 'submitted', attempts: n });
      await change(store, model, part.written?.last ?? '', { status: 'ready' });
      await store.checkpoint();
      expect(store.lastCheckpoint).toMatchObject({ parts: 1, items: part.written?.items });
      const after = await partFiles(path);
      expect(after.filter((f) => !before.includes(f))).toHaveLength(1);
      expect(before.filter((f) => !after.includes(f))).toEqual([part.written?.file.split('/')[1]]);
      expect(store.partList().every((p) => !p.loaded)).toBe(true);
      expect(await viewOf(path)).toEqual(model.sorted());
    } finally {
      await store.close();
    }
  });

  it('opens without loading a part: the journal\'s changes wait, folded, for their part; item() asks for the part to be loaded', async () => {
    const { path, store, model } = await aState(500);
    const crashed = tmp.path('crashed');
    const late = uri(7);
    await change(store, model, uri(2), { status: 'intent', attempts: 1 }, true);
    await change(store, model, uri(2), { status: 'submitted', taskId: 't2' }, true);
    await change(store, model, late, anItem(7, { status: 'intent' }), true);
    await change(store, model, uri(5_000), anItem(5_000), true);
    // What a kill -9 leaves: no checkpoint since the changes, only the journal.
    await cp(tmp.path('live'), crashed, { recursive: true, filter: (f) => !f.endsWith('.lock') });
    await store.close();
    const reopened = await PartedStore.open(join(crashed, 'state.json'), IDENTITY, 'apply', 'tlmigrate test', { partSize: 100 });
    try {
      expect(reopened.partList().filter((p) => p.loaded).map((p) => p.id)).toEqual([reopened.partOf(uri(5_000))]);
      expect(() => reopened.item(uri(2))).toThrow(/is not loaded: await loadPart/);
      expect(reopened.item(uri(999_999))).toBeUndefined();
      await reopened.loadPart(reopened.partOf(uri(2)) as number);
      expect(reopened.item(uri(2))).toMatchObject({ status: 'submitted', taskId: 't2', attempts: 1, size: 2 });
      expect(reopened.item(late)).toMatchObject({ status: 'intent', size: 7 });
      expect(reopened.item(uri(5_000))).toMatchObject({ size: 5_000 });
      expect(await storeItems(reopened)).toEqual(model.sorted());
    } finally {
      await reopened.close();
    }
    expect(await viewOf(join(crashed, 'state.json'))).toEqual(model.sorted());
    expect(await viewOf(path)).toEqual(model.sorted());
  });

  it('a part is unloaded only once its changes are in its file', async () => {
    const { store, model } = await aState(300);
    try {
      const id = store.partOf(uri(10)) as number;
      await store.loadPart(id);
      await change(store, model, uri(10), { status: 'ready' });
      expect(() => store.unloadPart(id)).toThrow(/checkpoint before unloading/);
      await store.checkpoint();
      store.unloadPart(id);
      expect(store.partList().find((p) => p.id === id)?.loaded).toBe(false);
      await store.loadPart(id);
      expect(store.item(uri(10))?.status).toBe('ready');
    } finally {
      await store.close();
    }
  });

  it('a part past twice the part size is split; new URIs go to the part whose range holds them, or a new last part', async () => {
    const { path, store, model } = await aState(300);
    try {
      const parts = store.partList().length;
      // 250 new URIs between two existing ones: into one part, which then holds 350 and splits.
      const inside = store.partList()[1];
      for (let n = 0; n < 250; n++) await change(store, model, `${inside?.written?.first ?? ''}-${String(n).padStart(3, '0')}`, anItem(n));
      // URIs past the last part, which is full: a new last part.
      for (let n = 0; n < 5; n++) await change(store, model, `s3://archive/clips/z-${n}.mp4`, anItem(n));
      expect(store.partList()).toHaveLength(parts + 1);
      await store.checkpoint();
      const after = store.partList();
      expect(after.length).toBeGreaterThanOrEqual(parts + 3);
      for (const part of after) expect(part.written?.items ?? 0).toBeLessThanOrEqual(200);
      for (let i = 1; i < after.length; i++) expect(compareUris(after[i - 1]?.last ?? '', after[i]?.first ?? '')).toBeLessThan(0);
      expect(await viewOf(path)).toEqual(model.sorted());
    } finally {
      await store.close();
    }
    const reopened = await PartedStore.open(path, IDENTITY, 'apply', 'tlmigrate test', { partSize: 100 });
    expect(await storeItems(reopened)).toEqual(model.sorted());
    await reopened.close();
  });

  it('refuses a one-file state, and a one-file store refuses a state in parts', async () => {
    const path = tmp.path('one.json');
    const one = await StateStore.open(path, IDENTITY, 'apply', 'test');
    await one.close();
    await expect(PartedStore.open(path, IDENTITY, 'apply', 'test')).rejects.toMatchObject({ code: 'state_not_parted' });
    await expect(PartedStore.open(path, { ...IDENTITY, indexId: 'other' }, 'apply', 'test')).rejects.toMatchObject({ code: 'state_not_parted' });
    const parted = tmp.path('parted.json');
    await (await PartedStore.open(parted, IDENTITY, 'apply', 'test')).close();
    await expect(PartedStore.open(parted, { ...IDENTITY, indexId: 'other' }, 'apply', 'test')).rejects.toMatchObject({ code: 'state_mismatch' });
  });
});

describe('a kill at each point of a parted checkpoint', () => {
  const tmp = useTmpDir();
  const points: Array<[CheckpointPoint, number]> = [
    ['switched', 1],
    ['part-written', 1],
    ['part-written', 2],
    ['manifest-written', 1],
    ['journal-retired', 1],
  ];

  it.each(points)('stopped at %s (#%i): what is on disk reopens to every change made, durable ones included, and the next checkpoint completes', async (point, nth) => {
    await mkdir(tmp.path('live'));
    const path = tmp.path('live/state.json');
    let arm = false;
    let seen = 0;
    let release: () => void = () => undefined;
    let reached: () => void = () => undefined;
    const stopped = new Promise<void>((resolve) => (reached = resolve));
    const pause = (at: CheckpointPoint) => {
      if (!arm || at !== point || ++seen !== nth) return undefined;
      reached();
      return new Promise<void>((resolve) => (release = resolve));
    };
    const first = await PartedStore.open(path, IDENTITY, 'apply', 'tlmigrate test', { partSize: 100 });
    const model = new Model();
    for (let i = 0; i < 600; i++) void change(first, model, uri(i * 2), anItem(i * 2));
    await first.close();
    const store = await PartedStore.open(path, IDENTITY, 'apply', 'tlmigrate test', { partSize: 100, pause });
    // Changes in three parts (one past the last), then a checkpoint held at the point.
    for (const n of [4, 6, 400, 402, 2_000]) await change(store, model, uri(n), anItem(n, { status: 'intent', attempts: 1 }), true);
    arm = true;
    const checkpoint = store.checkpoint();
    await stopped;
    // While it is held: durable intents go on (to `.journal.next`), in written and unwritten parts alike.
    await change(store, model, uri(4), { status: 'submitted', taskId: 't4' }, true);
    await change(store, model, uri(800), { status: 'intent', attempts: 1 }, true);
    await change(store, model, uri(3), anItem(3, { status: 'intent' }), true);
    const killed = tmp.path('killed');
    await cp(tmp.path('live'), killed, { recursive: true, filter: (f) => !f.endsWith('.lock') });
    // A kill mid-write of a part also leaves its temp file.
    await writeFile(join(killed, 'state.json.parts', '.00009-000099.json.1.2.tmp'), '{"part":9,"items":{\n"s3://arch');
    const expected = model.copy().sorted();
    release();
    await checkpoint;
    await store.close();
    expect(await viewOf(path)).toEqual(model.sorted());

    const at = join(killed, 'state.json');
    expect(await viewOf(at)).toEqual(expected);
    const reopened = await PartedStore.open(at, IDENTITY, 'apply', 'tlmigrate test', { partSize: 100 });
    expect((await readdir(join(killed, 'state.json.parts'))).some((f) => f.endsWith('.tmp'))).toBe(false);
    expect(await storeItems(reopened)).toEqual(expected);
    await reopened.setItem(uri(6), { status: 'ready' }, { durable: true });
    await reopened.close();
    const manifest = JSON.parse(await readFile(at, 'utf8')) as PartsManifest;
    expect((await partFiles(at)).sort()).toEqual(manifest.parts.map((p) => p.file.split('/')[1]).sort());
    expect(await readFile(`${at}.journal`, 'utf8')).toBe('');
    const final = await viewOf(at);
    expect(final.find(([key]) => key === uri(6))?.[1].status).toBe('ready');
    expect(final.map(([key]) => key)).toEqual(expected.map(([key]) => key));
  });
});

describe('openStateView on a state in parts', () => {
  const tmp = useTmpDir();

  it('gives the same items as the one-file layout for the same changes (key order), with the header the journal leaves', async () => {
    const states = { one: tmp.path('one.json'), parted: tmp.path('parted.json') };
    const stores = [await StateStore.open(states.one, IDENTITY, 'apply', 'tlmigrate test'), await PartedStore.open(states.parted, IDENTITY, 'apply', 'tlmigrate test', { partSize: 1_000 })] as const;
    const models = [new Model(), new Model()];
    for (const [s, store] of stores.entries()) {
      const model = models[s] as Model;
      // 10,000 items: more than a batch of the reader (4,096 lines) and ten parts.
      for (const n of shuffled(10_000)) void change(store, model, uri(n), anItem(n));
      await store.setRun({ runId: 'r1', command: 'apply', pid: 1, startedAt: '2026-01-01T00:00:00.000Z', counters: { submitted: 0, failed: 0, reconciled: 0, retries: 0, throttled: 0 } });
      await store.checkpoint();
      await change(store, model, uri(3), { status: 'submitted', taskId: 't3' });
      await change(store, model, uri(3), { status: 'ready', videoId: 'v3' });
      await change(store, model, uri(9_999), { status: 'failed', lastError: { code: 'video_duration_too_short', message: 'short', at: '2026-01-01T00:00:01.000Z' } });
      await change(store, model, uri(20_000), anItem(20_000, { status: 'intent' }));
      await change(store, model, `${uri(500)}-between`, anItem(500, { status: 'intent' }));
      await store.setRun({ runId: 'r1', command: 'apply', pid: 1, startedAt: '2026-01-01T00:00:00.000Z', endedAt: '2026-01-01T01:00:00.000Z', outcome: 'completed', counters: { submitted: 1, failed: 1, reconciled: 0, retries: 0, throttled: 0 } });
      await store.setLastPlan({ planId: 'p1', createdAt: '2026-01-01T00:00:00.000Z' });
      await store.addHistory({ at: '2026-01-02T00:00:00.000Z', action: 'delete_video', videoId: 'v9', reason: 'duplicate' });
    }
    const [one, parted] = [(await openStateView(states.one)) as StateView, (await openStateView(states.parted)) as StateView];
    try {
      const [oneItems, partedItems] = [await viewed(one), await viewed(parted)];
      expect(Object.fromEntries(partedItems)).toEqual(Object.fromEntries(oneItems));
      expect(partedItems).toEqual(models[1]?.sorted());
      expect(partedItems.find(([key]) => key === uri(3))?.[1]).toMatchObject({ status: 'ready', taskId: 't3', videoId: 'v3', size: 3 });
      const { updatedAt: _a, createdAt: _b, ...oneHeader } = one.header;
      const { updatedAt: _c, createdAt: _d, ...partedHeader } = parted.header;
      expect(partedHeader).toEqual(oneHeader);
      expect(parted.header.runs[0]?.outcome).toBe('completed');
      // The planner's ledger streams the same view.
      const ledger = await readLedger(states.parted, IDENTITY);
      const entries = [];
      for await (const entry of ledger) entries.push(entry);
      await ledger.close();
      expect(entries.map((e) => [e.uri, e.status, e.taskId])).toEqual(partedItems.map(([key, item]) => [key, item.status, item.taskId]));
    } finally {
      await one.close();
      await parted.close();
      for (const store of stores) await store.close();
    }
  });

  it('a checkpoint that replaces the part being read: the view reads the manifest again and goes on after the last item it gave', async () => {
    const path = tmp.path('state.json');
    const store = await PartedStore.open(path, IDENTITY, 'apply', 'tlmigrate test', { partSize: 100 });
    const model = new Model();
    for (let n = 0; n < 1_000; n++) void change(store, model, uri(n), anItem(n));
    await store.checkpoint();
    const view = (await openStateView(path)) as StateView;
    const seen: Array<[string, ItemState]> = [];
    try {
      for await (const entry of view.items()) {
        seen.push(entry);
        if (seen.length === 150) {
          // Every part is rewritten and its old file deleted while the view is in the second.
          for (let n = 0; n < 1_000; n += 10) await change(store, model, uri(n), { status: 'ready' });
          await store.checkpoint();
        }
      }
    } finally {
      await view.close();
      await store.close();
    }
    expect(seen.map(([key]) => key)).toEqual(model.sorted().map(([key]) => key));
    expect(seen.slice(300).filter(([, item]) => item.status === 'ready')).toHaveLength(70);
  });
});
