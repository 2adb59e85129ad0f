import { describe, expect, it } from 'vitest';
import { TlmError } from '../../src/errors.js';
import { parseDurationMs, parsePositiveNumber, parseSize, parseWholeNumber } from '../../src/cli/flags.js';
import { FLAG_LIMITS, toApplyArgs, toPlanArgs, type ApplyCliArgs, type PlanCliArgs } from '../../src/cli/options.js';

function refusal(fn: () => unknown): { code: string; exitCode: number; message: string } {
  try {
    fn();
  } catch (error) {
    if (error instanceof TlmError) return { code: error.code, exitCode: error.exitCode, message: error.message };
    throw error;
  }
  throw new Error('expected a refusal');
}

describe('sizes: bytes, or a number with a decimal (MB) or binary (MiB) unit', () => {
  const table: Array<[string, number]> = [
    ['0', 0],
    ['1000', 1000],
    ['10MB', 10_000_000],
    ['10 MB', 10_000_000],
    ['10mb', 10_000_000],
    ['1.5GiB', 1.5 * 2 ** 30],
    ['2KiB', 2048],
    ['3kb', 3000],
    ['1TB', 1e12],
    ['1TiB', 2 ** 40],
    ['512B', 512],
    ['.5MB', 500_000],
  ];
  it.each(table)('%s is %d bytes', (text, bytes) => expect(parseSize('--min-size', text, { min: 0, example: '500MB' })).toBe(bytes));

  const refused: Array<[string, string, RegExp]> = [
    ['abc', 'flag_invalid', /^--min-size "abc" is not a size: write bytes, or a number with a unit such as 500MB or 1\.5GiB \(KB, MB, GB, TB are powers of 1000; KiB, MiB, GiB, TiB of 1024\), e\.g\. --min-size 500MB$/],
    ['10 parsecs', 'flag_invalid', /^--min-size "10 parsecs" is not a size/],
    ['', 'flag_invalid', /^--min-size "" is not a size/],
    ['10M', 'flag_invalid', /^--min-size "10M" is not a size/],
    ['-1', 'flag_out_of_range', /^--min-size "-1" is out of range: use 0 bytes or more, e\.g\. --min-size 500MB$/],
    ['1e30', 'flag_invalid', /is not a size/],
  ];
  it.each(refused)('%j is refused (%s)', (text, code, message) => {
    const r = refusal(() => parseSize('--min-size', text, { min: 0, example: '500MB' }));
    expect(r).toEqual({ code, exitCode: 2, message: expect.stringMatching(message) });
  });
});

describe('durations: 30s, 2m, 1h, 1h30m, 500ms; a plain number is seconds', () => {
  const range = { min: 100, max: 7 * 86_400_000, example: '10s' };
  const table: Array<[string, number]> = [
    ['60', 60_000],
    ['0.2', 200],
    ['30s', 30_000],
    ['2m', 120_000],
    ['2min', 120_000],
    ['1h', 3_600_000],
    ['1h30m', 5_400_000],
    ['1h 30m', 5_400_000],
    ['500ms', 500],
    ['7d', 7 * 86_400_000],
    ['1.5h', 5_400_000],
    ['2M', 120_000],
  ];
  it.each(table)('%s is %d ms', (text, ms) => expect(parseDurationMs('--poll-interval', text, range)).toBe(ms));

  const refused: Array<[string, string, RegExp]> = [
    ['abc', 'flag_invalid', /^--poll-interval "abc" is not a duration: write a duration such as 30s, 2m or 1h \(a plain number is seconds\), e\.g\. --poll-interval 10s$/],
    ['', 'flag_invalid', /^--poll-interval "" is not a duration/],
    ['10 parsecs', 'flag_invalid', /is not a duration/],
    ['5x', 'flag_invalid', /is not a duration/],
    ['0', 'flag_out_of_range', /^--poll-interval "0" is out of range: use 100ms to 7d, e\.g\. --poll-interval 10s$/],
    ['-1', 'flag_out_of_range', /^--poll-interval "-1" is out of range/],
    ['8d', 'flag_out_of_range', /^--poll-interval "8d" is out of range/],
  ];
  it.each(refused)('%j is refused (%s)', (text, code, message) => {
    expect(refusal(() => parseDurationMs('--poll-interval', text, range))).toEqual({ code, exitCode: 2, message: expect.stringMatching(message) });
  });

  it('a floor says why when it has a reason', () => {
    const r = refusal(() => parseDurationMs('--reconcile-min-age', '10s', FLAG_LIMITS.reconcileMinAge));
    expect(r.message).toBe('--reconcile-min-age "10s" is out of range: use 30s to 1d (a shorter search could miss a task the index lists late, and submit the video twice), e.g. --reconcile-min-age 2m');
  });
});

