import { mkdir, readFile } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { printLogs } from '../../src/cli/logs-command.js';
import { runReport } from '../../src/cli/report-command.js';
import { printStatus } from '../../src/cli/status-command.js';
import { importLogs, importStatus } from '../../src/report/status-json.js';
import { PartedStore } from '../../src/state/parted-store.js';
import { StateStore, loadState } from '../../src/state/store.js';
import type { ItemState, RunRecord, StateFile } from '../../src/state/types.js';
import { useTmpDir } from './tmp-dir.js';

const IDENTITY = { uri: 's3://archive/clips', indexId: 'idx1', bucket: 'archive', prefix: 'clips' };
const STATUSES: ItemState['status'][] = ['planned', 'intent', 'submitted', 'pending', 'queued', 'indexing', 'ready', 'failed', 'skipped', 'asset_processing', 'unknown'];

function run(n: number, extra: Partial<RunRecord> = {}): RunRecord {
  return { runId: `run-${n}`, command: 'apply', pid: 100 + n, startedAt: `2026-01-0${n}T00:00:00.000Z`, counters: { submitted: 0, failed: 0, reconciled: 0, retries: 0, throttled: 0 }, ...extra };
}

/** A state of every kind of item, 3 runs (one with quota waits, one stopped by a budget), part of it only in the journal. */
async function aState(path: string, n: number): Promise<StateStore> {
  const store = await StateStore.open(path, IDENTITY, 'apply', 'tlmigrate test');
  await store.setRun(run(1, { endedAt: '2026-01-01T01:00:00.000Z', outcome: 'completed' }));
  await store.setRun(run(2, { endedAt: '2026-01-02T01:00:00.000Z', outcome: 'quota', waits: [{ at: '2026-01-02T00:10:00.000Z', until: '2026-01-02T00:20:00.000Z', reason: 'quota', resetKnown: true }] }));
  await store.setRun(run(3, { budget: { reason: '--max-items 10', used: { items: 10, videoSeconds: 0 }, left: { items: 5 } } }));
  for (let i = 0; i < n; i++) {
    const status = STATUSES[i % STATUSES.length] as ItemState['status'];
    const preflight = status === 'failed' && i % 2 === 0;
    void store.setItem(`s3://archive/clips/c-${i}.mp4`, {
      key: `clips/c-${i}.mp4`,
      size: i,
      etag: `e${i}`,
      status,
      attempts: 1,
      ...(preflight ? { reason: 'video_duration_too_short' } : { runId: `run-${(i % 3) + 1}`, submittedAt: `2026-01-01T00:0${i % 10}:00.000Z` }),
      ...(status === 'failed' ? { lastError: { code: preflight ? 'video_duration_too_short' : 'task_failed', message: `broken "${i}"\n`, at: '2026-01-03T00:00:00.000Z' } } : {}),
      ...(status === 'ready' ? { videoId: `v${i}`, taskId: `t${i}` } : {}),
    });
    if (i === Math.floor(n / 2)) await store.checkpoint();
  }
  await store.setItem('s3://archive/clips/c-0.mp4', { status: 'ready', videoId: 'v0' });
  return store;
}

function collector(): { sink: Writable; text: () => string } {
  const pieces: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer | string, _encoding: BufferEncoding, done: () => void) {
      pieces.push(String(chunk));
      done();
    },
  });
  return { sink, text: () => pieces.join('') };
}

describe('status and logs read the state as a stream', () => {
  const dir = useTmpDir();

  it('status --json and logs --json print the same text as the whole state gave, with the journal applied', async () => {
    const path = dir.path('state.json');
    const store = await aState(path, 3_000);
    try {
      const state = (await loadState(path)) as StateFile;
      expect(state.items['s3://archive/clips/c-0.mp4']?.status).toBe('ready');
      const status = collector();
      await printStatus(path, true, status.sink);
      expect(status.text()).toBe(`${JSON.stringify(importStatus(state))}\n`);
      const logs = collector();
      await printLogs(path, true, logs.sink);
      expect(logs.text()).toBe(`${JSON.stringify(importLogs(state))}\n`);
      const parsed = JSON.parse(logs.text()) as ReturnType<typeof importLogs>;
      expect(parsed.data).toHaveLength(3);
      expect(parsed.data[1]?.quota_waits).toHaveLength(1);
      expect(parsed.data[2]?.budget?.left_items).toBe(5);
      expect(parsed.failed_in_preflight.length).toBeGreaterThan(0);
    } finally {
      await store.close();
    }
  });

  it('plain status prints each count, the first 20 failures and how to see the rest', async () => {
    const path = dir.path('state.json');
    const store = await aState(path, 1_100);
    await store.close();
    const state = (await loadState(path)) as StateFile;
    const whole = importStatus(state);
    const out = collector();
    await printStatus(path, false, out.sink);
    const lines = out.text().split('\n');
    expect(lines[0]).toBe('s3://archive/clips -> index idx1');
    for (const [group, list] of Object.entries(whole)) expect(lines.some((l) => l.startsWith(`  ${group.padEnd(13)} ${String(list.length).padStart(7)}`))).toBe(true);
    const preflight = whole.failed.filter((f) => f.stage === 'preflight').length;
    expect(out.text()).toContain(`(${preflight} in preflight: never sent; ${whole.failed.length - preflight} on the platform)`);
    expect(lines.filter((l) => l.startsWith('  failed in preflight: ') || l.startsWith('  failed on the platform: '))).toHaveLength(20);
    expect(out.text()).toContain(`... ${whole.failed.length - 20} more failures: tlmigrate status --json --state `);
  });
});

