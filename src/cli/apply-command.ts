import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { systemClock } from '../clock.js';
import { ConfigError, PlanFileError, SourceError } from '../errors.js';
import { executePlan } from '../executor/executor.js';
import { countStatuses, followTasks } from '../executor/follow.js';
import { checkMetadataSize, parseDuration, parseMetadataJson, parseMetadataPairs } from '../executor/metadata.js';
import type { ExecuteResult } from '../executor/types.js';
import type { Logger } from '../log.js';
import { S3Source, createS3Client, resolveS3Settings } from '../sources/s3.js';
import { formatBytes, objectUri, type PlanItem } from '../planner/index.js';
import { fetchChunkPut } from '../twelvelabs/chunk-put.js';
import { ENDED, NOT_CREATED, NOT_SUBMITTED, StateStore, checkPlanItems, failureStage, openPlanFile, statusIn, type ItemState, type RunRecord } from '../state/index.js';
import { VideoMinutePacer } from '../twelvelabs/minutes.js';
import { PacerSet } from '../twelvelabs/pacers.js';
import { stopAtGates } from '../twelvelabs/stop-gate.js';
import { estimateEtaSeconds, formatEta, localTime, quotaWaitLine } from '../report/eta.js';
import { connectIndex, createApiClient, resolveBaseUrl } from './config.js';
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

/** Failed items of the plan, in the words status and logs use too. */
export interface FailureCounts {
  /** Sent (or tried) by this run, or followed by its --wait, and failed. */
  platform: number;
  /** Failed in earlier runs and still failed. */
  earlier: number;
  /** The plan found them unfit: never sent, and they do not change the exit code. */
  preflight: number;
  /** Of platform + earlier: the source object changed or vanished since the plan. */
  sourceGone: number;
}

export interface ApplyOutcome {
  failures: FailureCounts;
  result: ExecuteResult;
  counts: Record<string, number>;
  exitCode: number;
  runId: string;
  message: string;
}

/** Validates everything that can be checked before a single task is created. */
export async function prepareApply(args: ApplyArgs) {
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
  await checkPlanItems(plan, args.plan);
  await requireDurations(args, plan.items(), args.plan);
  const planVia = plan.header.options.via ?? 'tasks';
  if (args.via !== undefined && args.via !== planVia) {
    throw new ConfigError('via_mismatch', `plan ${args.plan} was made for --via ${planVia}, not --via ${args.via}: re-plan with tlmigrate plan --via ${args.via}`);
  }
  return { presignSeconds, metadata, plan, via: planVia, reconcileMinAgeMs: args.reconcileMinAgeMs };
}