describe('counts and rates', () => {
  it.each([['1', 1], ['64', 64], [' 8 ', 8], ['+4', 4]])('--concurrency %j is %d', (text, n) => expect(parseWholeNumber('--concurrency', text, FLAG_LIMITS.concurrency)).toBe(n));
  it.each([
    ['abc', /^--concurrency "abc" is not a whole number: use 1 to 64, e\.g\. --concurrency 8$/],
    ['2.5', /^--concurrency "2\.5" is not a whole number/],
    ['', /^--concurrency "" is not a whole number/],
    ['0', /^--concurrency "0" is out of range: use a whole number from 1 to 64, e\.g\. --concurrency 8$/],
    ['65', /^--concurrency "65" is out of range/],
    ['-3', /^--concurrency "-3" is out of range/],
  ])('--concurrency %j is refused', (text, message) => expect(refusal(() => parseWholeNumber('--concurrency', text, FLAG_LIMITS.concurrency)).message).toMatch(message));
  it('a repeated flag takes the last value', () => expect(parseWholeNumber('--concurrency', ['2', '9'], FLAG_LIMITS.concurrency)).toBe(9));

  it.each([['60', 60], ['0.5', 0.5], ['.5', 0.5]])('--max-rpm %j is %d', (text, n) => expect(parsePositiveNumber('--max-rpm', text, { unit: 'requests per minute', example: 60 })).toBe(n));
  it.each([
    ['0', /^--max-rpm "0" is out of range: use a number above 0 \(requests per minute\), e\.g\. --max-rpm 60$/],
    ['-5', /^--max-rpm "-5" is out of range/],
    ['fast', /^--max-rpm "fast" is not a number: use a number above 0/],
    ['Infinity', /^--max-rpm "Infinity" is not a number/],
  ])('--max-rpm %j is refused', (text, message) => expect(refusal(() => parsePositiveNumber('--max-rpm', text, { unit: 'requests per minute', example: 60 })).message).toMatch(message));
});

const applyFlags = (over: Partial<ApplyCliArgs> = {}): ApplyCliArgs => ({
  state: 'tlmigrate-state.json',
  concurrency: '4',
  metadata: [],
  'video-stream': true,
  'presign-expires': '6h',
  wait: false,
  'retry-failed': false,
  'request-timeout': '60s',
  'poll-interval': '10s',
  'reconcile-lag': '5s',
  'reconcile-min-age': '2m',
  ...over,
});

