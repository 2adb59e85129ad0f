import { NotSentError } from '../errors.js';
import type { RequestGate, ResponseSignal } from './pacer.js';
import type { GateRouter } from './pacers.js';

/** A gate that also says how many requests have waited at it for a while, for the progress line. */
export interface StoppableGate extends RequestGate {
  readonly waiting: number;
}

/** The same for a gate per limit category: `waiting` counts the requests waiting at any of them. */
export interface StoppableRouter extends GateRouter {
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
  const count = { waiting: 0 };
  const stoppable = stoppableGate(gate, stop, count);
  return {
    get waiting() {
      return count.waiting;
    },
    acquire: (signal) => stoppable.acquire(signal),
    release: (answer) => stoppable.release(answer),
  };
}

/** `stopAtGate` for every category's gate of a router. */
export function stopAtGates(router: GateRouter, stop: AbortSignal): StoppableRouter {
  const count = { waiting: 0 };
  const wrapped = new Map<RequestGate, RequestGate>();
  return {
    get waiting() {
      return count.waiting;
    },
    gateFor(method: string, path: string): RequestGate {
      const inner = router.gateFor(method, path);
      let gate = wrapped.get(inner);
      if (!gate) wrapped.set(inner, (gate = stoppableGate(inner, stop, count)));
      return gate;
    },
  };
}

function stoppableGate(gate: RequestGate, stop: AbortSignal, count: { waiting: number }): RequestGate {
  return {
    async acquire(signal?: AbortSignal): Promise<void> {
      if (stop.aborted) throw new NotSentError();
      let counted = false;
      const timer = setTimeout(() => {
        counted = true;
        count.waiting += 1;
      }, SHOWN_WAIT_MS).unref();
      try {
        // A signal of its own per wait: the run-wide stop collects no listener per request.
        await gate.acquire(AbortSignal.any(signal ? [signal, stop] : [stop]));
      } catch (error) {
        if (stop.aborted && !signal?.aborted) throw new NotSentError();
        throw error;
      } finally {
        clearTimeout(timer);
        if (counted) count.waiting -= 1;
      }
    },
    release(answer: ResponseSignal): void {
      gate.release(answer);
    },
  };
}
