import { SourceError } from '../errors.js';
import { basename, filenameForms, isFingerprintOf, objectUri } from '../planner/index.js';
import type { ItemState } from '../state/index.js';
import { TLM_MARKER } from '../twelvelabs/index-reader.js';
import type { Asset, UserMetadata } from '../twelvelabs/types.js';
import { decide, stageOf, type Candidate } from './decide.js';
import { RECONCILE_SKEW_MS, searchTask, taskFailure, type ReconcileContext } from './search.js';
import { failItem, runStep, type Found, type StepContext, type StepResult } from './exactly-once.js';
import type { AssetsApi, ExecuteOptions } from './types.js';
import type { MultipartUploads } from './multipart.js';
import type { IdSet } from './compact-sets.js';

export interface RouteContext extends StepContext {
  options: ExecuteOptions;
  /** Ids already recorded for other items (tasks, assets, indexed assets): never claimed twice. */
  claimed: IdSet;
  reconcile: ReconcileContext;
}

/** The submit step of the executor: one implementation per upload path, same guarantees. */
export interface UploadRoute {
  /** Moves one item as far as it can go now. */
  submit(uri: string, ctx: RouteContext): Promise<StepResult>;
  /** Work left after the first pass (assets still processing); `schedule` runs `submit` under the run's concurrency. */
  /** Resolves `true` when it stopped waiting: nothing became ready for `assetWaitMs`; those items stay for the next run. */
  drain?(uris: string[], schedule: (uri: string) => Promise<void>, ctx: RouteContext): Promise<boolean>;
}

/** tlmigrate's fingerprint in user_metadata: proves in the index itself what came from where. */
export function fingerprint(bucket: string, item: ItemState, runId: string): Record<string, string | number> {
  return {
    ...TLM_MARKER,
    tlm_source: objectUri(bucket, item.key),
    tlm_etag: item.etag,
    tlm_size: item.size,
    ...(item.sha256 ? { tlm_sha256: item.sha256 } : {}),
    tlm_run: runId,
  };
}

/** A deleted or changed object fails its item (re-plan), without spending a credit. */
export async function checkSource(item: ItemState, ctx: RouteContext): Promise<{ code: string; message: string } | undefined> {
  const { bucket, source } = ctx.options;
  let head;
  try {
    head = await source.head(item.key, ctx.halt.signal);
  } catch (error) {
    if (error instanceof SourceError && error.code === 'access_denied') return { code: 'source_access_denied', message: error.message };
    throw error;
  }
  if (!head) return { code: 'source_missing', message: `${objectUri(bucket, item.key)} no longer exists: re-plan` };
  if (head.etag !== item.etag || head.size !== item.size) {
    return { code: 'source_changed', message: `${objectUri(bucket, item.key)} changed since the plan (ETag ${item.etag} -> ${head.etag}): re-plan` };
  }
  return undefined;
}

/** How long assets may stay processing with none of them moving before the run leaves them to the next one. */
const DEFAULT_ASSET_WAIT_MS = 30 * 60_000;

const awaiting = (item: ItemState, step: string) => (item.status === 'intent' || item.status === 'unknown') && (item.step ?? 'task') === step;
const iso = (ctx: RouteContext) => new Date(ctx.clock.now()).toISOString();

/** The object's presigned GET URL, signed just before its POST, and the user_metadata its video carries. */
async function sendable(uri: string, ctx: RouteContext): Promise<{ item: ItemState; url: string; userMetadata: UserMetadata }> {
  const { options: o } = ctx;
  const item = ctx.store.item(uri) as ItemState;
  const url = await o.source.presignGet(item.key, o.presignExpiresSeconds);
  return { item, url, userMetadata: { ...o.userMetadata, ...fingerprint(o.bucket, item, ctx.runId) } };
}

/** POST /tasks with a presigned URL: one request per video. */
export const tasksRoute: UploadRoute = {
  async submit(uri, ctx) {
    const { options: o, store } = ctx;
    const start = store.item(uri) as ItemState;
    if (start.status !== 'planned' && !awaiting(start, 'task')) return 'done';
    return runStep<{ taskId: string; videoId?: string | undefined; createdAt?: string | undefined }>(
      uri,
      {
        step: 'task',
        resting: 'planned',
        beforeFirstSend: () => checkSource(store.item(uri) as ItemState, ctx),
        send: async () => {
          const { url, userMetadata } = await sendable(uri, ctx);
          const created = await o.api.createTask({ indexId: o.indexId, videoUrl: url, enableVideoStream: o.enableVideoStream, userMetadata });
          return { taskId: created.taskId, videoId: created.videoId };
        },
        find: async (item) => {
          const { decision, tasks } = await searchTask(uri, item, ctx.reconcile);
          if (decision.kind === 'found') {
            const task = tasks.get(decision.candidate.id);
            ctx.claimed.add(decision.candidate.id, uri);
            return { kind: 'found', value: { taskId: decision.candidate.id, videoId: decision.candidate.videoId, createdAt: task?.created_at } };
          }
          if (decision.kind === 'wait') return { kind: 'wait', detail: waitDetail(decision.pending) };
          if (decision.kind === 'failed') return failedCandidates(decision.candidates, (id) => o.api.getTask(id, ctx.halt.signal));
          return { kind: 'absent' };
        },
        commit: async (value, how) => {
          ctx.claimed.add(value.taskId, uri);
          await store.setItem(uri, { status: 'submitted', taskId: value.taskId, videoId: value.videoId, submittedAt: value.createdAt ?? iso(ctx), lastError: null }, { durable: how === 'found' });
          ctx.result.submitted += 1;
          ctx.onEvent?.({ type: 'submitted', uri, taskId: value.taskId });
        },
      },
      ctx,
    );
  },
};