describe('status, logs and report on a state in parts', () => {
  const dir = useTmpDir();

  /** The same state twice, one file and in parts, built in key order so both give their items in the same order. */
  async function twins(n: number): Promise<{ one: string; parted: string; store: PartedStore }> {
    const paths = { one: dir.path('one/state.json'), parted: dir.path('parted/state.json') };
    await mkdir(dir.path('one'));
    await mkdir(dir.path('parted'));
    const stores = [await StateStore.open(paths.one, IDENTITY, 'apply', 'tlmigrate test'), await PartedStore.open(paths.parted, IDENTITY, 'apply', 'tlmigrate test', { partSize: 100 })];
    for (const store of stores) {
      await store.setRun(run(1, { endedAt: '2026-01-01T01:00:00.000Z', outcome: 'completed' }));
      await store.setRun(run(2, { endedAt: '2026-01-02T01:00:00.000Z', outcome: 'quota', waits: [{ at: '2026-01-02T00:10:00.000Z', until: '2026-01-02T00:20:00.000Z', reason: 'quota', resetKnown: true }] }));
      for (let i = 0; i < n; i++) {
        const status = STATUSES[i % STATUSES.length] as ItemState['status'];
        const key = `clips/c-${String(i).padStart(5, '0')}.mp4`;
        void store.setItem(`s3://archive/${key}`, {
          key,
          size: i,
          etag: `e${i}`,
          status,
          attempts: 1,
          runId: `run-${(i % 2) + 1}`,
          submittedAt: `2026-01-01T00:0${i % 10}:00.000Z`,
          updatedAt: '2026-01-03T00:00:00.000Z',
          ...(status === 'failed' ? { lastError: { code: 'task_failed', message: `broken ${i}`, at: '2026-01-03T00:00:00.000Z' } } : {}),
        });
        if (i === Math.floor(n / 2)) await store.checkpoint();
      }
      await store.setItem('s3://archive/clips/c-00000.mp4', { status: 'ready', videoId: 'v0', updatedAt: '2026-01-03T00:00:00.000Z' });
      // The parted state keeps part of its changes in the journal, as a run going on does.
      if (store instanceof StateStore) await store.close();
    }
    return { ...paths, store: stores[1] as PartedStore };
  }

  it('print the same text as for the same state in one file', async () => {
    const { one, parted, store } = await twins(1_500);
    try {
      await compareOutputs(one, parted);
    } finally {
      await store.close();
    }
  });

  async function compareOutputs(one: string, parted: string): Promise<void> {
    expect(JSON.parse(await readFile(parted, 'utf8'))).toHaveProperty('parts');
    for (const json of [true, false]) {
      const [a, b] = [collector(), collector()];
      await printStatus(one, json, a.sink);
      await printStatus(parted, json, b.sink);
      expect(b.text().replaceAll(parted, one)).toBe(a.text());
      expect(b.text().length).toBeGreaterThan(200);
    }
    const [a, b] = [collector(), collector()];
    await printLogs(one, true, a.sink);
    await printLogs(parted, true, b.sink);
    expect(b.text()).toBe(a.text());
    for (const format of ['json', 'csv'] as const) {
      const [x, y] = [collector(), collector()];
      await runReport({ input: one, format, maxKeys: 50 }, x.sink);
      await runReport({ input: parted, format, maxKeys: 50 }, y.sink);
      const scrub = (text: string) => text.replace(/"(generatedAt|stateCreatedAt|stateUpdatedAt)":\s*"[^"]*"/g, '').replaceAll(dir.path('parted'), dir.path('one'));
      expect(scrub(y.text())).toBe(scrub(x.text()));
      expect(y.text().length).toBeGreaterThan(200);
    }
  }
});
