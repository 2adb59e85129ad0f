import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { systemClock } from '../clock.js';
import { ConfigError, SourceError } from '../errors.js';
import { applyPlanRun, type ApplyRunResult, type FailureCounts, type RunSettings } from '../executor/apply.js';
import { checkMetadataSize, parseDuration, parseMetadataJson, parseMetadataPairs } from '../executor/metadata.js';
import type { ExecuteResult, ExecutorEvent, QuotaWait } from '../executor/types.js';
import type { Logger } from '../log.js';
import { S3Source, createS3Client, resolveS3Settings } from '../sources/s3.js';
import { formatBytes } from '../planner/index.js';
import { httpChunkPut } from '../twelvelabs/chunk-put.js';
import { checkPlanItems, openPlanFile, openRunStore, type RunRecord } from '../state/index.js';
import { VideoMinutePacer } from '../twelvelabs/minutes.js';
import { PacerSet } from '../twelvelabs/pacers.js';
import { stopAtGates } from '../twelvelabs/stop-gate.js';
import { estimateEtaSeconds, formatEta, localTime, quotaWaitLine } from '../report/eta.js';
import { connectIndex, createApiClient, resolveBaseUrl, type CommandDeps } from './config.js';
import { commandPath, formatCommand, stateFlag } from './shell.js';
import type { Progress } from './progress.js';
import { VERSION } from './version.js';
import { budgetLine, requireDurations, runDeadline, waitsLine, type UnattendedArgs } from './unattended.js';

export const MAX_PRESIGN_SECONDS = 7 * 86400;
/** Below this, a listing that lags could still hide the task of a POST whose answer was lost. */
export const MIN_RECONCILE_AGE_SECONDS = 30;

export interface ApplyArgs extends UnattendedArgs {
  plan: string;
  state: string;
  concurrency: number;
  maxRpm?: number | undefined;
  metadata: string[];
  metadataJson?: string | undefined;
  videoStream: boolean;
  presignExpires: string;
  wait: boolean;
  retryFailed: boolean;
  /** Must match the plan's path when given. */
  via?: 'tasks' | 'assets' | undefined;
  apiUrl?: string | undefined;
  s3Endpoint?: string | undefined;
  s3Region?: string | undefined;
  s3ConnectTimeoutMs?: number | undefined;
  s3RequestTimeoutMs?: number | undefined;
  requestTimeoutMs: number;
  pollMs: number;
  reconcileLagMs: number;
  /** After a POST whose answer was lost: how long to keep searching before a resubmit is allowed (--reconcile-min-age, at least 30 s). */
  reconcileMinAgeMs: number;
}

export type { FailureCounts } from '../executor/apply.js';

export interface ApplyOutcome extends ApplyRunResult {
  /** The lines apply prints at the end. */
  message: string;
}

/** Validates everything that can be checked before a single task is created. */
export async function prepareApply(args: ApplyArgs, progress?: Progress) {
  if (!Number.isInteger(args.concurrency) || args.concurrency < 1 || args.concurrency > 64) {
    throw new ConfigError('concurrency_invalid', `--concurrency ${args.concurrency} is out of range: use a whole number from 1 to 64`);
  }
  if (args.maxRpm !== undefined && (!Number.isFinite(args.maxRpm) || args.maxRpm <= 0)) {
    throw new ConfigError('max_rpm_invalid', `--max-rpm ${args.maxRpm} must be a positive number of requests per minute`);
  }
  const presignSeconds = parseDuration(args.presignExpires, '--presign-expires');
  if (presignSeconds < 60 || presignSeconds > MAX_PRESIGN_SECONDS) {
    throw new ConfigError('presign_expires_invalid', `--presign-expires ${args.presignExpires} is out of range: S3 presigned URLs last 1m to 7d (e.g. 6h)`);
  }
  let metadata = parseMetadataPairs(args.metadata);
  if (args.metadataJson) {
    const text = await readFile(args.metadataJson, 'utf8').catch((error: NodeJS.ErrnoException) => {
      throw new ConfigError('metadata_invalid', `--metadata-json ${args.metadataJson}: cannot read it (${error.code}): check the path`);
    });
    metadata = { ...parseMetadataJson(text, args.metadataJson), ...metadata };
  }
  checkMetadataSize(metadata);
  // The flag parser refuses less; a caller from code gets the same floor.
  if (!(args.reconcileMinAgeMs >= MIN_RECONCILE_AGE_SECONDS * 1000)) {
    throw new ConfigError('reconcile_min_age_invalid', `reconcileMinAgeMs ${args.reconcileMinAgeMs} is too short: a lost answer's task may take that long to be listed; use 30 s or more (default 2 min)`);
  }
  const plan = await openPlanFile(args.plan);
  await checkPlanItems(plan, args.plan, (n) => progress?.update(`checking the plan: ${n.toLocaleString('en-US')} of ${plan.summary.total.toLocaleString('en-US')} items`));
  await requireDurations(args, plan.items(), args.plan);
  const planVia = plan.header.options.via ?? 'tasks';
  if (args.via !== undefined && args.via !== planVia) {
    throw new ConfigError('via_mismatch', `plan ${args.plan} was made for --via ${planVia}, not --via ${args.via}: re-plan with tlmigrate plan --via ${args.via}`);
  }
  return { presignSeconds, metadata, plan, via: planVia, reconcileMinAgeMs: args.reconcileMinAgeMs };
}

