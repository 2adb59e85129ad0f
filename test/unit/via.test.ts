import { describe, expect, it } from 'vitest';
import { emptySummary, formatPlanSummary, planMigration, requirementsFor, type PlanItem, type RequirementsProfile } from '../../src/planner/index.js';
import { aPlanInput, aSourceObject } from './builders.js';

const GB = 1_000_000_000;
const GIB = 1024 ** 3;

async function planOne(size: number, via: 'tasks' | 'assets', extra: { overrides?: Partial<RequirementsProfile>; multipartThresholdBytes?: number } = {}): Promise<PlanItem | undefined> {
  const options = { requirements: requirementsFor(via, extra.overrides ?? {}, []), via, ...(extra.multipartThresholdBytes ? { multipartThresholdBytes: extra.multipartThresholdBytes } : {}) };
  const input = aPlanInput({ objects: [aSourceObject({ key: 'big/archive.mp4', size })], options });
  const items: PlanItem[] = [];
  for await (const item of planMigration(input)) items.push(item);
  return items[0];
}

describe('--via changes preflight', () => {
  it('a 3 GB object is uploaded via assets by URL and fails video_filesize_too_large via tasks', async () => {
    const item = await planOne(3 * GB, 'assets');
    expect(item).toMatchObject({ action: 'upload' });
    expect(item?.method).toBeUndefined();
    expect(await planOne(3 * GB, 'tasks')).toMatchObject({ action: 'fail', reason: 'video_filesize_too_large' });
  });

  it('a 6 GB object is uploaded in parts via assets, fails via tasks; over 10 GiB fails on both', async () => {
    const item = await planOne(6 * GB, 'assets');
    expect(item).toMatchObject({ action: 'upload', method: 'multipart' });
    expect(item?.detail).toMatch(/uploaded in parts \(multipart\), streamed from S3/);
    expect(await planOne(6 * GB, 'tasks')).toMatchObject({ action: 'fail', reason: 'video_filesize_too_large' });
    for (const via of ['assets', 'tasks'] as const) expect(await planOne(10 * GIB + 1, via)).toMatchObject({ action: 'fail', reason: 'video_filesize_too_large' });
    expect(await planOne(10 * GIB, 'assets')).toMatchObject({ action: 'upload', method: 'multipart' });
    expect(await planOne(4 * GIB, 'assets')).not.toHaveProperty('method');
  });

  it('--max-file-size still applies, and the threshold can be lowered', async () => {
    expect(await planOne(6 * GB, 'assets', { overrides: { maxFileSizeBytes: 5 * GB } })).toMatchObject({ action: 'fail', reason: 'video_filesize_too_large' });
    expect(await planOne(30_000_000, 'assets', { multipartThresholdBytes: 20_000_000 })).toMatchObject({ action: 'upload', method: 'multipart' });
    expect(await planOne(10_000_000, 'assets', { multipartThresholdBytes: 20_000_000 })).not.toHaveProperty('method');
    expect(requirementsFor('assets', { maxFileSizeBytes: 10 }, []).maxFileSizeBytes).toBe(10);
    expect(requirementsFor('tasks', {}, ['pegasus1.2']).maxDurationSeconds).toBe(3600);
  });

  it('the plan summary counts the uploads sent in parts, and says so in its line', async () => {
    const summary = emptySummary();
    const options = { requirements: requirementsFor('assets', {}, []), via: 'assets' as const };
    const objects = [aSourceObject({ key: 'm/one.mp4', size: 6 * GB }), aSourceObject({ key: 'm/two.mp4', size: 5 * GB }), aSourceObject({ key: 'm/small.mp4', size: GB })];
    for await (const item of planMigration(aPlanInput({ objects, options }), summary)) expect(item.action).toBe('upload');
    expect(summary.multipart).toBe(2);
    expect(formatPlanSummary(summary)).toMatch(/^Plan: 3 to upload \(12\.0 GB; 2 of them in parts \(multipart\)\), /);
    const none = emptySummary();
    for await (const item of planMigration(aPlanInput({ objects: [aSourceObject({ key: 'm/small.mp4', size: GB })], options }), none)) expect(item.action).toBe('upload');
    expect(none).not.toHaveProperty('multipart');
    expect(formatPlanSummary(none)).toMatch(/^Plan: 1 to upload \(1\.0 GB\), /);
  });
});