describe('apply flags, parsed before anything is opened', () => {
  it('the defaults and plain numbers keep their old meaning (seconds)', () => {
    expect(toApplyArgs(applyFlags(), 'plan.json')).toMatchObject({ concurrency: 4, presignExpires: '21600s', requestTimeoutMs: 60_000, pollMs: 10_000, reconcileLagMs: 5_000, reconcileMinAgeMs: 120_000 });
    expect(toApplyArgs(applyFlags({ 'request-timeout': '5', 'poll-interval': '0.2', 'reconcile-lag': '0.3', 'reconcile-min-age': '45' }), 'p')).toMatchObject({
      requestTimeoutMs: 5000,
      pollMs: 200,
      reconcileLagMs: 300,
      reconcileMinAgeMs: 45_000,
    });
  });

  // Each flag of the catalogue (docs/errors.md, "Flags"): what the user typed is quoted, and the fix named.
  const table: Array<[Partial<ApplyCliArgs>, RegExp]> = [
    [{ concurrency: 'abc' }, /^--concurrency "abc" is not a whole number/],
    [{ 'max-rpm': '0' }, /^--max-rpm "0" is out of range: use a number above 0 \(requests per minute; omit it for no cap\)/],
    [{ 'presign-expires': '8d' }, /^--presign-expires "8d" is out of range: use 1m to 7d, e\.g\. --presign-expires 6h$/],
    [{ 'presign-expires': 'soon' }, /^--presign-expires "soon" is not a duration/],
    [{ 'request-timeout': 'abc' }, /^--request-timeout "abc" is not a duration/],
    [{ 'request-timeout': '0' }, /^--request-timeout "0" is out of range: use 1s to 1h/],
    [{ 'request-timeout': '-1' }, /^--request-timeout "-1" is out of range/],
    [{ 'poll-interval': 'abc' }, /^--poll-interval "abc" is not a duration/],
    [{ 'reconcile-lag': '0' }, /^--reconcile-lag "0" is out of range: use 100ms to 10m/],
    [{ 'reconcile-lag': 'abc' }, /^--reconcile-lag "abc" is not a duration/],
    [{ 'reconcile-min-age': '29s' }, /^--reconcile-min-age "29s" is out of range: use 30s to 1d/],
  ];
  it.each(table)('%j is refused', (flags, message) => expect(refusal(() => toApplyArgs(applyFlags(flags), 'plan.json'))).toEqual({ code: expect.any(String), exitCode: 2, message: expect.stringMatching(message) }));
});

const planFlags = (over: Partial<PlanCliArgs> = {}): PlanCliArgs => ({
  source: 's3://b/videos/',
  index: 'i',
  out: 'plan.json',
  state: 'tlmigrate-state.json',
  include: [],
  exclude: [],
  'fail-on-missing': false,
  incremental: true,
  match: 'filename',
  probe: false,
  'probe-concurrency': '8',
  'all-files': false,
  ...over,
});

describe('plan flags', () => {
  it('sizes and durations with units', () => {
    expect(toPlanArgs(planFlags({ 'min-size': '10MB', 'max-size': '1.5GiB', 'min-duration': '5s', 'max-duration': '1h', 'max-file-size': '4GB' }))).toMatchObject({
      minSize: 10_000_000,
      maxSize: 1.5 * 2 ** 30,
      requirements: { minDurationSeconds: 5, maxDurationSeconds: 3600, maxFileSizeBytes: 4e9 },
    });
    expect(toPlanArgs(planFlags({ 'min-size': '1000', 'min-duration': '4' }))).toMatchObject({ minSize: 1000, requirements: { minDurationSeconds: 4 } });
  });

  const table: Array<[Partial<PlanCliArgs>, RegExp]> = [
    [{ 'min-size': '-1' }, /^--min-size "-1" is out of range: use 0 bytes or more/],
    [{ 'max-size': 'big' }, /^--max-size "big" is not a size/],
    [{ 'max-file-size': '0' }, /^--max-file-size "0" is out of range: use 1 byte or more/],
    [{ 'min-duration': 'abc' }, /^--min-duration "abc" is not a duration/],
    [{ 'max-duration': '-5' }, /^--max-duration "-5" is out of range/],
    [{ 'probe-concurrency': '0' }, /^--probe-concurrency "0" is out of range: use a whole number from 1 to 256/],
    [{ 'probe-concurrency': 'many' }, /^--probe-concurrency "many" is not a whole number/],
  ];
  it.each(table)('%j is refused', (flags, message) => expect(refusal(() => toPlanArgs(planFlags(flags))).message).toMatch(message));
});
