import { describe, expect, it } from 'vitest';
import { ApiError, ConfigError, TransportError } from '../../src/errors.js';
import { QUOTA_RESET_THRESHOLD_MS, backoffMs, classifyFailure } from '../../src/twelvelabs/retry.js';
import type { FailureAction } from '../../src/twelvelabs/retry.js';

const NOW = 1_750_000_000_000;
const HOUR = 3_600_000;

function anApiError(status: number, extra: { code?: string; retryAfterMs?: number; rateLimitResetMs?: number; method?: string; path?: string } = {}): ApiError {
  return new ApiError({ status, code: extra.code ?? `http_${status}`, message: 'test', method: extra.method ?? 'GET', path: extra.path ?? '/tasks', ...extra });
}

const timeout = new TransportError({ method: 'POST', path: '/tasks', reason: 'timeout', detail: 'no answer' });
const reset = new TransportError({ method: 'GET', path: '/tasks', reason: 'network', detail: 'ECONNRESET' });

describe('classifyFailure', () => {
  it.each<[string, unknown, FailureAction, FailureAction]>([
    // [case, error, idempotent request, POST /tasks]
    ['429', anApiError(429, { code: 'too_many_requests' }), 'pace', 'pace'],
    ['429 with Retry-After 30 s', anApiError(429, { retryAfterMs: 30_000 }), 'pace', 'pace'],
    ['429 with a reset in 40 s', anApiError(429, { rateLimitResetMs: NOW + 40_000 }), 'pace', 'pace'],
    ['429 with a reset just past', anApiError(429, { rateLimitResetMs: NOW - 1_000 }), 'pace', 'pace'],
    ['429 usage_limit_exceeded', anApiError(429, { code: 'usage_limit_exceeded' }), 'quota', 'quota'],
    ['429 with a reset hours away', anApiError(429, { rateLimitResetMs: NOW + 5 * HOUR }), 'quota', 'quota'],
    ['429 with a reset just over the threshold', anApiError(429, { rateLimitResetMs: NOW + QUOTA_RESET_THRESHOLD_MS + 1 }), 'quota', 'quota'],
    ['429 with Retry-After hours away', anApiError(429, { retryAfterMs: 3 * HOUR }), 'quota', 'quota'],
    ['429 with a short Retry-After and a far reset', anApiError(429, { retryAfterMs: 10_000, rateLimitResetMs: NOW + 5 * HOUR }), 'pace', 'pace'],
    ['401', anApiError(401, { code: 'api_key_invalid' }), 'fatal', 'fatal'],
    ['400', anApiError(400, { code: 'parameter_invalid' }), 'fail', 'fail'],
    ['403', anApiError(403), 'fail', 'fail'],
    ['404', anApiError(404, { code: 'resource_not_found' }), 'fail', 'fail'],
    ['409', anApiError(409), 'fail', 'fail'],
    ['422', anApiError(422, { code: 'video_resolution_too_low' }), 'fail', 'fail'],
    ['408', anApiError(408), 'retry', 'reconcile'],
    ['500', anApiError(500), 'retry', 'reconcile'],
    ['502', anApiError(502), 'retry', 'reconcile'],
    ['503', anApiError(503), 'retry', 'reconcile'],
    ['504', anApiError(504), 'retry', 'reconcile'],
    ['200 without a task id', anApiError(200, { code: 'invalid_response' }), 'fatal', 'fatal'],
    ['TransportError timeout', timeout, 'retry', 'reconcile'],
    ['TransportError network', reset, 'retry', 'reconcile'],
    ['our ConfigError', new ConfigError('x', 'x'), 'fatal', 'fatal'],
    ['a plain Error', new Error('boom'), 'fatal', 'fatal'],
    ['a TypeError', new TypeError('terminated'), 'fatal', 'fatal'],
    ['a string', 'boom', 'fatal', 'fatal'],
  ])('%s -> %s (idempotent), %s (POST)', (_case, error, idempotent, post) => {
    expect(classifyFailure(error, { idempotent: true }, NOW)).toBe(idempotent);
    expect(classifyFailure(error, { idempotent: false }, NOW)).toBe(post);
  });
});

describe('backoffMs', () => {
  it.each<[number, number, number]>([
    // attempt, lower bound, upper bound (base 1 s, cap 60 s)
    [1, 500, 1_000],
    [2, 1_000, 2_000],
    [3, 2_000, 4_000],
    [6, 16_000, 32_000],
    [7, 30_000, 60_000],
    [30, 30_000, 60_000],
    [0, 500, 1_000],
  ])('attempt %i stays within [%i, %i]', (attempt, low, high) => {
    expect(backoffMs(attempt, () => 0)).toBe(low);
    expect(backoffMs(attempt, () => 0.999_999)).toBe(high);
    for (const r of [0.1, 0.5, 0.9]) {
      const ms = backoffMs(attempt, () => r);
      expect(ms).toBeGreaterThanOrEqual(low);
      expect(ms).toBeLessThanOrEqual(high);
    }
  });

  it('honours a custom base and cap', () => {
    expect(backoffMs(1, () => 1, 500, 30_000)).toBe(500);
    expect(backoffMs(10, () => 1, 500, 30_000)).toBe(30_000);
    expect(backoffMs(10, () => 0, 500, 30_000)).toBe(15_000);
  });

  it('grows with the attempt number for a fixed draw', () => {
    const series = [1, 2, 3, 4, 5, 6, 7].map((n) => backoffMs(n, () => 0.5));
    expect(series).toEqual([...series].sort((a, b) => a - b));
    expect(new Set(series).size).toBe(series.length);
  });
});