/**
 * POST /assets (method=url) then POST /indexes/{id}/indexed-assets: two steps, each exactly once.
 * Items of method `multipart` get their asset from a multipart upload instead (multipart.ts).
 */
export function assetsRoute(api: AssetsApi, multipart?: MultipartUploads): UploadRoute {
  return {
    async submit(uri, ctx) {
      let item = ctx.store.item(uri) as ItemState;
      if (item.method === 'multipart' && (item.status === 'planned' || awaiting(item, 'session') || item.status === 'asset_uploading')) {
        if (!multipart) {
          await failItem(uri, 'multipart_unavailable', 'this object is planned for a multipart upload, which this run cannot make: apply with tlmigrate, not the library without a multipart client', ctx);
          return 'failed';
        }
        const result = await multipart.submit(uri, ctx);
        if (result !== 'done') return result;
        item = ctx.store.item(uri) as ItemState;
      }
      if (item.status === 'planned' || awaiting(item, 'asset')) {
        const result = await assetStep(api, uri, ctx);
        if (result !== 'done') return result;
        item = ctx.store.item(uri) as ItemState;
      }
      if (item.status === 'asset_ready' || awaiting(item, 'index')) return indexStep(api, uri, ctx);
      return 'done';
    },
    drain: (uris, schedule, ctx) => drainAssets(api, uris, schedule, ctx),
  };
}

function assetStep(api: AssetsApi, uri: string, ctx: RouteContext): Promise<StepResult> {
  const { store } = ctx;
  return runStep<Asset>(
    uri,
    {
      step: 'asset',
      resting: 'planned',
      beforeFirstSend: () => checkSource(store.item(uri) as ItemState, ctx),
      send: async () => {
        const { item, url, userMetadata } = await sendable(uri, ctx);
        return api.createAsset({ url, filename: basename(item.key), userMetadata });
      },
      find: (item) => findAsset(api, uri, item, ctx),
      commit: async (asset, how) => {
        ctx.claimed.add(asset._id, uri);
        const status = asset.status === 'ready' ? 'asset_ready' : 'asset_processing';
        await store.setItem(uri, { status, assetId: asset._id, lastError: null }, { durable: true });
        ctx.onEvent?.({ type: 'asset', uri, assetId: asset._id, status: how });
        if (asset.status === 'failed') await failItem(uri, 'asset_failed', asset.error?.message ?? 'the platform could not process the file', ctx);
      },
    },
    ctx,
  );
}

function indexStep(api: AssetsApi, uri: string, ctx: RouteContext): Promise<StepResult> {
  const { options: o, store } = ctx;
  return runStep<{ indexedAssetId: string }>(
    uri,
    {
      step: 'index',
      resting: 'asset_ready',
      send: async () => {
        const item = store.item(uri) as ItemState;
        return api.createIndexedAsset({ indexId: o.indexId, assetId: item.assetId as string, enableVideoStream: o.enableVideoStream, userMetadata: { ...o.userMetadata, ...fingerprint(o.bucket, item, ctx.runId) } });
      },
      find: async (item) => {
        // One asset per object: any indexed asset of it in this index is ours.
        const page = await api.listIndexedAssetsOfAsset(item.assetId as string, { page: 1, pageLimit: 50 }, ctx.halt.signal);
        let mine;
        for (const s of page.data ?? []) if ((s.index?._id ?? o.indexId) === o.indexId && !(await ctx.claimed.has(s._id))) mine ??= s;
        return mine ? { kind: 'found', value: { indexedAssetId: mine._id } } : { kind: 'absent' };
      },
      commit: async (value, how) => {
        ctx.claimed.add(value.indexedAssetId, uri);
        await store.setItem(uri, { status: 'submitted', indexedAssetId: value.indexedAssetId, videoId: value.indexedAssetId, submittedAt: iso(ctx), lastError: null }, { durable: how === 'found' });
        ctx.result.submitted += 1;
        ctx.onEvent?.({ type: 'submitted', uri, taskId: value.indexedAssetId });
      },
    },
    ctx,
  );
}

