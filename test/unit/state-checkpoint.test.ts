import { readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { describe, expect, it, vi } from 'vitest';
import { StateStore, loadState } from '../../src/state/store.js';
import { stateText } from '../../src/state/state-file.js';
import type { ItemState, StateFile } from '../../src/state/types.js';
import { useTmpDir } from './tmp-dir.js';
import type * as Atomic from '../../src/state/atomic.js';

/** Holds the checkpoint's file write while `hold` is set: the moment a slow checkpoint (a large state) is in. */
const gate = vi.hoisted(() => ({ hold: undefined as Promise<void> | undefined, entered: undefined as (() => void) | undefined }));
vi.mock('../../src/state/atomic.js', async (importOriginal) => {
  const real = await importOriginal<typeof Atomic>();
  return {
    ...real,
    writeFileAtomic: async (...args: Parameters<typeof real.writeFileAtomic>) => {
      gate.entered?.();
      if (gate.hold) await gate.hold;
      return real.writeFileAtomic(...args);
    },
  };
});

const IDENTITY = { uri: 's3://b', indexId: 'idx', bucket: 'b', prefix: '' };
const uri = (key: string) => `s3://b/${key}`;
const item = (key: string, patch: Partial<ItemState> = {}): ItemState => ({ key, size: 1, etag: `e-${key}`, status: 'planned', attempts: 0, updatedAt: '2026-11-01T00:00:00.000Z', ...patch });

/** Holds the next checkpoint's write; `entered` resolves once the checkpoint has switched journals and waits there. */
function held(): { entered: Promise<void>; release: () => void } {
  let release = () => undefined as void;
  gate.hold = new Promise<void>((resolve) => (release = resolve));
  const entered = new Promise<void>((resolve) => (gate.entered = resolve));
  return {
    entered,
    release: () => {
      gate.hold = undefined;
      gate.entered = undefined;
      release();
    },
  };
}

describe('a checkpoint off the critical path', () => {
  const tmp = useTmpDir();

  it('a durable intent written while a checkpoint is being written is on disk before that checkpoint ends; a crash then loses nothing', async () => {
    const path = tmp.path('state.json');
    const store = await StateStore.open(path, IDENTITY, 'apply', 'test');
    await store.setItem(uri('a.mp4'), item('a.mp4', { status: 'intent' }), { durable: true });
    const { entered, release } = held();
    let ended = false;
    const checkpoint = store.checkpoint().then(() => (ended = true));
    await entered;
    await store.setItem(uri('b.mp4'), item('b.mp4', { status: 'intent' }), { durable: true });
    expect(ended).toBe(false);
    // What a kill -9 now leaves: the old checkpoint, the journal it is folding, and the lines since.
    expect((await readdir(tmp.dir)).sort()).toEqual(['state.json', 'state.json.journal', 'state.json.journal.next', 'state.json.lock']);
    expect(Object.keys((await loadState(path))?.items ?? {}).sort()).toEqual([uri('a.mp4'), uri('b.mp4')]);
    release();
    await checkpoint;
    expect((await readdir(tmp.dir)).sort()).toEqual(['state.json', 'state.json.journal', 'state.json.lock']);
    expect(await readFile(`${path}.journal`, 'utf8')).toContain(uri('b.mp4'));
    await store.setItem(uri('c.mp4'), item('c.mp4'), { durable: true });
    expect(Object.keys((await loadState(path))?.items ?? {}).sort()).toEqual([uri('a.mp4'), uri('b.mp4'), uri('c.mp4')]);
    await store.close();
    expect(Object.keys((await loadState(path))?.items ?? {}).sort()).toEqual([uri('a.mp4'), uri('b.mp4'), uri('c.mp4')]);
  });

  it('a crash after the new checkpoint, before `.journal.next` took the journal\'s place: the older lines replay first, the newer last', async () => {
    const path = tmp.path('state.json');
    const line = (key: string, s: Partial<ItemState>) => `${JSON.stringify({ i: uri(key), s })}\n`;
    // The folded journal: x was sent (intent). Since the switch: x's task (submitted), then y's intent.
    const checkpoint: StateFile = { version: 1, tool: 'test', source: { uri: 's3://b', bucket: 'b', prefix: '' }, indexId: 'idx', createdAt: '', updatedAt: '', runs: [], items: { [uri('x.mp4')]: item('x.mp4', { status: 'submitted', taskId: 't1' }) } };
    let text = '';
    for await (const piece of stateText(checkpoint)) text += piece;
    await writeFile(path, text);
    await writeFile(`${path}.journal`, line('x.mp4', { status: 'intent', attempts: 1 }));
    await writeFile(`${path}.journal.next`, line('x.mp4', { status: 'submitted', taskId: 't1' }) + line('y.mp4', { ...item('y.mp4'), status: 'intent' }));
    const state = await loadState(path);
    expect(state?.items[uri('x.mp4')]).toMatchObject({ status: 'submitted', taskId: 't1', attempts: 1 });
    expect(state?.items[uri('y.mp4')]).toMatchObject({ status: 'intent' });
    const store = await StateStore.open(path, IDENTITY, 'apply', 'test');
    await store.close();
    expect((await readdir(tmp.dir)).sort()).toEqual(['state.json', 'state.json.journal']);
    expect(await readFile(`${path}.journal`, 'utf8')).toBe('');
    expect((await loadState(path))?.items[uri('y.mp4')]).toMatchObject({ status: 'intent' });
  });

  it('`.journal.next` deleted while the checkpoint is written: nothing recorded is lost, and the journal goes on', async () => {
    const path = tmp.path('state.json');
    const store = await StateStore.open(path, IDENTITY, 'apply', 'test');
    const { entered, release } = held();
    const checkpoint = store.checkpoint();
    await entered;
    await store.setItem(uri('a.mp4'), item('a.mp4', { status: 'intent' }), { durable: true });
    await rm(`${path}.journal.next`);
    release();
    await checkpoint;
    await store.setItem(uri('b.mp4'), item('b.mp4', { status: 'intent' }), { durable: true });
    expect(Object.keys((await loadState(path))?.items ?? {}).sort()).toEqual([uri('a.mp4'), uri('b.mp4')]);
    await store.close();
    expect(Object.keys((await loadState(path))?.items ?? {}).sort()).toEqual([uri('a.mp4'), uri('b.mp4')]);
  });

  it('after a checkpoint that took long, a long journal waits 20x its cost before the next one (no back-to-back checkpoints at scale)', async () => {
    vi.useFakeTimers({ toFake: ['Date', 'performance'] });
    try {
      const store = await StateStore.open(tmp.path('state.json'), IDENTITY, 'apply', 'test');
      // A checkpoint that takes 10 s (a large state): the next may start 200 s after it.
      const { entered, release } = held();
      const slow = store.checkpoint();
      await entered;
      vi.advanceTimersByTime(10_000);
      release();
      await slow;
      const after = store.stats.checkpoints;
      for (let i = 0; i < 6000; i++) await store.setItem(uri(`k${i}.mp4`), item(`k${i}.mp4`));
      await new Promise((r) => setImmediate(r));
      expect(store.stats.checkpoints).toBe(after);
      // The journal holds them all meanwhile: closing folds it, and nothing is lost.
      await store.setItem(uri('last.mp4'), item('last.mp4'));
      await store.close();
      expect(Object.keys((await loadState(tmp.path('state.json')))?.items ?? {})).toHaveLength(6001);
    } finally {
      vi.useRealTimers();
    }
  });
});