/** Apply: one task per upload item of the plan, exactly once, checkpointed, resumable. */
export async function runApply(args: ApplyArgs, env: NodeJS.ProcessEnv, log: Logger, progress: Progress, stop: AbortSignal): Promise<ApplyOutcome> {
  const { presignSeconds: requestedExpiry, metadata, plan, via, reconcileMinAgeMs } = await prepareApply(args);
  const { header } = plan;
  const clock = systemClock;
  let throttles = 0;
  const minutes = new VideoMinutePacer({
    clock,
    perHour: args.maxVideoMinutesPerHour,
    perDay: args.maxVideoMinutesPerDay,
    onWait: (until, why) => log.info({ until: new Date(until).toISOString(), why }, `video minutes: creates wait until ${new Date(until).toISOString()}`),
  });
  const pacer = new PacerSet({ clock, maxRpm: args.maxRpm, minutes, onThrottle: (category, ms) => log.warn({ pauseMs: ms, category }, `rate limited (429): ${category} requests pause`) });
  const apiUrl = resolveBaseUrl(args.apiUrl, env);
  // Ctrl-C ends every wait for the rate limiter: what waits is never sent, what is on the wire finishes.
  const gate = stopAtGates(pacer, stop);
  const api = createApiClient({ apiUrl, env, gate, timeoutMs: args.requestTimeoutMs });
  const index = await connectIndex(api, header.indexId, apiUrl, stop);
  const s3 = createS3Client(resolveS3Settings({ endpoint: args.s3Endpoint, region: args.s3Region, connectTimeoutMs: args.s3ConnectTimeoutMs, requestTimeoutMs: args.s3RequestTimeoutMs }, env));
  const source = new S3Source(s3, header.source.bucket);
  // Wrong credentials or a missing bucket stop the run here, not as one access-denied failure per item.
  // Apply itself needs s3:GetObject only, so a listing that is merely denied is no reason to stop.
  await source.checkAccess(header.source.prefix, stop).catch((error: unknown) => {
    if (!(error instanceof SourceError && error.code === 'access_denied')) throw error;
  });
  const presignSeconds = await capExpiryToSession(s3, requestedExpiry, log);

  const store = await StateStore.open(
    args.state,
    { uri: header.source.uri, bucket: header.source.bucket, prefix: header.source.prefix, indexId: header.indexId, indexName: index.index_name },
    `apply ${args.plan}`,
    `tlmigrate ${VERSION}`,
  );
  const runId = randomUUID();
  const wallStarted = performance.now();
  const run: RunRecord = {
    runId,
    command: 'apply',
    pid: process.pid,
    startedAt: new Date().toISOString(),
    endedAt: null,
    planId: header.planId,
    plan: resolve(args.plan),
    counters: { submitted: 0, failed: 0, reconciled: 0, retries: 0, throttled: 0 },
  };
  // A run refused before it started (a stale plan, say) leaves no entry in the runs history.
  let started = false;
  try {
    const last = store.lastPlan;
    if (last && last.planId !== header.planId && last.createdAt > header.createdAt) {
      throw new PlanFileError('plan_stale', `plan ${args.plan} (created ${header.createdAt}) is older than the plan last applied to ${args.state} (created ${last.createdAt}): re-run tlmigrate plan`);
    }
    if (header.planId) await store.setLastPlan({ planId: header.planId, createdAt: header.createdAt });
    const durations = new Map<string, number>();
    const { uris, uploads, preflight } = await mergePlan(store, plan.items(), header.source.bucket, args.retryFailed, durations);
    const working = new Set(uris);
    const failedBefore = new Set(uploads.filter((uri) => store.item(uri)?.status === 'failed'));
    await store.setRun(run);
    started = true;
    const writesAtStart = store.stats.journalWrites;
    log.info({ runId, items: uris.length, plan: args.plan }, 'apply started');

    const total = uris.length;
    let done = 0;
    let failed = 0;
    let streamed = 0;
    const startedAt = Date.now();
    const quotaWaits: { until: number; waitedMs: number; doneAtLast: number; window?: { items: number; ms: number } } = { until: 0, waitedMs: 0, doneAtLast: 0 };
    const show = () => {
      const now = Date.now();
      const waiting = quotaWaits.until > now;
      // Time spent waiting for quota is not the run's pace: the rate counts the rest.
      const working = Math.max(now - startedAt - quotaWaits.waitedMs + (waiting ? quotaWaits.until - now : 0), 1) / 1000;
      const rate = done / working;
      const eta = estimateEtaSeconds({ now, remaining: total - done - failed, perSecond: rate, waitUntil: waiting ? quotaWaits.until : minutes.heldUntil, quotaWindow: quotaWaits.window });
      const held = minutes.heldUntil;
      const tail = waiting ? `, ${quotaWaitLine(quotaWaits.until, now)}` : held !== undefined ? `, video minutes: creates wait until ${localTime(held)}` : '';
      progress.update(`apply: ${done}/${total} submitted, ${failed} failed, ${(rate * 60).toFixed(0)}/min, ETA ${formatEta(eta)}, 429s ${throttles}${bytesNote(streamed, working)}${tail}${rateLimitNote(gate.waiting)}`);
    };
    // A wait of hours, or for the rate limiter, sends no event: the line still counts down and says so.
    const ticker = setInterval(show, 1000);
    ticker.unref();
    const result = await executePlan({
      api,
      assetsApi: api,
      // A chunk PUT carries up to a chunk (MBs): it gets the request timeout at least, never less than 10 min.
      multipart: { api, put: fetchChunkPut({ timeoutMs: Math.max(args.requestTimeoutMs, 600_000) }) },
      via,
      source,
      store,
      clock,
      indexId: header.indexId,
      bucket: header.source.bucket,
      runId,
      uris,
      concurrency: args.concurrency,
      presignExpiresSeconds: presignSeconds,
      enableVideoStream: args.videoStream,
      userMetadata: metadata,
      reconcileLagMs: args.reconcileLagMs,
      reconcileMinAgeMs,
      recorded: uploads.filter((uri) => !working.has(uri)),
      stop,
      waitForQuota: args.waitForQuota,
      onQuotaWait: async (wait) => {
        const until = Date.parse(wait.until);
        quotaWaits.waitedMs += Math.max(0, until - Date.parse(wait.at));
        // From the second wait on, the window between two resets is known: the ETA counts the windows left.
        if (quotaWaits.until > 0) quotaWaits.window = { items: done - quotaWaits.doneAtLast, ms: until - quotaWaits.until };
        quotaWaits.doneAtLast = done;
        quotaWaits.until = until;
        run.waits = [...(run.waits ?? []), wait];
        await store.setRun(run);
        log.warn({ until: wait.until, reason: wait.reason }, quotaWaitLine(until, Date.now()));
      },
      budget: { maxItems: args.maxItems, maxVideoSeconds: args.maxVideoHours === undefined ? undefined : args.maxVideoHours * 3600 },
      deadline: runDeadline(args, startedAt),
      durations,
      minutes,
      onEvent: (event) => {
        if (event.type === 'submitted') done += 1;
        if (event.type === 'failed') failed += 1;
        if (event.type === 'throttled') throttles += 1;
        if (event.type === 'bytes') streamed += event.bytes;
        if (event.type === 'census') progress.update(`index read: ${event.checked} items checked against it`);
        if (event.type === 'failed' || event.type === 'reconciled' || event.type === 'quota' || event.type === 'found') log.info(event, event.type);
        else log.debug(event, event.type);
        show();
      },
    }).finally(() => clearInterval(ticker));
    progress.done();
    run.counters = { submitted: result.submitted, failed: result.failed, reconciled: result.reconciled, retries: result.retries, throttled: result.throttled };
    if (result.bytesStreamed) run.bytesStreamed = result.bytesStreamed;
    const quiet = store.stats.journalWrites === writesAtStart && isEmpty(result);
    await store.setRun(run);
    const writesBeforeWait = store.stats.journalWrites;

    let counts = countStatuses(store);
    if (args.wait && !result.interrupted && !result.quota && !result.budget) {
      counts = await followTasks({
        api,
        via,
        store,
        clock,
        indexId: header.indexId,
        pollMs: args.pollMs,
        signal: stop,
        onProgress: (c) => progress.update(`wait: ${Object.entries(c).map(([k, v]) => `${k} ${v}`).join(', ')}`),
      }).catch((error: unknown) => {
        if (stop.aborted) return countStatuses(store);
        throw error;
      });
      progress.done();
    }
    const interrupted = result.interrupted || stop.aborted;
    // The exit code speaks for the plan, not for this run alone: killed and resumed, or run in one go, the same plan ends the same way.
    const failures = countFailures(store, uploads, preflight, failedBefore);
    const notReady = args.wait ? uploads.filter((uri) => !statusIn(ENDED, store.item(uri)?.status ?? 'ready')).length : 0;
    run.outcome = interrupted ? 'interrupted' : result.quota ? 'quota' : result.budget ? 'budget' : failures.platform > 0 || result.pending > 0 ? 'failed_items' : 'completed';
    const leftItems = planItemsLeft(store, uploads);
    const left = { items: leftItems.length, ...(durations.size ? { videoSeconds: leftItems.reduce((sum, uri) => sum + (durations.get(uri) ?? 0), 0) } : {}) };
    if (result.budget) run.budget = { reason: result.budget.reason, used: result.used ?? { items: 0, videoSeconds: 0 }, left };
    run.endedAt = new Date().toISOString();
    // A run that found nothing to do leaves no empty entry in the runs history.
    if (run.outcome === 'completed' && quiet && store.stats.journalWrites === writesBeforeWait) await store.forgetRun(runId);
    else await store.setRun(run);
    const failedAny = failures.platform + failures.earlier > 0;
    const exitCode = interrupted ? 130 : result.quota ? 1 : result.budget ? (failedAny ? 1 : 0) : failedAny || result.pending > 0 || notReady > 0 ? 1 : 0;
    const message = outcomeMessage({ args, result, failures, interrupted, left, waits: run.waits });
    return { result, counts, exitCode, runId, message, failures };
  } catch (error) {
    if (started) {
      run.outcome = stop.aborted ? 'interrupted' : 'error';
      run.endedAt = new Date().toISOString();
      await store.setRun(run).catch(() => undefined);
    }
    throw error;
  } finally {
    await store.close();
    log.info(
      { runId, wallMs: Math.round(performance.now() - wallStarted), stateWriteMs: Math.round(store.stats.writeMs), ...store.stats, pacer: pacer.stats, videoMinutes: minutes.stats },
      'apply finished',
    );
  }
}

