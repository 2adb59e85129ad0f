import { open, readFile } from 'node:fs/promises';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { JournalWriter, type StoreStats } from '../../src/state/journal.js';
import { useTmpDir } from './tmp-dir.js';

const event = (n: number) => ({ i: `s3://b/k${n}`, s: { status: 'planned' as const, updatedAt: '2026-12-07T00:00:00.000Z' } });

async function lines(path: string): Promise<string[]> {
  return (await readFile(path, 'utf8').catch(() => '')).split('\n').filter(Boolean).map((line) => (JSON.parse(line) as { i: string }).i);
}

describe('JournalWriter batches', () => {
  const tmp = useTmpDir();
  afterEach(() => vi.restoreAllMocks());

  async function writer(): Promise<{ journal: JournalWriter; stats: StoreStats; writes: () => number }> {
    const stats: StoreStats = { journalWrites: 0, syncs: 0, checkpoints: 0, writeMs: 0, journalsReopened: 0 };
    const journal = new JournalWriter(tmp.path('state.json'), stats, () => Promise.resolve());
    await journal.open();
    // Every FileHandle shares one prototype: count the writes the journal makes.
    const probe = await open(tmp.path('probe'), 'w');
    const write = vi.spyOn(Object.getPrototypeOf(probe) as { write: (...args: unknown[]) => unknown }, 'write');
    await probe.close();
    return { journal, stats, writes: () => write.mock.calls.length };
  }

  it('writes the lines appended while a write is in flight together, in order', async () => {
    const { journal, stats, writes } = await writer();
    const written = Array.from({ length: 200 }, (_, n) => journal.append(event(n), false));
    await Promise.all(written);
    expect(await lines(tmp.path('state.json.journal'))).toEqual(Array.from({ length: 200 }, (_, n) => `s3://b/k${n}`));
    expect(stats.journalWrites).toBe(200);
    expect(writes()).toBeLessThanOrEqual(2);
    await journal.close();
  });

  it('a switch queued between lines splits them: those before it in the journal, those after in .journal.next', async () => {
    const { journal } = await writer();
    const before = [0, 1, 2].map((n) => journal.append(event(n), false));
    const switched = journal.switch();
    const after = [3, 4].map((n) => journal.append(event(n), true));
    await Promise.all([...before, switched, ...after]);
    expect(await lines(tmp.path('state.json.journal'))).toEqual(['s3://b/k0', 's3://b/k1', 's3://b/k2']);
    expect(await lines(tmp.path('state.json.journal.next'))).toEqual(['s3://b/k3', 's3://b/k4']);
    await (await switched)?.close();
    await journal.close();
  });
});
