import { readFile, writeFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { StateStore, loadState } from '../../src/state/store.js';
import type { HistoryEntry, StateFile } from '../../src/state/types.js';
import { useTmpDir } from './tmp-dir.js';

const IDENTITY = { uri: 's3://media-archive/videos', indexId: 'idx1', bucket: 'media-archive', prefix: 'videos' };
const TOOL = 'tlmigrate 0.1.0';

function anEntry(overrides: Partial<HistoryEntry> = {}): HistoryEntry {
  return { at: '2026-05-01T12:00:00.000Z', action: 'delete_video', videoId: 'v2', taskId: 't2', reason: 'duplicate of video v1', ...overrides };
}

describe('state history', () => {
  const tmp = useTmpDir();

  it('a state file written before history existed reads with none, and gains entries durably', async () => {
    const path = tmp.path('state.json');
    const old: StateFile = { version: 1, tool: TOOL, source: { uri: IDENTITY.uri, bucket: IDENTITY.bucket, prefix: IDENTITY.prefix }, indexId: IDENTITY.indexId, createdAt: 'x', updatedAt: 'x', items: {}, runs: [] };
    await writeFile(path, JSON.stringify(old));
    expect((await loadState(path))?.history ?? []).toEqual([]);

    const store = await StateStore.open(path, IDENTITY, 'dedupe --yes', TOOL);
    await store.addHistory(anEntry());
    await store.addHistory(anEntry({ action: 'delete_task' }));
    // Journalled and fsync'd before close: a reader sees it even if the process died now.
    expect((await loadState(path))?.history).toEqual([anEntry(), anEntry({ action: 'delete_task' })]);
    await store.close();
    expect(JSON.parse(await readFile(path, 'utf8')).history).toHaveLength(2);
  });

  it('a journal replayed onto a checkpoint that already holds its entries adds nothing twice', async () => {
    const path = tmp.path('state.json');
    const store = await StateStore.open(path, IDENTITY, 'dedupe --yes', TOOL);
    await store.addHistory(anEntry());
    const journal = await readFile(`${path}.journal`, 'utf8');
    await store.close();
    // A crash between the checkpoint's rename and the journal's truncation leaves both.
    await writeFile(`${path}.journal`, journal);
    expect((await loadState(path))?.history).toEqual([anEntry()]);
  });
});
