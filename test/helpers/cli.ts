import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { S3ServerInfo } from '../../scripts/s3-server.js';
import type { Simulator } from '../sim/index.js';

export const CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs the built CLI (npm test builds first) with exactly the env given plus PATH/HOME. */
export function runCli(args: string[], env: Record<string, string | undefined>, options: { cwd?: string; timeoutMs?: number } = {}): Promise<CliResult> {
  const child = startCli(args, env, options);
  return collect(child, options.timeoutMs ?? 120_000);
}

export function startCli(args: string[], env: Record<string, string | undefined>, options: { cwd?: string } = {}): ChildProcess {
  const base: Record<string, string | undefined> = { PATH: process.env.PATH, HOME: process.env.HOME, AWS_EC2_METADATA_DISABLED: 'true' };
  return spawn(process.execPath, [CLI, ...args], { env: { ...base, ...env } as NodeJS.ProcessEnv, cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
}

export function collect(child: ChildProcess, timeoutMs: number): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`CLI timed out after ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** What the CLI needs to talk to a local S3 server and a simulator: the one place these variables are named. */
export function cliEnv(s3info: S3ServerInfo, sim: Pick<Simulator, 'apiKey' | 'url'>): Record<string, string> {
  return {
    TWELVELABS_API_KEY: sim.apiKey,
    TWELVELABS_BASE_URL: sim.url,
    AWS_ACCESS_KEY_ID: s3info.accessKeyId,
    AWS_SECRET_ACCESS_KEY: s3info.secretAccessKey,
    AWS_ENDPOINT_URL_S3: s3info.endpoint,
    AWS_REGION: s3info.region,
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    // The shortest wait allowed before resubmitting a POST whose answer was lost: keeps fault tests short.
    TLMIGRATE_RECONCILE_MIN_AGE: '30s',
  };
}
