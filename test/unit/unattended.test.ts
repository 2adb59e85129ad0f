import { S3Client } from '@aws-sdk/client-s3';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { toApplyArgs } from '../../src/cli/options.js';
import { parseStopAt, runDeadline } from '../../src/cli/unattended.js';
import { ApiError } from '../../src/errors.js';
import { QuotaWaiter } from '../../src/executor/admission.js';
import { executePlan } from '../../src/executor/executor.js';
import type { ExecuteOptions, ExecutorApi, ExecutorSource, QuotaWait } from '../../src/executor/types.js';
import { estimateEtaSeconds, formatEta, quotaWaitLine } from '../../src/report/eta.js';
import { S3Source, presignLifetime } from '../../src/sources/s3.js';
import { StateStore } from '../../src/state/index.js';
import type { CreateTaskRequest, IndexedVideo, Page, Task } from '../../src/twelvelabs/types.js';
import { FakeClock } from './fake-clock.js';

const START = Date.parse('2026-11-01T00:00:00Z');
const WINDOW = 20_000;

/** Creates tasks; with `quota`, at most that many per window of the fake clock (then usage_limit_exceeded with the reset). */
class QuotaApi implements ExecutorApi {
  readonly posted: Array<{ at: number; key: string; url: string }> = [];
  readonly tasks: Task[] = [];
  refusals = 0;
  constructor(
    private readonly clock: FakeClock,
    private readonly quota?: number,
  ) {}

  async createTask(request: CreateTaskRequest) {
    await new Promise((r) => setImmediate(r));
    const now = this.clock.now();
    const windowStart = Math.floor(now / WINDOW) * WINDOW;
    if (this.quota !== undefined && this.posted.filter((p) => p.at >= windowStart).length >= this.quota) {
      this.refusals += 1;
      throw new ApiError({ status: 429, code: 'usage_limit_exceeded', message: 'quota', method: 'POST', path: '/tasks', rateLimitResetMs: windowStart + WINDOW });
    }
    this.posted.push({ at: now, key: String(request.userMetadata['tlm_source']), url: request.videoUrl });
    const id = this.tasks.length.toString(16).padStart(24, '0');
    this.tasks.push({ _id: id, status: 'validating', created_at: new Date(now).toISOString() });
    return { taskId: id, videoId: undefined };
  }
  async listTasks(): Promise<Page<Task>> {
    return { data: [], page_info: { page: 1, limit_per_page: 50, total_page: 1, total_results: 0 } };
  }
  async getTask(taskId: string): Promise<Task> {
    return { _id: taskId, status: 'validating' };
  }
  async listVideos(): Promise<Page<IndexedVideo>> {
    return { data: [], page_info: { page: 1, limit_per_page: 50, total_page: 1, total_results: 0 } };
  }
  async getVideo(): Promise<IndexedVideo> {
    throw new ApiError({ status: 404, code: 'resource_not_exist', message: 'no video', method: 'GET', path: '/videos' });
  }
}

class FakeSource implements ExecutorSource {
  async head(key: string) {
    return { key, size: 100, etag: `etag-${key}`, lastModified: '2026-01-01T00:00:00Z' };
  }
  async presignGet(key: string) {
    return `https://s3.test/bkt/${encodeURIComponent(key)}?X-Amz-Signature=x`;
  }
}

async function setup(n: number, api: (clock: FakeClock) => QuotaApi, source: ExecutorSource = new FakeSource()) {
  const dir = mkdtempSync(join(tmpdir(), 'tlm-unattended-'));
  const clock = new FakeClock(START);
  const store = await StateStore.open(join(dir, 'state.json'), { uri: 's3://bkt', bucket: 'bkt', prefix: '', indexId: 'idx' }, 'test', 'tlmigrate test');
  const uris: string[] = [];
  for (let i = 0; i < n; i++) {
    const key = `v${i}.mp4`;
    await store.setItem(`s3://bkt/${key}`, { key, size: 100, etag: `etag-${key}`, status: 'planned', attempts: 0, updatedAt: '2026-11-01T00:00:00Z' });
    uris.push(`s3://bkt/${key}`);
  }
  const fake = api(clock);
  const base: ExecuteOptions = { api: fake, source, store, clock, indexId: 'idx', bucket: 'bkt', runId: 'run-1', uris, concurrency: 3, presignExpiresSeconds: 3600, enableVideoStream: true, userMetadata: {}, reconcileLagMs: 1000, random: () => 0.5 };
  return { api: fake, store, clock, base, uris };
}