/**
 * Brings the plan's items into the state: new upload items become `planned`; skips and preflight
 * failures are recorded for status; items already in flight or done are left alone. Returns the
 * URIs the executor should work on, in plan order, and every upload item of the plan (for the exit code).
 */
async function mergePlan(
  store: StateStore,
  items: AsyncIterable<PlanItem>,
  bucket: string,
  retryFailed: boolean,
  durations: Map<string, number>,
): Promise<{ uris: string[]; uploads: string[]; preflight: string[] }> {
  const uris: string[] = [];
  const uploads: string[] = [];
  const preflight: string[] = [];
  const now = new Date().toISOString();
  const seen = new Set<string>();
  for await (const item of items) {
    const uri = objectUri(bucket, item.key);
    if (item.probe?.durationSeconds !== undefined) durations.set(uri, item.probe.durationSeconds);
    // checkPlanItems refused repeated keys; a file changed since is still never worked on twice.
    if (seen.has(uri)) continue;
    seen.add(uri);
    const current = store.item(uri);
    const sameObject = current && current.etag === item.etag && current.size === item.size;
    // A re-plan calls an item left mid-step `in_progress`: this run still finishes it (its search, its index step).
    if (item.action === 'skip' && item.reason === 'in_progress' && current && sameObject && NOT_SUBMITTED.has(current.status) && current.status !== 'planned') {
      uploads.push(uri);
      uris.push(uri);
      continue;
    }
    if (item.action === 'upload') {
      uploads.push(uri);
      if (current && sameObject && current.status !== 'skipped') {
        // A re-plan may move an object not started yet to (or from) a multipart upload.
        if (current.status === 'planned' && current.method !== item.method) await store.setItem(uri, { method: item.method });
        if (current.status === 'failed' && retryFailed) {
          await store.setItem(uri, { status: 'planned', lastError: null });
          uris.push(uri);
        } else if (NOT_SUBMITTED.has(current.status)) uris.push(uri);
        continue;
      }
      await store.setItem(uri, newItem(item, 'planned', now));
      uris.push(uri);
      continue;
    }
    if (item.action === 'fail') preflight.push(uri);
    if (await recordSkipOrFailure(store, uri, item, current, retryFailed, now)) uris.push(uri);
  }
  await store.checkpoint();
  return { uris, uploads, preflight };
}

