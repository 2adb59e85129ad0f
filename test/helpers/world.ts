import type { S3Client } from '@aws-sdk/client-s3';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSimulator, type Simulator, type SimulatorOptions } from '../sim/index.js';
import { cliEnv } from './cli.js';
import { createTestBucket, s3Client, s3Server, type S3ServerInfo } from './s3.js';

/** One e2e test's world: the run's S3 server, a fresh bucket, a simulator with one index, a work dir. */
export interface World {
  s3info: S3ServerInfo;
  s3: S3Client;
  bucket: string;
  sim: Simulator;
  indexId: string;
  dir: string;
  env: Record<string, string>;
  close(): Promise<void>;
}

export async function makeWorld(hint: string, simOptions: SimulatorOptions = {}): Promise<World> {
  const s3info = s3Server();
  const s3 = s3Client(s3info);
  const bucket = await createTestBucket(s3, hint);
  const sim = await startSimulator({ lifecycle: { validatingMs: 20, pendingMs: 20, queuedMs: 20, indexingMs: 40 }, ...simOptions });
  const index = sim.createIndex({ name: hint });
  const dir = mkdtempSync(join(tmpdir(), `tlm-e2e-${hint}-`));
  const env = { ...cliEnv(s3info, sim), TLMIGRATE_LOG_LEVEL: 'warn' };
  return { s3info, s3, bucket, sim, indexId: index.id, dir, env, close: () => sim.close() };
}