const onceEach = (posted: Array<{ key: string }>) => new Set(posted.map((p) => p.key)).size === posted.length;

describe('--wait-for-quota', () => {
  it('waits through each quota window, recording each wait before sleeping, and sends every item once', async () => {
    const { api, store, base, clock } = await setup(8, (c) => new QuotaApi(c, 3));
    const waits: QuotaWait[] = [];
    const result = await executePlan({ ...base, waitForQuota: true, onQuotaWait: async (w) => void waits.push(w) });
    await store.close();
    expect(result).toMatchObject({ submitted: 8, failed: 0, pending: 0, interrupted: false });
    expect(result.quota).toBeUndefined();
    expect(api.posted).toHaveLength(8);
    expect(onceEach(api.posted)).toBe(true);
    // 8 items at 3 per window: at least two windows waited through, each recorded once however many jobs were refused.
    expect(waits.length).toBeGreaterThanOrEqual(2);
    const untils = waits.map((w) => Date.parse(w.until));
    for (const [i, until] of untils.entries()) {
      // Never before the end of the window that refused.
      expect(until).toBeGreaterThan(START + WINDOW);
      if (i > 0) expect(until).toBeGreaterThan(untils[i - 1] as number);
    }
    for (let w = 0; w * WINDOW <= clock.now() - START; w++) expect(api.posted.filter((p) => Math.floor((p.at - START) / WINDOW) === w).length).toBeLessThanOrEqual(3);
  });

  it('without the flag, stops cleanly at the quota as before', async () => {
    const { api, store, base } = await setup(8, (clock) => new QuotaApi(clock, 3));
    const result = await executePlan(base);
    await store.close();
    expect(result.quota?.resetAt).toBe(new Date(START + WINDOW).toISOString());
    expect(api.posted).toHaveLength(3);
  });

  it('a stop during the wait ends the run with the rest left planned', async () => {
    const { api, store, base, clock } = await setup(8, (c) => new QuotaApi(c, 3));
    const stop = new AbortController();
    const result = await executePlan({ ...base, stop: stop.signal, waitForQuota: true, onQuotaWait: async () => void setImmediate(() => stop.abort(new Error('SIGINT'))) });
    expect(result.interrupted).toBe(true);
    expect(api.posted).toHaveLength(3);
    expect([...store.items()].filter(([, i]) => i.status === 'planned')).toHaveLength(5);
    expect(clock.now()).toBeLessThan(START + WINDOW);
    await store.close();
  });
});

describe('budgets', () => {
  it('--max-items: starts exactly N items, then stops cleanly (not interrupted)', async () => {
    const { api, store, base } = await setup(10, (clock) => new QuotaApi(clock));
    const result = await executePlan({ ...base, budget: { maxItems: 4 } });
    await store.close();
    expect(result).toMatchObject({ submitted: 4, interrupted: false, budget: { reason: 'max_items' }, used: { items: 4 } });
    expect(api.posted).toHaveLength(4);
  });

  it('--max-video-hours: stops before the first item that would pass the bound', async () => {
    const { api, store, base, uris } = await setup(6, (clock) => new QuotaApi(clock));
    const durations = new Map(uris.map((uri) => [uri, 1200]));
    const result = await executePlan({ ...base, durations, budget: { maxVideoSeconds: 3 * 1200 + 600 } });
    await store.close();
    expect(result).toMatchObject({ submitted: 3, budget: { reason: 'max_video_hours' }, used: { items: 3, videoSeconds: 3600 } });
    expect(api.posted).toHaveLength(3);
  });

  it('a deadline stops new work, even a quota wait, and is no interruption', async () => {
    const { api, store, base } = await setup(8, (clock) => new QuotaApi(clock, 3));
    const result = await executePlan({ ...base, waitForQuota: true, deadline: START + 5_000 });
    expect(result).toMatchObject({ interrupted: false, budget: { reason: 'deadline' } });
    expect(api.posted.length).toBeLessThanOrEqual(3);
    expect([...store.items()].filter(([, i]) => i.status === 'planned')).toHaveLength(8 - api.posted.length);
    await store.close();
  });
});

