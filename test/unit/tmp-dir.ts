import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach } from 'vitest';

export interface TmpDir {
  /** The folder of the running test. */
  readonly dir: string;
  /** A path inside it. */
  path(name: string): string;
}

/** A fresh folder for each test of the enclosing describe, removed after it. */
export function useTmpDir(): TmpDir {
  let dir: string | undefined;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tlm-unit-'));
  });
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
    dir = undefined;
  });
  const current = (): string => {
    if (!dir) throw new Error('useTmpDir: no test is running');
    return dir;
  };
  return {
    get dir() {
      return current();
    },
    path: (name) => join(current(), name),
  };
}
