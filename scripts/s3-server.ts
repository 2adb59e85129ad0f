/**
 * A real S3 server for tests, demos and benchmarks: single-node Ceph radosgw on loopback,
 * memstore OSD (data in RAM), everything under one temp folder. See s3-test-server.md.
 *
 *   tsx scripts/s3-server.ts start [--state FILE]   start detached, write the state file
 *   tsx scripts/s3-server.ts env   [--state FILE]   print `export AWS_...` lines
 *   tsx scripts/s3-server.ts stop  [--state FILE]   kill by recorded PID, remove the folder
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync, rmSync } from 'node:fs';
import { mkdir, mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ListBucketsCommand, S3Client } from '@aws-sdk/client-s3';

export type S3ServerInfo = {
  endpoint: string;
  region: 'us-east-1';
  accessKeyId: string;
  secretAccessKey: string;
  dir: string;
  pids: number[];
};

export type StartS3ServerOptions = {
  /** An empty folder for config, mon/osd data and logs; created if missing. Default: a new temp folder. */
  dir?: string;
  /** Port for the S3 endpoint. Default: a free port. */
  port?: number;
  log?: (line: string) => void;
  /**
   * Let the daemons outlive this process (the CLI's `start`). Otherwise they get SIGKILL when
   * this process dies, even by SIGKILL, so a crashed test run leaves nothing behind.
   */
  outliveProcess?: boolean;
  /** Give up after this long. Default 90 s. */
  timeoutMs?: number;
};

/** A step of starting or stopping the server failed; the message ends with the log tail. */
export class S3ServerError extends Error {
  readonly code = 'S3_SERVER';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'S3ServerError';
  }
}

export const S3_SERVER_PACKAGES = ['radosgw', 'ceph-mon', 'ceph-osd'] as const;

/** Packages whose name is not the binary that proves they are installed. */
const PACKAGE_BINARIES: Record<string, string> = {
  'ceph-common': 'ceph',
  'ceph-base': 'ceph-authtool',
  'util-linux': 'setpriv',
};

/** Installs the Debian packages whose binary is not on PATH (apt-get, as root). */
export async function ensureSystemPackages(pkgs: readonly string[]): Promise<void> {
  const missing = pkgs.filter((pkg) => !commandExists(PACKAGE_BINARIES[pkg] ?? pkg));
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0) {
    throw new S3ServerError(
      `missing system packages: ${missing.join(' ')}; install them as root: ` +
        `apt-get update && apt-get install -y --no-install-recommends ${missing.join(' ')}`,
    );
  }
  if (!commandExists('apt-get')) {
    throw new S3ServerError(`missing system packages ${missing.join(' ')} and no apt-get to install them`);
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  await run('apt-get', ['update'], { timeoutMs: 600_000, env });
  await run('apt-get', ['install', '-y', '--no-install-recommends', ...missing], { timeoutMs: 1_200_000, env });
  const still = missing.filter((pkg) => !commandExists(PACKAGE_BINARIES[pkg] ?? pkg));
  if (still.length > 0) throw new S3ServerError(`apt-get install did not provide: ${still.join(' ')}`);
}

/** Starts radosgw and resolves once a signed ListBuckets succeeds. */
export async function startS3Server(opts: StartS3ServerOptions = {}): Promise<S3ServerInfo> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(opts);
    } catch (error) {
      // Free ports are picked by binding port 0 and closing: another process may take one meanwhile,
      // and a monitor that came up on a busy machine can refuse its first commands (EPERM "problem
      // getting command descriptions"). A fresh cluster in a fresh folder, on fresh ports, starts
      // again; a caller's own port or folder is not retried.
      if (attempt >= START_ATTEMPTS || opts.port !== undefined || opts.dir !== undefined) throw error;
      opts.log?.(`s3-server: start failed (${errorText(error).split('\n')[0]?.slice(0, 200) ?? ''}), starting again (${attempt + 1} of ${START_ATTEMPTS})`);
    }
  }
}

/** Whole cluster starts tried before a failure is reported. */
const START_ATTEMPTS = 3;

