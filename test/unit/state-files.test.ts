import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readFile, readdir, stat, symlink, truncate, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import { PlanFileError, StateFileError } from '../../src/errors.js';
import { emptySummary } from '../../src/planner/index.js';
import type { PlanHeader, PlanItem, PlanSummary } from '../../src/planner/index.js';
import { writeFileAtomic } from '../../src/state/atomic.js';
import { acquireLock, processIdentity, readLock } from '../../src/state/lock.js';
import type { LockInfo } from '../../src/state/lock.js';
import { checkPlanItems, openPlanFile, writePlanFile } from '../../src/planner/plan-file.js';
import { BUCKET, aSourceObject, asyncIterable, somePlanOptions } from './builders.js';
import { useTmpDir } from './tmp-dir.js';

async function caught(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e,
  );
}

/** The pid of a process that has exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  const pid = child.pid;
  await new Promise((resolve) => child.on('exit', resolve));
  if (pid === undefined) throw new Error('no pid');
  return pid;
}

function aLockInfo(overrides: Partial<LockInfo>): LockInfo {
  return { pid: 1, host: hostname(), startedAt: '2025-06-15T10:00:00.000Z', command: 'apply', ...overrides };
}

describe('acquireLock', () => {
  const tmp = useTmpDir();

  it('refuses a second lock on the same state, naming the holder', async () => {
    const state = tmp.path('state.json');
    const lock = await acquireLock(state, 'apply');
    const error = await caught(acquireLock(state, 'migrate'));
    expect(error).toBeInstanceOf(StateFileError);
    expect(error).toMatchObject({ code: 'state_locked' });
    expect((error as Error).message).toContain(`pid ${process.pid}`);
    expect((error as Error).message).toContain('apply');
    await lock.release();
  });

  it('writes pid, host, start time and command, and release removes it', async () => {
    const state = tmp.path('state.json');
    const lock = await acquireLock(state, 'apply');
    expect(lock.path).toBe(`${state}.lock`);
    expect(await readLock(lock.path)).toMatchObject({ pid: process.pid, host: hostname(), command: 'apply' });
    await lock.release();
    await expect(stat(lock.path)).rejects.toMatchObject({ code: 'ENOENT' });
    await (await acquireLock(state, 'apply')).release();
  });

  it('takes over a lock whose process is dead on this host, leaving no temp or token file', async () => {
    const state = tmp.path('state.json');
    await writeFile(`${state}.lock`, JSON.stringify(aLockInfo({ pid: await deadPid() })));
    const lock = await acquireLock(state, 'apply');
    expect(await readLock(lock.path)).toMatchObject({ pid: process.pid });
    expect((await readdir(tmp.dir)).sort()).toEqual(['state.json.lock']);
    await lock.release();
    await expect(stat(lock.path)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it.runIf(processIdentity(process.pid) !== undefined)('takes over a lock whose pid now belongs to another process (pids are reused), and refuses one whose process is the same', async () => {
    const state = tmp.path('state.json');
    // A live pid (this one), but the lock's holder started at another time: a reused pid, the holder is gone.
    await writeFile(`${state}.lock`, JSON.stringify(aLockInfo({ pid: process.pid, proc: `${processIdentity(process.pid)}0` })));
    const lock = await acquireLock(state, 'apply');
    expect(await readLock(lock.path)).toMatchObject({ pid: process.pid, proc: processIdentity(process.pid) });
    expect((await caught(acquireLock(state, 'apply')) as { code?: string }).code).toBe('state_locked');
    await lock.release();
  });

  // A lock is linked into place complete, so an empty or unreadable one is not ours, or is being written by an older version: never dead.
  it.each([
    ['an empty file', ''],
    ['a partly written lock', '{"pid":12'],
    ['garbage', 'not json'],
  ])('refuses %s as a lock, naming the command to clear it, and leaves it as it is', async (_case, content) => {
    const state = tmp.path('state.json');
    await writeFile(`${state}.lock`, content);
    const error = await caught(acquireLock(state, 'apply'));
    expect(error).toMatchObject({ code: 'state_lock_damaged' });
    expect((error as Error).message).toMatch(/is not a complete tlmigrate lock \(empty or edited\): make sure no tlmigrate uses .*state\.json, then remove it: rm \/.*state\.json\.lock$/);
    expect(await readFile(`${state}.lock`, 'utf8')).toBe(content);
    expect((await readdir(tmp.dir)).sort()).toEqual(['state.json.lock']);
  });

  it('refuses a lock held on another host, where liveness cannot be checked, naming the command to clear it', async () => {
    const state = tmp.path('state.json');
    await writeFile(`${state}.lock`, JSON.stringify(aLockInfo({ pid: await deadPid(), host: 'other-host' })));
    const error = await caught(acquireLock(state, 'apply'));
    expect(error).toMatchObject({ code: 'state_locked' });
    expect((error as Error).message).toMatch(/is locked by pid \d+ on other-host \(apply, started .*\), another host, which this one cannot check: if no tlmigrate runs there any more, remove the lock: rm \/.*state\.json\.lock$/);
  });

  it('refuses when a takeover of the same dead lock was interrupted (its taker died), naming both files to remove', async () => {
    const state = tmp.path('state.json');
    const dead = JSON.stringify(aLockInfo({ pid: await deadPid() }));
    await writeFile(`${state}.lock`, dead);
    const token = `${state}.lock.takeover-${createHash('sha256').update(dead).digest('hex').slice(0, 16)}`;
    await writeFile(token, JSON.stringify(aLockInfo({ pid: await deadPid(), nonce: 'x' })));
    await expect(acquireLock(state, 'apply')).rejects.toThrow(/a takeover of the lock of .*state\.json by pid \d+ was interrupted: .*rm \/.*state\.json\.lock \/.*state\.json\.lock\.takeover-/);
    expect(await readFile(`${state}.lock`, 'utf8')).toBe(dead);
  });

  it('refuses a symbolic link where the lock should be, and leaves its target alone', async () => {
    const state = tmp.path('state.json');
    await writeFile(tmp.path('precious'), 'keep');
    await symlink(tmp.path('precious'), `${state}.lock`);
    await expect(acquireLock(state, 'apply')).rejects.toMatchObject({ code: 'path_symlink' });
    expect(await readFile(tmp.path('precious'), 'utf8')).toBe('keep');
  });

  it('does not remove a lock that another process took over since', async () => {
    const state = tmp.path('state.json');
    const lock = await acquireLock(state, 'apply');
    const theirs = JSON.stringify(aLockInfo({ pid: process.pid, startedAt: '2099-01-01T00:00:00.000Z' }));
    await writeFile(lock.path, theirs);
    await lock.release();
    expect(await readFile(lock.path, 'utf8')).toBe(theirs);
  });

  it('says the folder is not writable', async () => {
    await expect(acquireLock(tmp.path('missing/state.json'), 'apply')).rejects.toMatchObject({ code: 'state_unwritable' });
  });
});

describe('writeFileAtomic', () => {
  const tmp = useTmpDir();

  it('creates a file readable by the owner only, and replaces a looser one', async () => {
    const path = tmp.path('state.json');
    await writeFileAtomic(path, 'one');
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    await writeFile(path, 'loose', { mode: 0o644 });
    await writeFileAtomic(path, 'two');
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(await readFile(path, 'utf8')).toBe('two');
  });

  it('streams content larger than its buffer', async () => {
    const path = tmp.path('big.json');
    const chunk = `${'x'.repeat(99_999)}\n`;
    await writeFileAtomic(path, asyncIterable(Array.from({ length: 30 }, () => chunk)));
    expect(await readFile(path, 'utf8')).toBe(chunk.repeat(30));
  });

  it('leaves the old file intact and no temp file when the content fails midway', async () => {
    const path = tmp.path('state.json');
    await writeFileAtomic(path, 'old content');
    async function* failing(): AsyncGenerator<string> {
      yield 'new '.repeat(400_000);
      throw new Error('source failed');
    }
    await expect(writeFileAtomic(path, failing())).rejects.toThrow('source failed');
    expect(await readFile(path, 'utf8')).toBe('old content');
    expect(await readdir(tmp.dir)).toEqual(['state.json']);
  });

  it('leaves no temp file when the rename fails', async () => {
    const path = tmp.path('taken');
    // The folder appears while the content is written, after the up-front check: the rename itself fails.
    async function* content(): AsyncGenerator<string> {
      yield 'content';
      await mkdir(path);
      await writeFile(tmp.path('taken/inside'), 'x');
    }
    await expect(writeFileAtomic(path, content())).rejects.toMatchObject({ code: expect.stringMatching(/EISDIR|ENOTEMPTY|EEXIST/) as unknown });
    expect(await readdir(tmp.dir)).toEqual(['taken']);
  });

  it('refuses a folder, or a symbolic link, where the file should be, and creates nothing', async () => {
    await mkdir(tmp.path('folder'));
    await expect(writeFileAtomic(tmp.path('folder'), 'content')).rejects.toMatchObject({ code: 'path_not_regular' });
    await writeFile(tmp.path('target'), 'keep me');
    await symlink(tmp.path('target'), tmp.path('link.json'));
    await expect(writeFileAtomic(tmp.path('link.json'), 'content', 0o600, 'plan file')).rejects.toThrow(/^plan file .*link\.json is a symbolic link: .*remove the link \(rm .*link\.json\)/);
    expect(await readFile(tmp.path('target'), 'utf8')).toBe('keep me');
    expect((await readdir(tmp.dir)).sort()).toEqual(['folder', 'link.json', 'target']);
  });
});

describe('plan files', () => {
  const tmp = useTmpDir();

  const header: PlanHeader = {
    version: 1,
    createdAt: '2025-06-15T10:00:00.000Z',
    tool: 'tlmigrate 0.1.0',
    source: { uri: `s3://${BUCKET}/videos`, bucket: BUCKET, prefix: 'videos' },
    indexId: 'idx1',
    indexName: 'archive',
    options: somePlanOptions(),
  };
  const items: PlanItem[] = [
    { ...aSourceObject({ key: 'videos/a.mp4' }), action: 'upload' },
    { ...aSourceObject({ key: 'videos/été "quoted", comma.mp4' }), action: 'skip', reason: 'indexed', match: { by: 'fingerprint', videoId: 'v1' } },
    { ...aSourceObject({ key: 'videos/line\nbreak\u2028.mp4', size: 0 }), action: 'fail', reason: 'video_file_broken', detail: 'the object is empty (0 bytes)' },
    { ...aSourceObject({ key: 'videos/b.mp4' }), action: 'upload', collision: ['other/b.mp4'], probe: { durationSeconds: 12, width: 1920, height: 1080 } },
  ];
  const summary: PlanSummary = { ...emptySummary(), total: 4, counts: { upload: 2, skip: 1, fail: 1 } };

  async function written(planItems: PlanItem[] = items): Promise<string> {
    const path = tmp.path('plan.json');
    await writePlanFile(path, header, asyncIterable(planItems), () => summary);
    return path;
  }

  describe('checkPlanItems: a hand-edited plan is refused before anything is sent', () => {
    it('accepts the plan the planner wrote', async () => {
      await expect(checkPlanItems(await openPlanFile(await written()), 'plan.json')).resolves.toBeUndefined();
    });

    it('accepts keys out of order, none repeated (the keys are hashed from the first one out of order)', async () => {
      const shuffled = [items[3], items[0], items[2], items[1]] as PlanItem[];
      await expect(checkPlanItems(await openPlanFile(await written(shuffled)), 'plan.json')).resolves.toBeUndefined();
    });

    const [a, b, c] = ['videos/a.mp4', 'videos/b.mp4', 'videos/c.mp4'].map((key) => ({ ...(items[0] as PlanItem), key }));
    it.each<[string, PlanItem[], string, RegExp]>([
      ['a repeated key', [...items, { ...(items[0] as PlanItem) }], 'plan_duplicate_key', /lists "videos\/a\.mp4" twice/],
      ['a key repeated next to itself, keys in order', [a, b, b, c] as PlanItem[], 'plan_duplicate_key', /lists "videos\/b\.mp4" twice/],
      ['a key repeated at the first key out of order', [a, b, c, a] as PlanItem[], 'plan_duplicate_key', /lists "videos\/a\.mp4" twice/],
      ['a key repeated after the keys fell out of order', [b, c, a, c] as PlanItem[], 'plan_duplicate_key', /lists "videos\/c\.mp4" twice/],
      ['a key outside the source prefix', [...items.slice(0, 3), { ...(items[3] as PlanItem), key: 'private/secret.mp4' }], 'plan_key_outside_source', /"private\/secret\.mp4", outside its source s3:\/\/.*\/videos/],
      ['an item switched to upload by hand', [...items.slice(0, 2), { ...(items[2] as PlanItem), action: 'upload' }, items[3] as PlanItem], 'plan_summary_mismatch', /its summary says upload 2, fail 1 but its items hold upload 3, fail 0/],
      ['an item without an ETag', [...items.slice(0, 3), { ...(items[3] as PlanItem), etag: undefined as unknown as string }], 'plan_item_invalid', /lacks a key, size, ETag or action/],
    ])('%s', async (_case, edited, code, message) => {
      const path = tmp.path('plan.json');
      await writePlanFile(path, header, asyncIterable(edited), () => summary);
      const error = await caught(checkPlanItems(await openPlanFile(path), path));
      expect(error).toBeInstanceOf(PlanFileError);
      expect(error).toMatchObject({ code });
      expect((error as Error).message).toMatch(message);
    });
  });

  async function readAll(path: string): Promise<{ header: PlanHeader; summary: PlanSummary; items: PlanItem[] }> {
    const reader = await openPlanFile(path);
    const out: PlanItem[] = [];
    for await (const item of reader.items()) out.push(item);
    return { header: reader.header, summary: reader.summary, items: out };
  }

  it.each<[string, PlanItem[]]>([
    ['several items', items],
    ['one item', items.slice(0, 1)],
    ['no items', []],
  ])('round-trips %s, one item per line, private to the owner', async (_case, planItems) => {
    const path = await written(planItems);
    expect(await readAll(path)).toEqual({ header, summary, items: planItems });
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    const text = await readFile(path, 'utf8');
    expect(JSON.parse(text)).toEqual({ ...header, items: planItems, summary });
    expect(text.trimEnd().split('\n')).toHaveLength(planItems.length + 2);
  });

  it('computes the summary after the items were written', async () => {
    const path = tmp.path('plan.json');
    const live = emptySummary();
    async function* counting(): AsyncGenerator<PlanItem> {
      for (const item of items) {
        live.total += 1;
        yield item;
      }
    }
    await writePlanFile(path, header, counting(), () => live);
    expect((await openPlanFile(path)).summary.total).toBe(4);
  });

  it.each<[string, (text: string) => string]>([
    ['pretty-printed', (text) => JSON.stringify(JSON.parse(text), null, 2)],
    ['on one line', (text) => JSON.stringify(JSON.parse(text))],
    ['with CRLF line ends', (text) => text.replace(/\n/g, '\r\n')],
  ])('reads a plan reformatted %s', async (_case, reformat) => {
    const path = await written();
    await writeFile(path, reformat(await readFile(path, 'utf8')));
    expect(await readAll(path)).toEqual({ header, summary, items });
  });

  it.each<[string, (size: number) => number]>([
    ['to 10 bytes', () => 10],
    ['in half', (size) => Math.floor(size / 2)],
    ['after the last item', (size) => size - 60],
    ['by its last 3 bytes', (size) => size - 3],
    ['to nothing', () => 0],
  ])('refuses a plan truncated %s', async (_case, cut) => {
    const path = await written();
    await truncate(path, cut((await stat(path)).size));
    const error = await caught(readAll(path));
    expect(error).toBeInstanceOf(PlanFileError);
    expect(error).toMatchObject({ code: 'plan_corrupt' });
  });

  it('refuses a plan whose middle line was damaged, naming the line', async () => {
    const path = await written();
    const lines = (await readFile(path, 'utf8')).split('\n');
    lines[2] = '{"key":"videos/broken';
    await writeFile(path, lines.join('\n'));
    const error = await caught(readAll(path));
    expect(error).toMatchObject({ code: 'plan_corrupt' });
    expect((error as Error).message).toContain('line 3');
  });

  it.each<[string, string, string]>([
    ['not JSON', 'this is not a plan', 'plan_corrupt'],
    ['a JSON string', '"plan"', 'plan_corrupt'],
    ['JSON without a version', '{"items":[]}', 'plan_version'],
    ['a plan without items', JSON.stringify({ ...header, summary }), 'plan_corrupt'],
    ['a plan without an index', JSON.stringify({ ...header, indexId: undefined, items: [], summary }), 'plan_corrupt'],
  ])('refuses %s', async (_case, text, code) => {
    const path = tmp.path('plan.json');
    await writeFile(path, text);
    const error = await caught(readAll(path));
    expect(error).toBeInstanceOf(PlanFileError);
    expect(error).toMatchObject({ code });
  });

  it.each<[string, (text: string) => string]>([
    ['in our layout', (text) => text.replace('"version":1', '"version":2')],
    ['pretty-printed', (text) => JSON.stringify({ ...(JSON.parse(text) as object), version: 2 }, null, 2)],
  ])('refuses an unknown version %s', async (_case, edit) => {
    const path = await written();
    await writeFile(path, edit(await readFile(path, 'utf8')));
    const error = await caught(openPlanFile(path));
    expect(error).toBeInstanceOf(PlanFileError);
    expect(error).toMatchObject({ code: 'plan_version' });
    expect((error as Error).message).toContain('version 2');
  });

  it('says a missing plan must be made first', async () => {
    await expect(openPlanFile(tmp.path('none.json'))).rejects.toMatchObject({ code: 'plan_missing' });
  });

  it('says where a plan cannot be written', async () => {
    const error = await caught(writePlanFile(tmp.path('missing/plan.json'), header, asyncIterable(items), () => summary));
    expect(error).toBeInstanceOf(PlanFileError);
    expect(error).toMatchObject({ code: 'plan_unwritable' });
  });
});
