import { appendFile, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { StateFileError } from '../../src/errors.js';
import type { LedgerEntry } from '../../src/planner/index.js';
import { StateStore, checkIdentity, loadState } from '../../src/state/store.js';
import { readLedger } from '../../src/state/view.js';
import type { ItemState, RunRecord, StateFile } from '../../src/state/types.js';
import { useTmpDir } from './tmp-dir.js';

const IDENTITY = { uri: 's3://media-archive/videos', indexId: 'idx1', bucket: 'media-archive', prefix: 'videos' };

/** The ledger readLedger streams, read twice (it is read from the file each time) and closed. */
async function ledgerOf(path: string): Promise<LedgerEntry[]> {
  const ledger = await readLedger(path, IDENTITY);
  const reads: LedgerEntry[][] = [[], []];
  for (const read of reads) for await (const entry of ledger) read.push(entry);
  await ledger.close();
  expect(reads[1]).toEqual(reads[0]);
  return reads[0] ?? [];
}
const TOOL = 'tlmigrate 0.1.0';

function anItemState(overrides: Partial<ItemState> & { key: string }): ItemState {
  return { size: 1_000, etag: `etag-${overrides.key}`, status: 'planned', attempts: 0, updatedAt: '2025-06-15T10:00:00.000Z', ...overrides };
}

function aRun(overrides: Partial<RunRecord> = {}): RunRecord {
  return {
    runId: 'run-1',
    command: 'apply',
    pid: 123,
    startedAt: '2025-06-15T10:00:00.000Z',
    counters: { submitted: 0, failed: 0, reconciled: 0, retries: 0, throttled: 0 },
    ...overrides,
  };
}

function aStateFile(overrides: Partial<StateFile> = {}): StateFile {
  return {
    version: 1,
    tool: TOOL,
    source: { uri: IDENTITY.uri, bucket: IDENTITY.bucket, prefix: IDENTITY.prefix },
    indexId: IDENTITY.indexId,
    createdAt: '2025-06-15T10:00:00.000Z',
    updatedAt: '2025-06-15T10:00:00.000Z',
    items: {},
    runs: [],
    ...overrides,
  };
}

const uri = (key: string) => `s3://media-archive/${key}`;

async function refusal(promise: Promise<unknown>): Promise<StateFileError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(StateFileError);
  return error as StateFileError;
}