/**
 * A skip or a preflight failure of the plan, recorded for status unless the state knows better (a
 * task of it exists). True when this run works on it after all: `--retry-failed` of a failure.
 */
async function recordSkipOrFailure(store: StateStore, uri: string, item: PlanItem, current: ItemState | undefined, retryFailed: boolean, now: string): Promise<boolean> {
  if (!current || current.status === 'skipped' || (current.status === 'failed' && !current.taskId)) {
    if (item.action === 'fail' && retryFailed && current?.status === 'failed' && current.lastError?.code === item.reason && item.match?.by === 'ledger') {
      await store.setItem(uri, { status: 'planned', lastError: null });
      return true;
    }
    if (item.action === 'fail' && item.match?.by === 'ledger') return false;
    await store.setItem(uri, {
      ...newItem(item, item.action === 'fail' ? 'failed' : item.reason === 'indexed' ? 'ready' : 'skipped', now),
      reason: item.reason,
      ...(item.match?.videoId ? { videoId: item.match.videoId } : {}),
      ...(item.action === 'fail' ? { lastError: { code: item.reason ?? 'preflight_failed', message: item.detail ?? 'failed preflight', at: now } } : {}),
    });
    return false;
  }
  if (item.action === 'fail' && retryFailed && current.status === 'failed') {
    await store.setItem(uri, { status: 'planned', lastError: null });
    return true;
  }
  return false;
}

