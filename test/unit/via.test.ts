import { describe, expect, it } from 'vitest';
import { planMigration, requirementsFor, type PlanItem } from '../../src/planner/index.js';
import { aPlanInput, aSourceObject } from './builders.js';

const GB = 1_000_000_000;

async function planOne(size: number, via: 'tasks' | 'assets'): Promise<PlanItem | undefined> {
  const input = aPlanInput({ objects: [aSourceObject({ key: 'big/archive.mp4', size })], options: { requirements: requirementsFor(via, {}, []), via } });
  const items: PlanItem[] = [];
  for await (const item of planMigration(input)) items.push(item);
  return items[0];
}

describe('--via changes preflight', () => {
  it('a 3 GB object is uploaded via assets and fails video_filesize_too_large via tasks', async () => {
    expect(await planOne(3 * GB, 'assets')).toMatchObject({ action: 'upload' });
    expect(await planOne(3 * GB, 'tasks')).toMatchObject({ action: 'fail', reason: 'video_filesize_too_large' });
  });

  it('over 4 GiB fails on both paths; the user override still wins', async () => {
    expect(await planOne(5 * GB, 'assets')).toMatchObject({ action: 'fail', reason: 'video_filesize_too_large' });
    expect(requirementsFor('assets', { maxFileSizeBytes: 10 }, []).maxFileSizeBytes).toBe(10);
    expect(requirementsFor('tasks', {}, ['pegasus1.2']).maxDurationSeconds).toBe(3600);
  });
});
