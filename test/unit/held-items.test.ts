import { existsSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { emptySummary, planMigration, type HeldItems, type PlanItem } from '../../src/planner/index.js';
import { heldItemsFile } from '../../src/planner/plan-file.js';
import { MB, aPlanInput, aSourceObject, anIndexedVideo } from './builders.js';
import { useTmpDir } from './tmp-dir.js';

describe('items held back until the end of a plan (legacy file-name matches)', () => {
  const tmp = useTmpDir();
  const legacy = (name: string) => anIndexedVideo({ videoId: `legacy-${name}`, filename: name, size: 70 * MB, userMetadata: {} });
  const at = (key: string, etag: string) => aSourceObject({ key, size: 70 * MB, etag });
  // Three names a legacy video has; two of them shared by keys with different content (collisions).
  const objects = [
    at('cam-a/one.mp4', 'e1'),
    aSourceObject({ key: 'plain-1.mp4' }),
    at('cam-a/two.mp4', 'e2'),
    at('cam-b/one.mp4', 'e3'),
    aSourceObject({ key: 'plain-2.mp4' }),
    at('cam-a/three.mp4', 'e4'),
    at('cam-b/two.mp4', 'e5'),
    at('cam-c/one.mp4', 'e6'),
  ];
  const videos = [legacy('one.mp4'), legacy('two.mp4'), legacy('three.mp4')];

  async function planWith(held: HeldItems | undefined): Promise<PlanItem[]> {
    const items: PlanItem[] = [];
    for await (const item of planMigration({ ...aPlanInput({ objects, videos }), held }, emptySummary())) items.push(item);
    return items;
  }

  it('come last, grouped by name and size in the order each group was first held, the same from a file as from memory', async () => {
    const inMemory = await planWith(undefined);
    const file = heldItemsFile(tmp.path('plan.json'));
    const fromFile = await planWith(file);
    file.remove();
    expect(fromFile).toEqual(inMemory);
    expect(inMemory.map((i) => i.key)).toEqual(['plain-1.mp4', 'plain-2.mp4', 'cam-a/one.mp4', 'cam-b/one.mp4', 'cam-c/one.mp4', 'cam-a/two.mp4', 'cam-b/two.mp4', 'cam-a/three.mp4']);
    expect(inMemory.find((i) => i.key === 'cam-b/one.mp4')?.collision).toEqual(['cam-a/one.mp4', 'cam-c/one.mp4']);
    expect(inMemory.find((i) => i.key === 'cam-a/three.mp4')).toMatchObject({ action: 'skip', match: { by: 'filename_size' } });
  });

  it('leave no file behind once removed, and none at all when nothing was held', async () => {
    const file = heldItemsFile(tmp.path('plan.json'));
    file.append('["k",{"key":"k"}]');
    const lines: string[] = [];
    for await (const line of file.lines()) lines.push(line);
    expect(lines).toEqual(['["k",{"key":"k"}]']);
    file.remove();
    const unused = heldItemsFile(tmp.path('other.json'));
    for await (const line of unused.lines()) lines.push(line);
    unused.remove();
    expect(readdirSync(tmp.dir)).toEqual([]);
    expect(existsSync(tmp.path('other.json.held-' + process.pid))).toBe(false);
  });
});