describe('StateStore', () => {
  const tmp = useTmpDir();

  it('creates the state file and its journal readable by the owner only', async () => {
    const path = tmp.path('state.json');
    const store = await StateStore.open(path, IDENTITY, 'apply', TOOL);
    try {
      expect((await stat(path)).mode & 0o777).toBe(0o600);
      expect((await stat(`${path}.journal`)).mode & 0o777).toBe(0o600);
      expect((await stat(`${path}.lock`)).mode & 0o777).toBe(0o600);
    } finally {
      await store.close();
    }
    await expect(stat(`${path}.lock`)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('round-trips items, runs and the last plan through close and loadState', async () => {
    const path = tmp.path('state.json');
    const store = await StateStore.open(path, IDENTITY, 'apply', TOOL);
    await store.setItem(uri('videos/a.mp4'), anItemState({ key: 'videos/a.mp4' }));
    await store.setItem(uri('videos/a.mp4'), { status: 'submitted', taskId: 't1', attempts: 1 }, { durable: true });
    await store.setItem(uri('videos/b.mp4'), anItemState({ key: 'videos/b.mp4', status: 'failed', lastError: { code: 'video_file_broken', message: 'x', at: 'now' } }));
    await store.setRun(aRun());
    await store.setRun(aRun({ outcome: 'completed', endedAt: '2025-06-15T11:00:00.000Z' }));
    await store.setLastPlan({ planId: 'plan-1', createdAt: '2025-06-15T09:00:00.000Z' });
    await store.close();

    expect(await readFile(`${path}.journal`, 'utf8')).toBe('');
    const state = await loadState(path);
    expect(state?.items[uri('videos/a.mp4')]).toMatchObject({ key: 'videos/a.mp4', status: 'submitted', taskId: 't1', attempts: 1, etag: 'etag-videos/a.mp4' });
    expect(state?.items[uri('videos/b.mp4')]).toMatchObject({ status: 'failed', lastError: { code: 'video_file_broken' } });
    expect(state?.runs).toEqual([aRun({ outcome: 'completed', endedAt: '2025-06-15T11:00:00.000Z' })]);
    expect(state?.lastPlan).toEqual({ planId: 'plan-1', createdAt: '2025-06-15T09:00:00.000Z' });
    expect(state).toMatchObject({ version: 1, tool: TOOL, indexId: 'idx1', source: { uri: IDENTITY.uri } });
    await expect(ledgerOf(path)).resolves.toEqual([
      { uri: uri('videos/a.mp4'), size: 1_000, etag: 'etag-videos/a.mp4', status: 'submitted', taskId: 't1', videoId: undefined, errorCode: undefined },
      { uri: uri('videos/b.mp4'), size: 1_000, etag: 'etag-videos/b.mp4', status: 'failed', taskId: undefined, videoId: undefined, errorCode: 'video_file_broken' },
    ]);
  });

  it('closes a run that never ended (killed) as interrupted when the next command takes the lock, with the counts its items show', async () => {
    const path = tmp.path('state.json');
    const killed = await StateStore.open(path, IDENTITY, 'apply', TOOL);
    await killed.setRun(aRun({ runId: 'killed', endedAt: null }));
    const item = (key: string, status: ItemState['status'], at: string, extra: Partial<ItemState> = {}) =>
      killed.setItem(uri(key), anItemState({ key, status, runId: 'killed', updatedAt: at, ...extra }));
    await item('videos/a.mp4', 'submitted', '2025-06-15T10:03:00.000Z', { taskId: 't1' });
    await item('videos/b.mp4', 'failed', '2025-06-15T10:04:00.000Z');
    await item('videos/c.mp4', 'intent', '2025-06-15T10:05:00.000Z');
    // Released as a kill -9 leaves it (the dead pid's lock is taken over): no end recorded.
    await killed.close();
    expect((await loadState(path))?.runs[0]?.endedAt).toBeNull();

    const next = await StateStore.open(path, IDENTITY, 'apply', TOOL);
    await next.close();
    expect((await loadState(path))?.runs).toEqual([
      aRun({ runId: 'killed', endedAt: '2025-06-15T10:05:00.000Z', outcome: 'interrupted', counters: { submitted: 1, failed: 1, reconciled: 0, retries: 0, throttled: 0 } }),
    ]);
  });

  it('forgets a run that had nothing to do', async () => {
    const path = tmp.path('state.json');
    const store = await StateStore.open(path, IDENTITY, 'apply', TOOL);
    await store.setRun(aRun({ runId: 'kept', endedAt: '2025-06-15T10:01:00.000Z', outcome: 'completed' }));
    await store.setRun(aRun({ runId: 'noop' }));
    await store.forgetRun('noop');
    await store.close();
    expect((await loadState(path))?.runs.map((r) => r.runId)).toEqual(['kept']);
  });

  it('replays the journal when the process died before a checkpoint', async () => {
    const path = tmp.path('state.json');
    const first = await StateStore.open(path, IDENTITY, 'apply', TOOL);
    await first.setItem(uri('videos/a.mp4'), anItemState({ key: 'videos/a.mp4', status: 'ready', videoId: 'v1' }));
    await first.close();

    const store = await StateStore.open(path, IDENTITY, 'apply', TOOL);
    try {
      await store.setItem(uri('videos/b.mp4'), anItemState({ key: 'videos/b.mp4', status: 'intent', intentAt: '2025-06-15T10:05:00.000Z' }), { durable: true });
      await store.setItem(uri('videos/a.mp4'), { status: 'failed' });
      await store.setRun(aRun({ runId: 'run-2' }));
      // No close: what is on disk now is what a crash leaves.
      const checkpoint = JSON.parse(await readFile(path, 'utf8')) as StateFile;
      expect(Object.keys(checkpoint.items)).toEqual([uri('videos/a.mp4')]);
      const state = await loadState(path);
      expect(state?.items[uri('videos/b.mp4')]).toMatchObject({ status: 'intent', intentAt: '2025-06-15T10:05:00.000Z' });
      expect(state?.items[uri('videos/a.mp4')]).toMatchObject({ status: 'failed', videoId: 'v1' });
      expect(state?.runs.map((r) => r.runId)).toEqual(['run-2']);
    } finally {
      await store.close();
    }
  });

  it.each(['deleted', 'replaced by another file'])('a journal %s under a running store: a durable write is on disk before it resolves, and later lines reach the new journal', async (how) => {
    const path = tmp.path('state.json');
    const store = await StateStore.open(path, IDENTITY, 'apply', TOOL);
    try {
      await store.setItem(uri('videos/a.mp4'), anItemState({ key: 'videos/a.mp4', status: 'intent' }), { durable: true });
      await rm(`${path}.journal`);
      if (how !== 'deleted') await writeFile(`${path}.journal`, '', { mode: 0o600 });
      await store.setItem(uri('videos/b.mp4'), anItemState({ key: 'videos/b.mp4', status: 'intent' }), { durable: true });
      // No close: what is on disk now is what a crash leaves.
      expect(Object.keys((await loadState(path))?.items ?? {}).sort()).toEqual([uri('videos/a.mp4'), uri('videos/b.mp4')]);
      expect(store.stats.journalsReopened).toBe(1);
      await store.setItem(uri('videos/c.mp4'), anItemState({ key: 'videos/c.mp4', status: 'intent' }), { durable: true });
      expect(await readFile(`${path}.journal`, 'utf8')).toContain(uri('videos/c.mp4'));
      expect(Object.keys((await loadState(path))?.items ?? {})).toContain(uri('videos/c.mp4'));
      expect(store.stats.journalsReopened).toBe(1);
    } finally {
      await store.close();
    }
  });

  it('ignores a torn last journal line, and folds the journal on the next open', async () => {
    const path = tmp.path('state.json');
    await (await StateStore.open(path, IDENTITY, 'apply', TOOL)).close();
    const good = JSON.stringify({ i: uri('videos/a.mp4'), s: anItemState({ key: 'videos/a.mp4', status: 'intent' }) });
    await appendFile(`${path}.journal`, `${good}\n{"i":"${uri('videos/b.mp4')}","s":{"sta`);

    const state = await loadState(path);
    expect(Object.keys(state?.items ?? {})).toEqual([uri('videos/a.mp4')]);

    const store = await StateStore.open(path, IDENTITY, 'apply', TOOL);
    await store.setItem(uri('videos/c.mp4'), anItemState({ key: 'videos/c.mp4' }));
    await store.close();
    expect(Object.keys((await loadState(path))?.items ?? {}).sort()).toEqual([uri('videos/a.mp4'), uri('videos/c.mp4')]);
  });

  describe('refuses, leaving every file byte-identical', () => {
    async function snapshot(paths: string[]): Promise<Array<string | undefined>> {
      return Promise.all(paths.map((p) => readFile(p, 'utf8').catch(() => undefined)));
    }

    it.each<[string, string | undefined, string | undefined, string]>([
      ['a corrupt middle journal line', JSON.stringify(aStateFile()), 'JOURNAL', 'state_corrupt'],
      ['a complete (newline-ended) last journal line that is not JSON', JSON.stringify(aStateFile()), 'LAST_COMPLETE', 'state_corrupt'],
      ['a journal line that is JSON but not an event', JSON.stringify(aStateFile()), 'NOT_EVENT', 'state_corrupt'],
      ['a journal line that is a JSON array', JSON.stringify(aStateFile()), 'NOT_OBJECT', 'state_corrupt'],
      ['a journal without its checkpoint', undefined, `${JSON.stringify({ i: 's3://media-archive/videos/a.mp4', s: { status: 'intent' } })}\n`, 'state_checkpoint_missing'],
      ['a corrupt checkpoint', '{"version":1,"tool":"tlmigrate 0.1.0","items":{', undefined, 'state_corrupt'],
      ['an empty checkpoint', '', undefined, 'state_corrupt'],
      ['a foreign JSON file', '{"name":"my-app","version":"1.0.0","dependencies":{}}', undefined, 'state_foreign'],
      ['a JSON array', '[1,2,3]', undefined, 'state_foreign'],
      ['JSON null', 'null', undefined, 'state_foreign'],
      ['a newer version', JSON.stringify(aStateFile({ version: 2 as 1 })), undefined, 'state_version'],
      ['another source', JSON.stringify(aStateFile({ source: { uri: 's3://other/videos', bucket: 'other', prefix: 'videos' } })), undefined, 'state_mismatch'],
      ['another index', JSON.stringify(aStateFile({ indexId: 'idx2' })), undefined, 'state_mismatch'],
    ])('%s', async (_case, checkpoint, journal, code) => {
      const path = tmp.path('state.json');
      if (checkpoint !== undefined) await writeFile(path, checkpoint);
      if (journal !== undefined) {
        const event = (key: string) => JSON.stringify({ i: uri(key), s: { status: 'ready' } });
        const damaged: Record<string, string> = {
          JOURNAL: `${event('a.mp4')}\n{"i":"s3://garbage\n${event('b.mp4')}\n`,
          LAST_COMPLETE: `${event('a.mp4')}\n{"i":"s3://garbage\n`,
          NOT_EVENT: `${event('a.mp4')}\n{"hello":"world"}\n`,
          NOT_OBJECT: `${event('a.mp4')}\n[1,2]\n`,
        };
        await writeFile(`${path}.journal`, damaged[journal] ?? journal);
      }
      const files = [path, `${path}.journal`];
      const before = await snapshot(files);

      const opened = await refusal(StateStore.open(path, IDENTITY, 'apply', TOOL));
      expect(opened.code).toBe(code);
      if (code !== 'state_mismatch') expect((await refusal(loadState(path))).code).toBe(code);
      expect(await snapshot(files)).toEqual(before);
      // The lock was given back: a valid state can be opened at once.
      await expect(stat(`${path}.lock`)).rejects.toMatchObject({ code: 'ENOENT' });
    });
  });

  it('an empty journal without a checkpoint is no state at all', async () => {
    const path = tmp.path('state.json');
    await writeFile(`${path}.journal`, '');
    expect(await loadState(path)).toBeUndefined();
  });

  it('a journal write cut short is an error before anything else is recorded, and leaves only whole lines', async () => {
    const path = tmp.path('state.json');
    const store = await StateStore.open(path, IDENTITY, 'apply', TOOL);
    await store.setItem(uri('videos/a.mp4'), anItemState({ key: 'videos/a.mp4', status: 'intent' }), { durable: true });
    // Make every later write short: the handle accepts part of the bytes, then none (a disk filling up).
    const journal = (store as unknown as { journal: { handle: { write: (b: Buffer, o: number, l: number) => Promise<{ bytesWritten: number }> } } }).journal.handle;
    const write = journal.write.bind(journal);
    let calls = 0;
    journal.write = (bytes, offset, length) => (++calls === 1 ? write(bytes, offset, Math.min(length, 7)) : Promise.resolve({ bytesWritten: 0 }));
    const refused = await refusal(store.setItem(uri('videos/b.mp4'), anItemState({ key: 'videos/b.mp4', status: 'intent' }), { durable: true }));
    expect(refused.code).toBe('state_write_failed');
    expect(refused.message).toMatch(/ENOSPC/);
    // Nothing more is appended after a cut line.
    expect((await refusal(store.setItem(uri('videos/c.mp4'), anItemState({ key: 'videos/c.mp4' }), { durable: true }))).code).toBe('state_write_failed');
    const text = await readFile(`${path}.journal`, 'utf8');
    expect(text.endsWith('\n')).toBe(true);
    expect(text.split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { i: string }).i)).toEqual([uri('videos/a.mp4')]);
  });

  it('names both identities when refusing a mismatch', () => {
    const state = aStateFile();
    expect(() => checkIdentity(state, { uri: IDENTITY.uri, indexId: IDENTITY.indexId }, 'state.json')).not.toThrow();
    let error: unknown;
    try {
      checkIdentity(state, { uri: 's3://other', indexId: 'idx9' }, 'state.json');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(StateFileError);
    expect(error).toMatchObject({ code: 'state_mismatch' });
    expect((error as Error).message).toContain(IDENTITY.uri);
    expect((error as Error).message).toContain('s3://other');
    expect((error as Error).message).toContain('idx9');
  });

  it('reads no state as undefined and an empty ledger', async () => {
    await expect(loadState(tmp.path('none.json'))).resolves.toBeUndefined();
    await expect(ledgerOf(tmp.path('none.json'))).resolves.toEqual([]);
  });

  it('locks out a second writer', async () => {
    const path = tmp.path('state.json');
    const store = await StateStore.open(path, IDENTITY, 'apply', TOOL);
    try {
      const error = await refusal(StateStore.open(path, IDENTITY, 'apply', TOOL));
      expect(error.code).toBe('state_locked');
      expect(error.message).toContain(`pid ${process.pid}`);
    } finally {
      await store.close();
    }
  });
});
