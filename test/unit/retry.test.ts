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
  it.each<[string, FailureAction, FailureAction, unknown]>([
    // [case, idempotent request, POST /tasks, error]
    ['429', 'pace', 'pace', anApiError(429, { code: 'too_many_requests' })],
    ['429 with Retry-After 30 s', 'pace', 'pace', anApiError(429, { retryAfterMs: 30_000 })],
    ['429 with a reset in 40 s', 'pace', 'pace', anApiError(429, { rateLimitResetMs: NOW + 40_000 })],
    ['429 with a reset just past', 'pace', 'pace', anApiError(429, { rateLimitResetMs: NOW - 1_000 })],
    ['429 usage_limit_exceeded', 'quota', 'quota', anApiError(429, { code: 'usage_limit_exceeded' })],
    ['429 with a reset hours away', 'quota', 'quota', anApiError(429, { rateLimitResetMs: NOW + 5 * HOUR })],
    ['429 with a reset just over the threshold', 'quota', 'quota', anApiError(429, { rateLimitResetMs: NOW + QUOTA_RESET_THRESHOLD_MS + 1 })],
    ['429 with Retry-After hours away', 'quota', 'quota', anApiError(429, { retryAfterMs: 3 * HOUR })],
    ['429 with a short Retry-After and a far reset', 'pace', 'pace', anApiError(429, { retryAfterMs: 10_000, rateLimitResetMs: NOW + 5 * HOUR })],
    // usage_limit_exceeded has no documented status: a credit or quota refusal whatever it is.
    ['400 usage_limit_exceeded', 'quota', 'quota', anApiError(400, { code: 'usage_limit_exceeded' })],
    ['402 usage_limit_exceeded', 'quota', 'quota', anApiError(402, { code: 'usage_limit_exceeded' })],
    ['403 usage_limit_exceeded', 'quota', 'quota', anApiError(403, { code: 'usage_limit_exceeded' })],
    ['402 without a code (Payment Required)', 'quota', 'quota', anApiError(402)],
    ['400 too_many_requests with a reset hours away', 'quota', 'quota', anApiError(400, { code: 'too_many_requests', rateLimitResetMs: NOW + 5 * HOUR })],
    ['403 too_many_requests with Retry-After hours away', 'quota', 'quota', anApiError(403, { code: 'too_many_requests', retryAfterMs: 3 * HOUR })],
    ['400 too_many_requests with a near reset', 'pace', 'pace', anApiError(400, { code: 'too_many_requests', rateLimitResetMs: NOW + 20_000 })],
    ['401', 'fatal', 'fatal', anApiError(401, { code: 'api_key_invalid' })],
    ['400', 'fail', 'fail', anApiError(400, { code: 'parameter_invalid' })],
    ['403', 'fail', 'fail', anApiError(403)],
    ['404', 'fail', 'fail', anApiError(404, { code: 'resource_not_found' })],
    ['409', 'fail', 'fail', anApiError(409)],
    ['422', 'fail', 'fail', anApiError(422, { code: 'video_resolution_too_low' })],
    ['408', 'retry', 'reconcile', anApiError(408)],
    ['500', 'retry', 'reconcile', anApiError(500)],
    ['502', 'retry', 'reconcile', anApiError(502)],
    ['503', 'retry', 'reconcile', anApiError(503)],
    ['504', 'retry', 'reconcile', anApiError(504)],
    ['200 without a task id', 'fatal', 'fatal', anApiError(200, { code: 'invalid_response' })],
    ['TransportError timeout', 'retry', 'reconcile', timeout],
    ['TransportError network', 'retry', 'reconcile', reset],
    ['our ConfigError', 'fatal', 'fatal', new ConfigError('x', 'x')],
    ['a plain Error', 'fatal', 'fatal', new Error('boom')],
    ['a TypeError', 'fatal', 'fatal', new TypeError('terminated')],
    ['a string', 'fatal', 'fatal', 'boom'],
  ])('%s -> %s (idempotent), %s (POST)', (_case, idempotent, post, error) => {
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