/** Polls processing assets 50 at a time (GET /assets?asset_ids=...) and indexes each once ready; true when it gave up waiting. */
async function drainAssets(api: AssetsApi, uris: string[], schedule: (uri: string) => Promise<void>, ctx: RouteContext): Promise<boolean> {
  const pollMs = ctx.options.assetPollMs ?? 2000;
  const waitMs = ctx.options.assetWaitMs ?? DEFAULT_ASSET_WAIT_MS;
  let movedAt = ctx.clock.now();
  for (;;) {
    const waiting = uris.filter((uri) => ctx.store.item(uri)?.status === 'asset_processing');
    if (waiting.length === 0 || ctx.halt.signal.aborted) return false;
    if (ctx.clock.now() - movedAt >= waitMs) return true;
    const { ready, moved } = await pollAssets(api, waiting, ctx);
    if (moved) movedAt = ctx.clock.now();
    await Promise.all(ready.map(schedule));
    if (ready.length === 0) await ctx.clock.sleep(pollMs, ctx.halt.signal).catch(() => undefined);
  }
}

/** One look at the waiting assets: the ones now ready, and whether any became ready or failed. */
async function pollAssets(api: AssetsApi, waiting: string[], ctx: RouteContext): Promise<{ ready: string[]; moved: boolean }> {
  const ready: string[] = [];
  let moved = false;
  for (let i = 0; i < waiting.length; i += 50) {
    const byAsset = new Map(waiting.slice(i, i + 50).map((uri) => [ctx.store.item(uri)?.assetId as string, uri]));
    const page = await api.listAssets({ assetIds: [...byAsset.keys()], page: 1, pageLimit: 50 });
    for (const asset of page.data ?? []) {
      const uri = byAsset.get(asset._id);
      if (!uri) continue;
      if (asset.status === 'ready') {
        await ctx.store.setItem(uri, { status: 'asset_ready' });
        ready.push(uri);
        moved = true;
      } else if (asset.status === 'failed') {
        await failItem(uri, 'asset_failed', asset.error?.message ?? 'the platform could not process the file', ctx);
        moved = true;
      }
    }
  }
  return { ready, moved };
}

/** Finds the asset a lost POST /assets may have created: its file name (either form), created since the intent, our fingerprint. */
async function findAsset(api: AssetsApi, uri: string, item: ItemState, ctx: RouteContext): Promise<Found<Asset>> {
  const forms = filenameForms(item.key);
  const since = Date.parse(item.intentAt ?? item.updatedAt) - RECONCILE_SKEW_MS;
  const found = new Map<string, Asset>();
  for (const filename of forms) {
    for (let page = 1; ; page++) {
      const listed = await api.listAssets({ filename, page, pageLimit: 50 }, ctx.halt.signal);
      for (const asset of listed.data ?? []) found.set(asset._id, asset);
      if (!listed.data?.length || page >= (listed.page_info?.total_page ?? page)) break;
    }
  }
  const candidates: Candidate[] = [];
  for (const asset of found.values()) {
    if (!forms.includes(asset.filename ?? '') || (await ctx.claimed.has(asset._id)) || (asset.created_at !== undefined && Date.parse(asset.created_at) < since)) continue;
    const metadata = asset.user_metadata ?? (await api.getAsset(asset._id, ctx.halt.signal)).user_metadata;
    const stage = asset.status === 'processing' ? 'in_flight' : stageOf(asset.status);
    candidates.push({ id: asset._id, stage, verdict: isFingerprintOf(metadata, uri, item.etag) ? 'ours' : 'other', createdAt: asset.created_at });
  }
  const decision = decide(candidates);
  const asset = decision.kind === 'found' ? found.get(decision.candidate.id) : undefined;
  return asset ? { kind: 'found', value: asset } : { kind: 'absent' };
}

function waitDetail(pending: string[]): string {
  return `a task of this file name whose owner cannot be read yet may be this object's (${pending.join(', ')}): it is checked again until it can be read or ends`;
}

/** Every candidate failed and none could be read: the item fails too, named so the user can judge. */
async function failedCandidates(ids: string[], getTask: (id: string) => Promise<{ error?: unknown }>): Promise<Found<never>> {
  const first = ids[0] as string;
  const task = await getTask(first).catch(() => undefined);
  const { code, message } = taskFailure(task as Parameters<typeof taskFailure>[0]);
  return {
    kind: 'failed',
    code,
    message: `${message} (task ${ids.join(', ')}: this object's, or another of the same file name; check the file, then apply --retry-failed)`,
  };
}