async function startOnce(opts: StartS3ServerOptions): Promise<S3ServerInfo> {
  const log = opts.log ?? (() => {});
  const started = Date.now();
  const deadline = started + (opts.timeoutMs ?? 90_000);
  const dir = opts.dir === undefined ? await mkdtemp(join(tmpdir(), 'tlm-s3-')) : resolve(opts.dir);
  for (const sub of ['mon', 'osd', 'run', 'log', 'rgw']) await mkdir(join(dir, sub), { recursive: true });

  const [monPort, rgwPort] = [await freePort(), opts.port ?? (await freePort())];
  const fsid = randomUUID();
  const osdUuid = randomUUID();
  const conf = join(dir, 'ceph.conf');
  await writeFile(conf, cephConf({ dir, fsid, monPort, rgwPort }));
  await writeFile(join(dir, 'keyring'), '');

  const info: S3ServerInfo = {
    endpoint: `http://127.0.0.1:${rgwPort}`,
    region: 'us-east-1',
    accessKeyId: randomKey(20, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'),
    secretAccessKey: randomKey(40, 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'),
    dir,
    pids: [],
  };
  const daemons: Daemon[] = [];
  // On failure, in-flight commands are killed too: a radosgw-admin whose monitor is gone would hang.
  const abort = new AbortController();
  const ceph = (cmd: string, args: string[], timeoutMs = 30_000) =>
    run(cmd, ['-c', conf, ...args], {
      timeoutMs: Math.max(1_000, Math.min(timeoutMs, deadline - Date.now())),
      signal: abort.signal,
    });
  const step = async <T>(name: string, logFile: string | undefined, fn: () => Promise<T>): Promise<T> => {
    const t0 = Date.now();
    try {
      const result = await fn();
      log(`s3-server: ${name} (${Date.now() - t0} ms)`);
      return result;
    } catch (error) {
      const message = errorText(error);
      const logged = logFile === undefined || message.includes('--- last lines of') ? '' : logTail(logFile);
      throw new S3ServerError(`${name} failed: ${message}${logged}`, { cause: error });
    }
  };
  const logOf = (name: string) => join(dir, 'log', `${name}.log`);

  try {
    await step('monmap', undefined, () =>
      ceph('monmaptool', ['--create', '--fsid', fsid, '--addv', 'a', `[v1:127.0.0.1:${monPort}]`, join(dir, 'monmap')]),
    );
    await step('mon mkfs', logOf('mon.a'), () =>
      ceph('ceph-mon', ['--mkfs', '-i', 'a', '--monmap', join(dir, 'monmap'), '--keyring', join(dir, 'keyring')]),
    );
    daemons.push(spawnDaemon('ceph-mon', ['-c', conf, '-f', '-i', 'a'], logOf('mon.a'), opts));

    const osdId = await step('osd new', logOf('mon.a'), () =>
      retry(deadline, daemons, async () => (await ceph('ceph', ['osd', 'new', osdUuid], 10_000)).trim()),
    );
    // Retried as `osd new` is: a monitor just up can refuse a command once (EPERM, "problem getting command descriptions").
    await step('osd crush add', logOf('mon.a'), () =>
      retry(deadline, daemons, () => ceph('ceph', ['osd', 'crush', 'add', `osd.${osdId}`, '1', 'root=default', 'host=localhost'], 10_000)),
    );
    await mkdir(join(dir, 'osd', `ceph-${osdId}`), { recursive: true });
    await step('osd mkfs', logOf(`osd.${osdId}`), () =>
      ceph('ceph-osd', ['-i', osdId, '--mkfs', '--osd-uuid', osdUuid]),
    );
    daemons.push(spawnDaemon('ceph-osd', ['-c', conf, '-f', '-i', osdId], logOf(`osd.${osdId}`), opts));
    daemons.push(spawnDaemon('radosgw', ['-c', conf, '-f', '-n', 'client.rgw'], logOf('client.rgw'), opts));
    info.pids = daemons.map((d) => d.pid);
    if (!opts.outliveProcess) killOnExit(info);

    await step('radosgw-admin user create', logOf(`osd.${osdId}`), () =>
      retry(deadline, daemons, () =>
        ceph(
          'radosgw-admin',
          [
            'user', 'create', '--uid=tlmigrate', '--display-name=tlmigrate tests',
            `--access-key=${info.accessKeyId}`, `--secret-key=${info.secretAccessKey}`,
            '--rados-osd-op-timeout=10', '--rados-mon-op-timeout=10',
          ],
          15_000,
        ).catch((error: unknown) => {
          // A timed-out attempt may have created the user anyway; ListBuckets then checks the keys.
          if (!/exists/.test(errorText(error))) throw error;
          return '';
        }),
      ),
    );
    await step('signed ListBuckets', logOf('client.rgw'), () =>
      retry(deadline, daemons, () => listBuckets(info), 100),
    );
    log(`s3-server: ready at ${info.endpoint} in ${Date.now() - started} ms (dir ${dir})`);
    return info;
  } catch (error) {
    abort.abort();
    await stopS3Server({ ...info, pids: daemons.map((d) => d.pid) }, { keepDir: opts.dir !== undefined });
    throw error;
  }
}

/** Kills the recorded daemons (SIGKILL: the data is in RAM anyway) and removes the folder. */
export async function stopS3Server(info: S3ServerInfo, opts: { keepDir?: boolean } = {}): Promise<void> {
  for (const pid of info.pids) {
    // A stale state file may name PIDs that now belong to other programs.
    if (!belongsTo(pid, info.dir)) continue;
    try {
      process.kill(pid, 'SIGKILL');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
    }
  }
  await Promise.all(info.pids.map((pid) => waitGone(pid, 5_000)));
  exitHooks.delete(info);
  if (!opts.keepDir && info.dir !== '') await rm(info.dir, { recursive: true, force: true });
}

function cephConf(p: { dir: string; fsid: string; monPort: number; rgwPort: number }): string {
  const d = p.dir;
  return `[global]
fsid = ${p.fsid}
mon host = v1:127.0.0.1:${p.monPort}
mon initial members = a
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind msgr2 = false
ms bind ipv6 = false
auth cluster required = none
auth service required = none
auth client required = none
auth supported = none
keyring = ${d}/keyring
run dir = ${d}/run
admin socket = ${d}/run/$name.asok
pid file = ${d}/run/$name.pid
log file = ${d}/log/$name.log
mon cluster log file = default=${d}/log/$cluster.$channel.log cluster=${d}/log/$cluster.log
log to stderr = false
err to stderr = true
crash dir = ${d}/run/crash
exec dir = ${d}/run
mon data = ${d}/mon/$cluster-$id
osd data = ${d}/osd/$cluster-$id
osd journal = ${d}/osd/$cluster-$id/journal
mgr data = ${d}/mgr/$cluster-$id
mds data = ${d}/mds/$cluster-$id
osd objectstore = memstore
# memstore only counts bytes against this; the default 1 GiB would fill up in size tests
memstore device bytes = 17179869184
osd pool default size = 1
osd pool default min size = 1
mon allow pool size one = true
mon warn on pool no redundancy = false
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
# without these two the OSD dies with "wrong fsid" on this setup
osd crush update on start = false
osd class update on start = false
mon data avail crit = 0
mon data avail warn = 0
mon allow pool delete = true
# radosgw creates its pools one by one, each waiting for a map commit: 1 s by default
paxos propose interval = 0.05
paxos min wait = 0.01

[client.rgw]
rgw frontends = beast endpoint=127.0.0.1:${p.rgwPort}
rgw data = ${d}/rgw
`;
}

type Daemon = { name: string; pid: number; logFile: string; exited: string | undefined; exit: Promise<void> };

function spawnDaemon(cmd: string, args: string[], logFile: string, opts: StartS3ServerOptions): Daemon {
  const out = openSync(`${logFile}.stdout`, 'a');
  // setpriv --pdeathsig ties the daemon's life to ours; it execs, so the PID stays the daemon's.
  const [file, argv] =
    !opts.outliveProcess && commandExists('setpriv') ? ['setpriv', ['--pdeathsig', 'KILL', '--', cmd, ...args]] : [cmd, args];
  try {
    const child = spawn(file, argv, { detached: true, stdio: ['ignore', out, out] });
    if (child.pid === undefined) throw new S3ServerError(`could not start ${cmd}`);
    let exited = () => {};
    const exit = new Promise<void>((resolveExit) => (exited = resolveExit));
    const daemon: Daemon = { name: cmd, pid: child.pid, logFile, exited: undefined, exit };
    child.on('error', (error) => {
      daemon.exited = error.message;
      exited();
    });
    child.on('exit', (code, signal) => {
      daemon.exited = `exited with ${signal ?? `code ${code}`}`;
      exited();
    });
    child.unref();
    return daemon;
  } finally {
    closeSync(out);
  }
}

const exitHooks = new Set<S3ServerInfo>();
let exitHookInstalled = false;

function killOnExit(info: S3ServerInfo): void {
  exitHooks.add(info);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const server of exitHooks) {
      for (const pid of server.pids) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      rmSync(server.dir, { recursive: true, force: true });
    }
  });
}