describe('credentials that expire mid-run', () => {
  afterEach(() => vi.useRealTimers());

  it('presignLifetime: capped to the life left, at least 1 s', () => {
    expect(presignLifetime(21600, undefined, 0)).toBe(21600);
    expect(presignLifetime(21600, new Date(600_000), 0)).toBe(600);
    expect(presignLifetime(300, new Date(600_000), 0)).toBe(300);
  });

  it('no URL outlives the credentials that signed it, across several expiries (a fake provider of 15-minute credentials)', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(START);
    const issued = new Map<string, number>();
    let n = 0;
    const provider = async () => {
      n += 1;
      const expiration = Date.now() + 15 * 60_000;
      issued.set(`ASIAFAKE${n}`, expiration);
      return { accessKeyId: `ASIAFAKE${n}`, secretAccessKey: `secret${n}`, sessionToken: `token${n}`, expiration: new Date(expiration) };
    };
    const client = new S3Client({ region: 'us-east-1', endpoint: 'http://127.0.0.1:9', forcePathStyle: true, credentials: provider });
    const source = new S3Source(client, 'bkt');
    for (let minute = 0; minute <= 60; minute += 1) {
      vi.setSystemTime(START + minute * 60_000);
      const url = new URL(await source.presignGet('dir/video.mp4', 6 * 3600));
      const key = url.searchParams.get('X-Amz-Credential')?.split('/')[0] ?? '';
      const signedAt = Date.parse(url.searchParams.get('X-Amz-Date')?.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z') ?? '');
      const expires = Number(url.searchParams.get('X-Amz-Expires'));
      expect(issued.has(key)).toBe(true);
      expect(signedAt + expires * 1000).toBeLessThanOrEqual(issued.get(key) as number);
      // The SDK refreshes credentials 5 minutes before they end: no URL is uselessly short.
      expect(expires).toBeGreaterThanOrEqual(5 * 60);
    }
    expect(issued.size).toBeGreaterThanOrEqual(5);
  });

  it('a run across credential expiries: no item fails, every posted URL still valid when posted', async () => {
    // The source signs like S3Source: each URL capped to the credentials current at signing, which rotate every 10 minutes.
    const clockHolder: { clock?: FakeClock } = {};
    const source: ExecutorSource = {
      head: async (key) => ({ key, size: 100, etag: `etag-${key}`, lastModified: '2026-01-01T00:00:00Z' }),
      presignGet: async (key, seconds) => {
        const now = (clockHolder.clock as FakeClock).now();
        const expiration = new Date(START + (Math.floor((now - START) / 600_000) + 1) * 600_000);
        return `https://s3.test/bkt/${encodeURIComponent(key)}?X-Amz-Expires=${presignLifetime(seconds, expiration, now)}&signed=${now}`;
      },
    };
    const { api, store, base, clock } = await setup(12, (c) => new QuotaApi(c, 2), source);
    clockHolder.clock = clock;
    const result = await executePlan({ ...base, waitForQuota: true });
    await store.close();
    expect(result).toMatchObject({ submitted: 12, failed: 0 });
    expect(clock.now() - START).toBeGreaterThan(100_000);
    for (const p of api.posted) {
      const url = new URL(p.url);
      expect(Number(url.searchParams.get('signed')) + Number(url.searchParams.get('X-Amz-Expires')) * 1000).toBeGreaterThan(p.at);
    }
  });
});