/** Apply: builds the clients and the pacing, opens the state, and runs the apply use case with a progress line. */
export async function runApply(args: ApplyArgs, deps: CommandDeps): Promise<ApplyOutcome> {
  const prepared = await prepareApply(args, deps.progress);
  const { header } = prepared.plan;
  const { log, stop } = deps;
  const wired = await wireApply(args, header.indexId, header.source, deps);
  // Temporary credentials: warned of once; each URL's expiry is capped when it is signed.
  await capExpiryToSession(wired.s3, prepared.presignSeconds, log);
  // Past PARTS_THRESHOLD items a new state is written in parts (docs/architecture.md, "The state at scale").
  const store = await openRunStore(
    args.state,
    { uri: header.source.uri, bucket: header.source.bucket, prefix: header.source.prefix, indexId: header.indexId, indexName: wired.indexName },
    `apply ${args.plan}`,
    `tlmigrate ${VERSION}`,
    { planItems: prepared.plan.summary.total, ...partsSettings(deps.env) },
  );
  const wallStarted = performance.now();
  const runId = randomUUID();
  const line = new ApplyProgress(deps.progress, wired.minutes, wired.gate);
  // A wait of hours, or for the rate limiter, sends no event: the line still counts down and says so.
  const ticker = setInterval(() => line.show(), 1000);
  ticker.unref();
  try {
    const outcome = await applyPlanRun({
      plan: prepared.plan,
      planPath: args.plan,
      statePath: args.state,
      store,
      runId,
      retryFailed: args.retryFailed,
      stop,
      settings: runSettings(args, prepared, wired, (event) => line.event(event, log)),
      onMerging: (n, total) => deps.progress.update(`merging the plan into the state: ${n.toLocaleString('en-US')} of ${total.toLocaleString('en-US')} items`),
      onStarted: (id, items) => {
        line.start(items);
        log.info({ runId: id, items, plan: args.plan }, 'apply started');
      },
      onQuotaWait: (wait) => line.quotaWait(wait, log),
      onExecuted: () => {
        clearInterval(ticker);
        deps.progress.done();
      },
      wait: args.wait ? { api: wired.api, pollMs: args.pollMs, onProgress: (c) => deps.progress.update(`wait: ${Object.entries(c).map(([k, v]) => `${k} ${v}`).join(', ')}`) } : undefined,
    });
    deps.progress.done();
    // Assigned, not spread: a spread would build the per-item results, which only a library caller reads.
    return Object.assign(outcome, { message: outcomeMessage({ args, result: outcome.result, failures: outcome.failures, interrupted: outcome.outcome === 'interrupted', left: outcome.left, waits: outcome.waits }) });
  } finally {
    clearInterval(ticker);
    await store.close();
    const stats = { stateWriteMs: Math.round(store.stats.writeMs), ...store.stats, pacer: wired.pacer.stats, videoMinutes: wired.minutes.stats };
    log.info({ runId, wallMs: Math.round(performance.now() - wallStarted), ...stats }, 'apply finished');
  }
}