/** Retries `fn` until it succeeds, the deadline passes, or a daemon dies (at once, mid-attempt). */
async function retry<T>(deadline: number, daemons: Daemon[], fn: () => Promise<T>, pauseMs = 250): Promise<T> {
  const death = Promise.race(daemons.map((d) => d.exit)).then((): never => {
    const dead = daemons.find((d) => d.exited !== undefined);
    // stdout/stderr only matter when the daemon died before it could write its log.
    const logged = dead === undefined ? '' : logTail(dead.logFile) || logTail(`${dead.logFile}.stdout`);
    throw new S3ServerError(`${dead?.name} ${dead?.exited}${logged}`);
  });
  death.catch(() => {});
  for (let attempt = 1; ; attempt++) {
    try {
      return await Promise.race([fn(), death]);
    } catch (error) {
      if (daemons.some((d) => d.exited !== undefined)) await death;
      if (Date.now() + pauseMs >= deadline) {
        throw new S3ServerError(`timed out after ${attempt} attempts; last error: ${errorText(error)}`, { cause: error });
      }
      await Promise.race([new Promise((r) => setTimeout(r, pauseMs)), death]);
    }
  }
}

async function listBuckets(info: S3ServerInfo): Promise<void> {
  const client = new S3Client({
    endpoint: info.endpoint,
    region: info.region,
    forcePathStyle: true,
    credentials: { accessKeyId: info.accessKeyId, secretAccessKey: info.secretAccessKey },
    maxAttempts: 1,
  });
  try {
    await client.send(new ListBucketsCommand({}), { abortSignal: AbortSignal.timeout(5_000) });
  } finally {
    client.destroy();
  }
}

