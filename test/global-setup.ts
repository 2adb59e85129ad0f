import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import {
  S3_SERVER_PACKAGES,
  ensureSystemPackages,
  startS3Server,
  stopS3Server,
  type S3ServerInfo,
} from '../scripts/s3-server.js';

declare module 'vitest' {
  export interface ProvidedContext {
    s3: S3ServerInfo;
    ffmpegAvailable: boolean;
  }
}

/**
 * One S3 server for the whole e2e run. Set TLM_TEST_S3_ENDPOINT, TLM_TEST_S3_ACCESS_KEY and
 * TLM_TEST_S3_SECRET_KEY (e.g. from `tsx scripts/s3-server.ts start`) to reuse a running one.
 */
export default async function setup({ provide }: TestProject): Promise<() => Promise<void>> {
  // The SDK is pinned on purpose (s3-test-server.md); workers inherit this and skip its Node 22 notice.
  process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';
  // Workers inherit it too; their temp files (video fixtures) go here and leave with the run.
  const runDir = mkdtempSync(join(tmpdir(), 'tlm-test-run-'));
  process.env['TLM_TEST_TMPDIR'] = runDir;
  const removeRunDir = () => rmSync(runDir, { recursive: true, force: true });

  try {
    provide('ffmpegAvailable', await ensureFfmpeg());
    const existing = existingServer();
    if (existing) {
      provide('s3', existing);
      return async () => removeRunDir();
    }
    await ensureSystemPackages(S3_SERVER_PACKAGES);
    const started = Date.now();
    const server = await startS3Server();
    console.log(`[global-setup] S3 server (Ceph radosgw) at ${server.endpoint}, ready in ${Date.now() - started} ms`);
    provide('s3', server);
    return async () => {
      await stopS3Server(server);
      removeRunDir();
    };
  } catch (error) {
    removeRunDir();
    throw error;
  }
}

function existingServer(): S3ServerInfo | undefined {
  const endpoint = process.env['TLM_TEST_S3_ENDPOINT'];
  if (!endpoint) return undefined;
  const accessKeyId = process.env['TLM_TEST_S3_ACCESS_KEY'];
  const secretAccessKey = process.env['TLM_TEST_S3_SECRET_KEY'];
  if (!accessKeyId || !secretAccessKey) {
    throw new Error('TLM_TEST_S3_ENDPOINT is set: also set TLM_TEST_S3_ACCESS_KEY and TLM_TEST_S3_SECRET_KEY');
  }
  // Empty dir and pids: the server belongs to whoever started it, teardown leaves it running.
  return { endpoint, region: 'us-east-1', accessKeyId, secretAccessKey, dir: '', pids: [] };
}

/** Video fixtures are optional: a machine that cannot install ffmpeg skips those tests. */
async function ensureFfmpeg(): Promise<boolean> {
  try {
    await ensureSystemPackages(['ffmpeg']);
  } catch (error) {
    console.warn(`[global-setup] ffmpeg unavailable, video fixture tests will be skipped: ${String(error)}`);
    return false;
  }
  const works = (cmd: string) =>
    new Promise<boolean>((resolve) => execFile(cmd, ['-version'], { timeout: 10_000 }, (error) => resolve(!error)));
  return (await works('ffmpeg')) && (await works('ffprobe'));
}