describe('ETA and wait wording', () => {
  it.each([
    [{ now: 0, remaining: 100, perSecond: 1 }, '1 min 40 s'],
    [{ now: 0, remaining: 180_000, perSecond: 1 }, '2 d 2 h'],
    [{ now: 0, remaining: 10, perSecond: 1, waitUntil: 5 * 3600_000 }, '5 h'],
    [{ now: 0, remaining: 10, perSecond: 0 }, '-'],
    [{ now: 0, remaining: 10, perSecond: 1, minutesLeft: 600, minutesPerHour: 60 }, '10 h'],
    // 1,000 left at 100 per daily window: nine more days of windows, then the last 100 at the rate.
    [{ now: 0, remaining: 1000, perSecond: 1, quotaWindow: { items: 100, ms: 86_400_000 } }, '9 d'],
  ])('%j -> %s', (inputs, text) => {
    expect(formatEta(estimateEtaSeconds(inputs))).toBe(text);
  });

  it('names the local time and the time left', () => {
    const until = new Date(2026, 10, 30, 14, 5).getTime();
    expect(quotaWaitLine(until, until - (5 * 60 + 12) * 60_000)).toBe('waiting for quota until 2026-11-30 14:05 (in 5 h 12 min)');
  });

  it('--stop-at: a local time of day is the next one; a past date-time is refused', () => {
    const now = new Date(2026, 10, 30, 10, 0).getTime();
    expect(parseStopAt('11:30', now)).toBe(new Date(2026, 10, 30, 11, 30).getTime());
    expect(parseStopAt('09:00', now)).toBe(new Date(2026, 11, 1, 9, 0).getTime());
    expect(() => parseStopAt('2026-11-29T10:00', now)).toThrow(/--stop-at "2026-11-29T10:00" is already past: write a local time/);
    expect(() => parseStopAt('soon', now)).toThrow(/is not a time/);
    expect(runDeadline({ stopAt: now + 5000, maxRunTimeMs: 1000 }, now)).toBe(now + 1000);
  });
});

describe('the flags of unattended runs', () => {
  const base = { state: 's.json', concurrency: '4', metadata: [], 'video-stream': true, 'presign-expires': '6h', wait: false, 'retry-failed': false, 'request-timeout': '60s', 'poll-interval': '10s', 'reconcile-lag': '5s' };
  it.each([
    [{ 'max-items': '0' }, /^--max-items "0" is out of range: use a whole number from 1 to/],
    [{ 'max-items': 'many' }, /^--max-items "many" is not a whole number/],
    [{ 'max-video-hours': '-1' }, /^--max-video-hours "-1" is out of range: use a number above 0 \(hours of video\)/],
    [{ 'max-run-time': '0' }, /^--max-run-time "0" is out of range: use 1s to 366d/],
    [{ 'max-video-minutes-per-hour': 'lots' }, /^--max-video-minutes-per-hour "lots" is not a number/],
    [{ 'stop-at': '25:00' }, /^--stop-at "25:00" is not a time of day/],
  ])('%j is refused with one line', (flags, message) => {
    expect(() => toApplyArgs({ ...base, ...flags }, 'plan.json')).toThrow(message);
  });

  it('parses each into ApplyArgs', () => {
    const args = toApplyArgs({ ...base, 'wait-for-quota': true, 'max-items': '10', 'max-video-hours': '1.5', 'max-run-time': '8h', 'max-video-minutes-per-hour': '600', 'max-video-minutes-per-day': '6000' }, 'plan.json');
    expect(args).toMatchObject({ waitForQuota: true, maxItems: 10, maxVideoHours: 1.5, maxRunTimeMs: 8 * 3600_000, maxVideoMinutesPerHour: 600, maxVideoMinutesPerDay: 6000 });
  });
});

describe('QuotaWaiter', () => {
  it('after Ctrl-C ended the wait under way, a refusal answered late starts no new wait and records none', async () => {
    const clock = new FakeClock(START);
    const stop = new AbortController();
    const recorded: QuotaWait[] = [];
    const waiter = new QuotaWaiter(clock, stop.signal, async (wait) => void recorded.push(wait), undefined);
    const first = waiter.wait(START + 3 * 3600_000, 'usage_limit_exceeded');
    await new Promise((r) => setImmediate(r));
    stop.abort(new Error('SIGINT'));
    await expect(first).rejects.toThrow('SIGINT');
    await expect(waiter.wait(START + 3 * 3600_000, 'usage_limit_exceeded')).rejects.toThrow('SIGINT');
    expect(recorded).toHaveLength(1);
  });
});
