import { describe, expect, it } from 'vitest';
import { NotSentError } from '../../src/errors.js';
import { Pacer } from '../../src/twelvelabs/pacer.js';
import { stopAtGate } from '../../src/twelvelabs/stop-gate.js';
import { FakeClock } from './fake-clock.js';

describe('stopAtGate: Ctrl-C ends the waits for the rate limiter', () => {
  it('a request waiting for its turn when the run stops is not sent, nor is any later one', async () => {
    const pacer = new Pacer({ clock: new FakeClock(), maxRpm: 1 });
    const stop = new AbortController();
    const gate = stopAtGate(pacer, stop.signal);
    await gate.acquire();
    const waiting = gate.acquire();
    stop.abort(new Error('SIGINT'));
    await expect(waiting).rejects.toBeInstanceOf(NotSentError);
    await expect(gate.acquire()).rejects.toBeInstanceOf(NotSentError);
    expect(pacer.stats.sent).toBe(1);
  });

  it("a request's own abort stays its own error", async () => {
    const gate = stopAtGate(new Pacer({ clock: new FakeClock(), maxRpm: 1 }), new AbortController().signal);
    await gate.acquire();
    const own = new AbortController();
    const waiting = gate.acquire(own.signal);
    own.abort(new Error('timeout of this request'));
    await expect(waiting).rejects.toThrow('timeout of this request');
  });
});