/**
 * `TLMIGRATE_PARTS_THRESHOLD` (plan items past which a new state is kept in parts, default 100,000)
 * and `TLMIGRATE_PART_SIZE` (items per part, default 10,000): for tests and tuning.
 */
export function partsSettings(env: NodeJS.ProcessEnv): { threshold?: number; partSize?: number } {
  const read = (name: string, min: number): number | undefined => {
    const raw = env[name];
    if (raw === undefined || raw.trim() === '') return undefined;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min) throw new ConfigError('env_invalid', `${name}=${raw} is not a whole number of items from ${min}: fix or unset it`);
    return value;
  };
  const threshold = read('TLMIGRATE_PARTS_THRESHOLD', 0);
  const partSize = read('TLMIGRATE_PART_SIZE', 2);
  return { ...(threshold === undefined ? {} : { threshold }), ...(partSize === undefined ? {} : { partSize }) };
}

type Prepared = Awaited<ReturnType<typeof prepareApply>>;
type Wired = Awaited<ReturnType<typeof wireApply>>;

/** The clients of a run: pacing per limit category, the API behind its gates, the source checked for access. */
async function wireApply(args: ApplyArgs, indexId: string, where: { bucket: string; prefix: string }, deps: CommandDeps) {
  const { log, stop } = deps;
  const clock = systemClock;
  const minutes = new VideoMinutePacer({
    clock,
    perHour: args.maxVideoMinutesPerHour,
    perDay: args.maxVideoMinutesPerDay,
    onWait: (until, why) => log.info({ until: new Date(until).toISOString(), why }, `video minutes: creates wait until ${new Date(until).toISOString()}`),
  });
  const pacer = new PacerSet({ clock, maxRpm: args.maxRpm, minutes, onThrottle: (category, ms) => log.warn({ pauseMs: ms, category }, `rate limited (429): ${category} requests pause`) });
  const apiUrl = resolveBaseUrl(args.apiUrl, deps.env);
  // Ctrl-C ends every wait for the rate limiter: what waits is never sent, what is on the wire finishes.
  const gate = stopAtGates(pacer, stop);
  const api = createApiClient({ apiUrl, env: deps.env, gate, timeoutMs: args.requestTimeoutMs, fetch: deps.fetch });
  const index = await connectIndex(api, indexId, apiUrl, stop);
  const s3 = deps.s3 ?? createS3Client(resolveS3Settings({ endpoint: args.s3Endpoint, region: args.s3Region, connectTimeoutMs: args.s3ConnectTimeoutMs, requestTimeoutMs: args.s3RequestTimeoutMs }, deps.env));
  const source = new S3Source(s3, where.bucket);
  // Wrong credentials or a missing bucket stop the run here, not as one access-denied failure per item.
  // Apply itself needs s3:GetObject only, so a listing that is merely denied is no reason to stop.
  await source.checkAccess(where.prefix, stop).catch((error: unknown) => {
    if (!(error instanceof SourceError && error.code === 'access_denied')) throw error;
  });
  return { clock, minutes, pacer, gate, api, source, s3, indexName: index.index_name };
}

/** The executor's settings from the flags and the wired clients. */
function runSettings(args: ApplyArgs, prepared: Prepared, wired: Wired, onEvent: (event: ExecutorEvent) => void): RunSettings {
  return {
    api: wired.api,
    assetsApi: wired.api,
    // A chunk PUT carries up to a chunk (MBs): it gets the request timeout at least, never less than 10 min.
    multipart: { api: wired.api, put: httpChunkPut({ timeoutMs: Math.max(args.requestTimeoutMs, 600_000) }) },
    via: prepared.via,
    source: wired.source,
    clock: wired.clock,
    concurrency: args.concurrency,
    presignExpiresSeconds: prepared.presignSeconds,
    enableVideoStream: args.videoStream,
    userMetadata: prepared.metadata,
    reconcileLagMs: args.reconcileLagMs,
    reconcileMinAgeMs: prepared.reconcileMinAgeMs,
    waitForQuota: args.waitForQuota,
    budget: { maxItems: args.maxItems, maxVideoSeconds: args.maxVideoHours === undefined ? undefined : args.maxVideoHours * 3600 },
    deadline: runDeadline(args, Date.now()),
    minutes: wired.minutes,
    onEvent,
  };
}

