import { NotSentError } from '../errors.js';
import type { RequestGate, ResponseSignal } from './pacer.js';

/** A gate that also says how many requests have waited at it for a while, for the progress line. */
export interface StoppableGate extends RequestGate {
  readonly waiting: number;
}

/** A turn granted within this is no wait worth showing. */
const SHOWN_WAIT_MS = 250;

/**
 * Wraps the run's gate so a stop (Ctrl-C) ends every wait at it: a request still waiting for the
 * rate limiter is never sent (NotSentError), while one already on the wire finishes. The stop does
 * not abort requests themselves; only their turn at the gate.
 */
export function stopAtGate(gate: RequestGate, stop: AbortSignal): StoppableGate {
  let waiting = 0;
  return {
    get waiting() {
      return waiting;
    },
    async acquire(signal?: AbortSignal): Promise<void> {
      if (stop.aborted) throw new NotSentError();
      let counted = false;
      const timer = setTimeout(() => {
        counted = true;
        waiting += 1;
      }, SHOWN_WAIT_MS).unref();
      try {
        // A signal of its own per wait: the run-wide stop collects no listener per request.
        await gate.acquire(AbortSignal.any(signal ? [signal, stop] : [stop]));
      } catch (error) {
        if (stop.aborted && !signal?.aborted) throw new NotSentError();
        throw error;
      } finally {
        clearTimeout(timer);
        if (counted) waiting -= 1;
      }
    },
    release(answer: ResponseSignal): void {
      gate.release(answer);
    },
  };
}
