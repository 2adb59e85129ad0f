import { describe, expect, it } from 'vitest';
import { FaultInjector } from './faults.js';

describe('FaultInjector: quota windows and the video-minute limit', () => {
  it('dailyQuota.windowMs: N creates per window, back to back from the first create, reset at the window end', () => {
    const faults = new FaultInjector({ dailyQuota: { limit: 2, windowMs: 20_000 } });
    const at = (now: number) => faults.admit('POST /tasks', now);
    expect(at(5_000).reject).toBeUndefined();
    expect(at(6_000).reject).toBeUndefined();
    const refused = at(7_000);
    expect(refused.reject?.code).toBe('usage_limit_exceeded');
    expect(refused.headers['X-Ratelimit-Reset']).toBe('25');
    expect(at(25_000).reject).toBeUndefined();
    expect(faults.admit('GET /tasks', 25_001).reject).toBeUndefined();
    expect(at(44_999).reject).toBeUndefined();
    expect(at(44_999).reject?.code).toBe('usage_limit_exceeded');
  });

  it('dailyQuota without a reset: a run across a real UTC midnight keeps its quota; a clock past the reset renews it', () => {
    const faults = new FaultInjector({ dailyQuota: { limit: 2 } });
    const at = (iso: string) => faults.admit('POST /tasks', Date.parse(iso));
    expect(at('2026-12-07T23:59:30Z').reject).toBeUndefined();
    expect(at('2026-12-07T23:59:40Z').reject).toBeUndefined();
    // Minutes from midnight: the reset is the one after (at least 6 h away), and it holds across 00:00.
    const refused = at('2026-12-08T00:00:10Z');
    expect(refused.reject?.code).toBe('usage_limit_exceeded');
    expect(refused.headers['X-Ratelimit-Reset']).toBe(String(Date.parse('2026-12-09T00:00:00Z') / 1000));
    expect(at('2026-12-08T23:59:59Z').reject?.code).toBe('usage_limit_exceeded');
    expect(at('2026-12-09T00:00:00Z').reject).toBeUndefined();
  });

  it('videoMinutes: charges each create, announces the budget, refuses past it with -Remaining 0', () => {
    const faults = new FaultInjector({ videoMinutes: { limit: 3, windowMs: 60_000, minutesPerCreate: 1 } });
    const first = faults.admit('POST /tasks', 1_000);
    expect(first.headers).toMatchObject({ 'X-Ratelimit-Video-Minutes-Limit': '3', 'X-Ratelimit-Video-Minutes-Remaining': '2', 'X-Ratelimit-Video-Minutes-Reset': '60' });
    expect(faults.admit('POST /indexes/{index_id}/indexed-assets', 2_000).reject).toBeUndefined();
    expect(faults.admit('POST /assets', 2_500).headers['X-Ratelimit-Video-Minutes-Limit']).toBeUndefined();
    expect(faults.admit('POST /tasks', 3_000).reject).toBeUndefined();
    const refused = faults.admit('POST /tasks', 4_000);
    expect(refused.reject?.code).toBe('too_many_requests');
    expect(refused.headers['X-Ratelimit-Video-Minutes-Remaining']).toBe('0');
    expect(faults.admit('POST /tasks', 60_000).reject).toBeUndefined();
  });
});