/** The progress line of a run: submitted, failed, rate, ETA, 429s, and what it waits for. */
class ApplyProgress {
  private done = 0;
  private failed = 0;
  private throttles = 0;
  private streamed = 0;
  private total = 0;
  /** When the plan was merged and sending began: the rate counts from there. */
  private startedAt = Date.now();
  private readonly quota: { until: number; waitedMs: number; doneAtLast: number; window?: { items: number; ms: number } } = { until: 0, waitedMs: 0, doneAtLast: 0 };

  constructor(
    private readonly progress: Progress,
    private readonly minutes: VideoMinutePacer,
    private readonly gate: { waiting: number },
  ) {}

  start(items: number): void {
    this.total = items;
    this.startedAt = Date.now();
  }

  event(event: ExecutorEvent, log: Logger): void {
    if (event.type === 'submitted') this.done += 1;
    if (event.type === 'failed') this.failed += 1;
    if (event.type === 'throttled') this.throttles += 1;
    if (event.type === 'bytes') this.streamed += event.bytes;
    if (event.type === 'census') this.progress.update(`index read: ${event.checked} items checked against it`);
    if (event.type === 'failed' || event.type === 'reconciled' || event.type === 'quota' || event.type === 'found') log.info(event, event.type);
    else log.debug(event, event.type);
    this.show();
  }

  quotaWait(wait: QuotaWait, log: Logger): void {
    const until = Date.parse(wait.until);
    const q = this.quota;
    q.waitedMs += Math.max(0, until - Date.parse(wait.at));
    // From the second wait on, the window between two resets is known: the ETA counts the windows left.
    if (q.until > 0) q.window = { items: this.done - q.doneAtLast, ms: until - q.until };
    q.doneAtLast = this.done;
    q.until = until;
    log.warn({ until: wait.until, reason: wait.reason }, quotaWaitLine(until, Date.now()));
  }

  show(): void {
    const now = Date.now();
    const q = this.quota;
    const waiting = q.until > now;
    // Time spent waiting for quota is not the run's pace: the rate counts the rest.
    const working = Math.max(now - this.startedAt - q.waitedMs + (waiting ? q.until - now : 0), 1) / 1000;
    const rate = this.done / working;
    const held = this.minutes.heldUntil;
    const eta = estimateEtaSeconds({ now, remaining: this.total - this.done - this.failed, perSecond: rate, waitUntil: waiting ? q.until : held, quotaWindow: q.window });
    const tail = waiting ? `, ${quotaWaitLine(q.until, now)}` : held !== undefined ? `, video minutes: creates wait until ${localTime(held)}` : '';
    this.progress.update(
      `apply: ${this.done}/${this.total} submitted, ${this.failed} failed, ${(rate * 60).toFixed(0)}/min, ETA ${formatEta(eta)}, 429s ${this.throttles}${bytesNote(this.streamed, working)}${tail}${rateLimitNote(this.gate.waiting)}`,
    );
  }
}

/** `, 1.2 GB streamed at 85.0 MB/s` once multipart chunks moved. */
function bytesNote(bytes: number, seconds: number): string {
  return bytes > 0 ? `, ${formatBytes(bytes)} streamed at ${formatBytes(bytes / seconds)}/s` : '';
}

/** `, 3 requests waiting for the rate limit` while some have waited their turn for a while. */
function rateLimitNote(waiting: number): string {
  return waiting > 0 ? `, ${waiting} ${plural(waiting, 'request', 'requests')} waiting for the rate limit` : '';
}

