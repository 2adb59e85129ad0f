import { appendFileSync } from 'node:fs';
import { acquireLock } from '../../src/state/lock.js';

/**
 * One contender of the lock race (test/unit/lock-race.test.ts), a child process: on each message
 * it calls acquireLock at once; while holding, it records `+pid` and `-pid` lines in a shared
 * journal (O_APPEND), so the parent can check no two holders ever overlap.
 */
interface Round {
  round: number;
  state: string;
  journal: string;
}

process.on('message', (message: Round) => {
  void race(message).then((outcome) => process.send?.(outcome));
});
process.send?.({ ready: true });

async function race({ round, state, journal }: Round): Promise<{ round: number; held: boolean; refusal?: string }> {
  let lock;
  try {
    lock = await acquireLock(state, `racer ${round}`);
  } catch (error) {
    const code = (error as { code?: string }).code;
    return { round, held: false, refusal: code === 'state_locked' ? undefined : `${code}: ${(error as Error).message}` };
  }
  appendFileSync(journal, `+${process.pid}\n`);
  // Hold for a moment (0-2 ms), so that later contenders find the lock held, not only free.
  await new Promise((resolve) => setTimeout(resolve, Math.floor(Math.random() * 3)));
  appendFileSync(journal, `-${process.pid}\n`);
  await lock.release();
  return { round, held: true };
}
