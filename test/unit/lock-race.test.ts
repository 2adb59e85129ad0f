import { fork, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTmpDir } from './tmp-dir.js';

const RACER = fileURLToPath(new URL('../helpers/lock-racer.ts', import.meta.url));
const CONTENDERS = 20;
const ROUNDS = 100;

interface Outcome {
  round: number;
  held: boolean;
  refusal?: string;
}

/** The pid of a process that has exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await new Promise((resolve) => child.on('exit', resolve));
  if (child.pid === undefined) throw new Error('no pid');
  return child.pid;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Replays a holders' journal: the most holders at once (1 means never two). */
function maxHolders(journal: string): number {
  let depth = 0;
  let most = 0;
  for (const line of journal.split('\n')) {
    if (line.startsWith('+')) most = Math.max(most, ++depth);
    else if (line.startsWith('-')) depth -= 1;
  }
  return most;
}

/**
 * The lock under contention: 20 processes (forked once) call acquireLock at the same moment,
 * round after round, on a fresh state and on one whose lock a dead process left. Whoever holds the
 * lock writes `+pid`/`-pid` in a shared journal while holding it: no two holders may overlap.
 */
describe('the state lock, raced by 20 processes', () => {
  const tmp = useTmpDir();
  const racers: ChildProcess[] = [];
  const waiting = new Map<ChildProcess, (outcome: Outcome) => void>();

  beforeAll(async () => {
    for (let i = 0; i < CONTENDERS; i++) {
      const child = fork(RACER, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
      racers.push(child);
      await new Promise<void>((resolve, reject) => {
        child.once('message', () => resolve());
        child.once('error', reject);
      });
      child.on('message', (message: Outcome) => waiting.get(child)?.(message));
    }
  }, 120_000);
  afterAll(() => {
    for (const child of racers) child.kill();
  });

  const round = (round: number, state: string, journal: string): Promise<Outcome[]> =>
    Promise.all(
      racers.map(
        (child) =>
          new Promise<Outcome>((resolve) => {
            waiting.set(child, resolve);
            child.send({ round, state, journal });
          }),
      ),
    );

  it(`never has two holders: ${ROUNDS} rounds, half fresh, half with a dead holder's lock`, { timeout: 300_000 }, async () => {
    let dead = await deadPid();
    const most: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const state = tmp.path(`state-${r}.json`);
      const journal = tmp.path(`holders-${r}.log`);
      writeFileSync(journal, '');
      const stale = r % 2 === 1;
      if (stale) {
        if (isAlive(dead)) dead = await deadPid();
        writeFileSync(`${state}.lock`, JSON.stringify({ pid: dead, host: hostname(), startedAt: new Date(r).toISOString(), command: 'apply plan.json' }));
      }
      const outcomes = await round(r, state, journal);
      expect(outcomes.filter((o) => o.refusal !== undefined).map((o) => o.refusal)).toEqual([]);
      expect(outcomes.filter((o) => o.held).length, `round ${r}: somebody holds the lock`).toBeGreaterThanOrEqual(1);
      most.push(maxHolders(readFileSync(journal, 'utf8')));
      // Every holder released it; no temp or takeover token is left behind.
      expect(readdirSync(tmp.dir).filter((f) => f.startsWith(`state-${r}.json`)), `round ${r}`).toEqual([]);
    }
    expect(Math.max(...most)).toBe(1);
  });
});