/** The lines apply prints at the end; every command in them runs as printed: quoted, with this run's plan, state and --wait. */
function outcomeMessage(o: { args: ApplyArgs; result: ExecuteResult; failures: FailureCounts; interrupted: boolean; left: { items: number; videoSeconds?: number }; waits: RunRecord['waits'] }): string {
  const { args, result, failures: f } = o;
  const again = (...extra: string[]) => formatCommand(['tlmigrate', 'apply', commandPath(args.plan), '--state', commandPath(args.state), ...(args.wait ? ['--wait'] : []), ...extra]);
  if (o.interrupted) return `Interrupted: state checkpointed in ${commandPath(args.state)}. Resume with: ${again()}`;
  if (result.budget) return budgetLine(result, o.left, again()) + waitsLine(o.waits);
  if (result.quota) {
    return `Quota or credit exhausted (the platform refused more work): stopped cleanly, the rest left planned${result.quota.resetAt ? `; it resets at ${result.quota.resetAt}` : ''}. Resume then with: ${again()}`;
  }
  const earlier = f.earlier > 0 ? ` (and ${f.earlier} in earlier runs)` : '';
  const preflight = f.preflight > 0 ? `, ${f.preflight} failed in preflight (not sent: the plan found them unfit)` : '';
  const undecided = result.undecided
    ? ` ${result.undecided} ${plural(result.undecided, 'item awaits', 'items await')} a decision (a task of the same file name is in flight and its owner cannot be read yet): nothing was resubmitted; run the same apply again later.`
    : '';
  const failed = f.platform + f.earlier;
  return [
    `Applied: ${result.submitted} submitted (${result.reconciled} found by reconciliation), ${f.platform} failed on the platform${earlier}${preflight}, ${result.pending} not submitted, ${result.throttled} rate-limited ${plural(result.throttled, 'retry', 'retries')}.${result.bytesStreamed ? ` ${formatBytes(result.bytesStreamed)} streamed in parts (multipart).` : ''}${foundLine(result)}${undecided}${waitsLine(o.waits)}`,
    ...(failed + f.preflight > 0 ? [`See failures: ${formatCommand(['tlmigrate', 'logs', ...stateFlag(args.state)])}`] : []),
    ...(f.sourceGone ? [`${f.sourceGone} source ${plural(f.sourceGone, 'object', 'objects')} changed or vanished since the plan: re-plan to pick them up (tlmigrate plan with the same --source and --index)`] : []),
    ...(failed > f.sourceGone ? [`Resubmit the failed ones after fixing them: ${again('--retry-failed')}`] : []),
  ].join('\n');
}

function plural(n: number, one: string, many: string): string {
  return n === 1 ? one : many;
}

/** What the index already held: said so the user knows why nothing (or less) was sent. */
function foundLine(r: ExecuteResult): string {
  const parts = [
    r.foundInIndex ? `${r.foundInIndex} already in the index (found by ${plural(r.foundInIndex, 'its', 'their')} fingerprint, not sent again)` : '',
    r.duplicates ? `${r.duplicates} ${plural(r.duplicates, 'duplicate', 'duplicates')} of content already indexed or in flight under another key (skipped)` : '',
    r.gone ? `${r.gone} whose video was deleted from the index (uploaded again)` : '',
  ].filter(Boolean);
  return parts.length ? ` Index check: ${parts.join(', ')}.` : '';
}

/** Temporary credentials: warn once that URLs die with the session, and cap the expiry to it. */
async function capExpiryToSession(s3: ReturnType<typeof createS3Client>, seconds: number, log: Logger): Promise<number> {
  let credentials;
  try {
    credentials = await s3.config.credentials();
  } catch (error) {
    throw new ConfigError('credentials_missing', 'no AWS credentials found: set AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or run on a role', { cause: error });
  }
  if (!credentials.sessionToken) return seconds;
  const expiration = credentials.expiration?.getTime();
  const left = expiration === undefined ? undefined : Math.floor((expiration - Date.now()) / 1000);
  // S3Source.presignGet caps each URL to the credentials that sign it, which the SDK refreshes: a later URL may live longer than this session.
  process.stderr.write(
    `tlmigrate: warning: the S3 credentials are temporary (session token): presigned URLs stop working when the session ends${left === undefined ? '' : `, in ${Math.round(left / 60)} min; each URL's expiry is capped to the life left to the credentials that sign it`}\n`,
  );
  log.warn({ expiresInSeconds: left === undefined ? seconds : Math.min(seconds, left) }, 'temporary S3 credentials');
  return seconds;
}