/** Upload items of the plan not created yet: what a budget leaves for the next run. */
function planItemsLeft(store: StateStore, uploads: string[]): string[] {
  return uploads.filter((uri) => statusIn(NOT_CREATED, store.item(uri)?.status));
}

function newItem(item: PlanItem, status: ItemState['status'], now: string): ItemState {
  return { key: item.key, size: item.size, etag: item.etag, ...(item.sha256 ? { sha256: item.sha256 } : {}), ...(item.method ? { method: item.method } : {}), status, attempts: 0, updatedAt: now };
}

/** `, 1.2 GB streamed at 85.0 MB/s` once multipart chunks moved. */
function bytesNote(bytes: number, seconds: number): string {
  return bytes > 0 ? `, ${formatBytes(bytes)} streamed at ${formatBytes(bytes / seconds)}/s` : '';
}

/** `, 3 requests waiting for the rate limit` while some have waited their turn for a while. */
function rateLimitNote(waiting: number): string {
  return waiting > 0 ? `, ${waiting} ${plural(waiting, 'request', 'requests')} waiting for the rate limit` : '';
}

/** The plan's failed items by where they failed: this run, earlier runs, or the plan's preflight. */
function countFailures(store: StateStore, uploads: readonly string[], preflight: readonly string[], failedBefore: ReadonlySet<string>): FailureCounts {
  const failed = (uri: string) => store.item(uri)?.status === 'failed';
  const uploadFailed = uploads.filter(failed);
  const gone = (uri: string) => ['source_missing', 'source_changed'].includes(store.item(uri)?.lastError?.code ?? '');
  return {
    platform: uploadFailed.filter((uri) => !failedBefore.has(uri)).length,
    earlier: uploadFailed.filter((uri) => failedBefore.has(uri)).length,
    preflight: preflight.filter((uri) => failed(uri) && failureStage(store.item(uri) ?? {}) === 'preflight').length,
    sourceGone: uploadFailed.filter(gone).length,
  };
}

/** Nothing sent, found, failed or retried. */
function isEmpty(r: ExecuteResult): boolean {
  return r.submitted + r.failed + r.reconciled + r.foundInIndex + r.duplicates + r.gone + r.pending + r.undecided + r.retries + r.throttled === 0 && !r.interrupted && !r.quota;
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