function run(
  cmd: string,
  args: string[],
  opts: { timeoutMs: number; env?: NodeJS.ProcessEnv; signal?: AbortSignal },
): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    execFile(
      cmd,
      args,
      {
        timeout: opts.timeoutMs,
        killSignal: 'SIGKILL',
        maxBuffer: 64 * 1024 * 1024,
        env: opts.env ?? process.env,
        ...(opts.signal && { signal: opts.signal }),
      },
      (error, stdout, stderr) => {
        if (!error) return resolvePromise(stdout);
        const why = error.killed ? `timed out after ${opts.timeoutMs} ms` : `exit ${error.code ?? error.signal}`;
        reject(new S3ServerError(`${cmd} ${args.join(' ')}: ${why}\n${tail(`${stderr}${stdout}`, 15)}`));
      },
    );
  });
}

function freePort(): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address !== null ? resolvePromise(address.port) : reject(new Error('no port')),
      );
    });
  });
}

function randomKey(length: number, alphabet: string): string {
  // 256 is not a multiple of the alphabet sizes; the slight bias is irrelevant for test keys.
  return [...randomBytes(length)].map((b) => alphabet[b % alphabet.length]).join('');
}

/** Whether `binary` is on PATH (or in the sbin folders root's PATH has). */
export function commandExists(binary: string): boolean {
  const dirs = (process.env['PATH'] ?? '').split(delimiter).filter(Boolean);
  return [...dirs, '/usr/sbin', '/sbin', '/usr/bin'].some((d) => existsSync(join(d, binary)));
}

function belongsTo(pid: number, dir: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dir);
  } catch {
    // No /proc (not Linux): trust the PID; gone: nothing to kill.
    return !existsSync('/proc/self');
  }
}

async function waitGone(pid: number, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    // A SIGKILLed child of ours stays a zombie until reaped; it holds no ports or memory.
    if (isZombie(pid)) return;
    await new Promise((r) => setTimeout(r, 20));
  }
}

function isZombie(pid: number): boolean {
  try {
    return /\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The last lines of a Ceph log or stderr, without crash dumps' backtrace and log-level table. */
function tail(text: string, lines: number): string {
  const noise = /^\s*(\d+: |-?\d+\/\s*-?\d+ |--- pthread|\s*\d+ \/ )/;
  return text
    .trimEnd()
    .split('\n')
    .filter((line) => !noise.test(line))
    .slice(-lines)
    .join('\n');
}

function logTail(file: string, lines = 25): string {
  try {
    const text = readFileSync(file, 'utf8');
    return text.trim() === '' ? '' : `\n--- last lines of ${file} ---\n${tail(text, lines)}`;
  } catch {
    return '';
  }
}

// ---------------------------------------------------------------------------------------------
// CLI

const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');

function stateFileFrom(argv: string[]): string {
  const i = argv.indexOf('--state');
  const value = i >= 0 ? argv[i + 1] : undefined;
  if (i >= 0 && value === undefined) throw new S3ServerError('--state needs a file name');
  return value ?? join(projectRoot, '.tmp', 's3-server.json');
}

async function readState(file: string): Promise<S3ServerInfo> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    throw new S3ServerError(`no S3 server state at ${file}; run: tsx scripts/s3-server.ts start`);
  }
  const state = JSON.parse(text) as S3ServerInfo;
  if (typeof state.endpoint !== 'string' || !Array.isArray(state.pids)) {
    throw new S3ServerError(`${file} is not an S3 server state file`);
  }
  return state;
}

function envLines(info: S3ServerInfo): string {
  return [
    `export AWS_ACCESS_KEY_ID=${info.accessKeyId}`,
    `export AWS_SECRET_ACCESS_KEY=${info.secretAccessKey}`,
    `export AWS_ENDPOINT_URL_S3=${info.endpoint}`,
    `export AWS_REGION=${info.region}`,
  ].join('\n');
}

async function main(argv: string[]): Promise<void> {
  // The SDK is pinned on purpose (s3-test-server.md); its Node 22 notice is noise here.
  process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';
  const [command] = argv;
  const stateFile = stateFileFrom(argv);
  switch (command) {
    case 'start': {
      if (existsSync(stateFile)) {
        const old = await readState(stateFile);
        if (old.pids.some((pid) => belongsTo(pid, old.dir) && !isZombie(pid))) {
          throw new S3ServerError(`an S3 server from ${stateFile} is still running at ${old.endpoint}; stop it first`);
        }
      }
      await ensureSystemPackages(S3_SERVER_PACKAGES);
      const info = await startS3Server({ outliveProcess: true, log: (line) => console.error(line) });
      await mkdir(dirname(stateFile), { recursive: true });
      const handle = await open(stateFile, 'w', 0o600);
      await handle.writeFile(`${JSON.stringify(info, null, 2)}\n`);
      await handle.close();
      console.log(`S3 endpoint:       ${info.endpoint}`);
      console.log(`access key id:     ${info.accessKeyId}`);
      console.log(`secret access key: ${info.secretAccessKey}`);
      console.log(`state file:        ${stateFile}`);
      return;
    }
    case 'stop': {
      const info = await readState(stateFile);
      await stopS3Server(info);
      await rm(stateFile, { force: true });
      console.log(`stopped S3 server at ${info.endpoint}`);
      return;
    }
    case 'env':
      console.log(envLines(await readState(stateFile)));
      return;
    default:
      throw new S3ServerError('usage: tsx scripts/s3-server.ts start|stop|env [--state FILE]');
  }
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error instanceof S3ServerError ? `s3-server: ${error.message}` : error);
      process.exit(error instanceof S3ServerError ? 2 : 1);
    },
  );
}
