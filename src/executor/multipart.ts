import pLimit from 'p-limit';
import { ApiError, SourceError, TlmError, redactUrls } from '../errors.js';
import { basename, filenameForms, isFingerprintOf } from '../planner/index.js';
import { formatRanges, parseRanges, type ItemState, type UploadProgress } from '../state/index.js';
import { ChunkPutError, type ChunkPut } from '../twelvelabs/chunk-put.js';
import { backoffMs } from '../twelvelabs/retry.js';
import type { CompletedChunk, IncompleteUpload, PresignedChunkUrl, UploadSession } from '../twelvelabs/types.js';
import { failItem, runStep, type Found, type StepResult } from './exactly-once.js';
import { checkSource, fingerprint, type RouteContext } from './routes.js';
import { RECONCILE_SKEW_MS } from './search.js';
import type { AssetsApi, MultipartApi } from './types.js';

/** Chunks reported per call, as the SDK helpers do. */
const DEFAULT_BATCH = 10;
/** The presigned-urls endpoint's ceiling. */
const MAX_URLS_PER_CALL = 50;
/** PUTs of one chunk before the item is left for the next run. */
const MAX_CHUNK_ATTEMPTS = 6;
/** A URL this close to its expiry is renewed before use: a 5 GB-class PUT takes a while. */
const URL_MARGIN_MS = 60_000;
const PAGE = 50;

type Session = Pick<UploadSession, 'upload_id' | 'asset_id' | 'chunk_size' | 'total_chunks' | 'expires_at' | 'upload_urls' | 'upload_headers'>;

/**
 * Multipart uploads of one run (`--via assets`, items of method `multipart`): the session is created
 * exactly once (a durable intent, then a search of the incomplete sessions and of the assets by file
 * name after a lost answer); chunks are streamed from the source with ranged GETs and PUT to the
 * presigned URLs, at most `slots` chunks in flight across the whole run (piped, none held in memory); reported chunks are
 * recorded so a resume sends only the rest; an expired session is replaced only once the server
 * says it is dead. The item then waits for its asset like a URL upload (`asset_processing`).
 */
export class MultipartUploads {
  private readonly slots: ReturnType<typeof pLimit>;
  /** Unused chunk URLs per session, in memory only (a URL is a credential: never in the state). */
  private readonly urls = new Map<string, Map<number, PresignedChunkUrl>>();
  private readonly batchSize: number;

  constructor(
    private readonly api: MultipartApi,
    private readonly assets: Pick<AssetsApi, 'getAsset' | 'listAssets'>,
    private readonly put: ChunkPut,
    slots: number,
    batchSize?: number,
  ) {
    this.slots = pLimit(slots);
    this.batchSize = batchSize ?? DEFAULT_BATCH;
  }

  /** Moves one multipart item as far as it goes now: session, chunks, then `asset_processing`. */
  async submit(uri: string, ctx: RouteContext): Promise<StepResult> {
    for (let sessions = 0; sessions < 2; sessions++) {
      const item = ctx.store.item(uri) as ItemState;
      if (item.status === 'planned' || ((item.status === 'intent' || item.status === 'unknown') && item.step === 'session')) {
        const created = await this.sessionStep(uri, ctx);
        if (created !== 'done') return created;
      }
      if ((ctx.store.item(uri) as ItemState).status !== 'asset_uploading') return 'done';
      const sent = await this.transfer(uri, ctx);
      if (sent !== 'replaced') return sent;
    }
    return 'exhausted';
  }

  private sessionStep(uri: string, ctx: RouteContext): Promise<StepResult> {
    const { store, options: o } = ctx;
    return runStep<Session>(
      uri,
      {
        step: 'session',
        resting: 'planned',
        beforeFirstSend: () => checkSource(store.item(uri) as ItemState, ctx),
        send: () => {
          const item = store.item(uri) as ItemState;
          const userMetadata = { ...o.userMetadata, ...fingerprint(o.bucket, item, ctx.runId) };
          return this.api.createUpload({ filename: basename(item.key), totalSize: item.size, userMetadata }, ctx.halt.signal);
        },
        find: (item) => this.findSession(uri, item, ctx),
        commit: async (session) => {
          for (const id of [session.upload_id, session.asset_id]) if (id) ctx.claimed.add(id, uri);
          this.remember(session.upload_id, session.upload_urls ?? []);
          const upload: UploadProgress = {
            uploadId: session.upload_id,
            assetId: session.asset_id,
            chunkSize: session.chunk_size,
            totalChunks: session.total_chunks,
            reported: '',
            expiresAt: session.expires_at,
            ...(session.upload_headers && Object.keys(session.upload_headers).length > 0 ? { headers: session.upload_headers } : {}),
          };
          await store.setItem(uri, { status: 'asset_uploading', assetId: session.asset_id, upload, lastError: null }, { durable: true });
          ctx.onEvent?.({ type: 'asset', uri, assetId: session.asset_id ?? session.upload_id, status: 'uploading' });
        },
      },
      ctx,
    );
  }

  /**
   * After a lost create: a live session of this object's size, created since the intent, claimed by
   * no other item; told apart by the asset it reserved (file name, created since, our fingerprint)
   * when the listing shows it. A lone session whose asset is not listed yet is taken, and its asset's
   * fingerprint checked at the first report.
   */
  private async findSession(uri: string, item: ItemState, ctx: RouteContext): Promise<Found<Session>> {
    const since = Date.parse(item.intentAt ?? item.updatedAt) - RECONCILE_SKEW_MS;
    const fresh = (at: string | undefined) => at === undefined || Date.parse(at) >= since;
    const sessions = [];
    for (const s of await this.incompleteSessions(ctx)) if (s.total_size === item.size && fresh(s.created_at) && (s.status ?? 'active') === 'active' && !(await ctx.claimed.has(s.upload_id))) sessions.push(s);
    if (sessions.length === 0) return { kind: 'absent' };
    const assets = await this.ourAssets(uri, item, since, ctx);
    const toSession = (s: IncompleteUpload, assetId: string | undefined): Found<Session> => ({
      kind: 'found',
      value: { upload_id: s.upload_id, asset_id: assetId, chunk_size: s.chunk_size, total_chunks: s.total_chunks, expires_at: s.expires_at },
    });
    const [asset] = assets;
    if (sessions.length === 1) return toSession(sessions[0] as IncompleteUpload, assets.length === 1 ? asset?._id : undefined);
    if (assets.length === 1 && asset) {
      // Several sessions of this size: the one created closest to our asset is the one that reserved it.
      const gap = (s: IncompleteUpload) => Math.abs(Date.parse(s.created_at ?? '') - Date.parse(asset.created_at ?? ''));
      const closest = [...sessions].sort((a, b) => gap(a) - gap(b))[0] as IncompleteUpload;
      return toSession(closest, asset._id);
    }
    return { kind: 'wait', detail: `${sessions.length} upload sessions of this size (${sessions.map((s) => s.upload_id).join(', ')}) may be this object's and none can be told apart yet: looked at again until one can` };
  }

  private async incompleteSessions(ctx: RouteContext): Promise<IncompleteUpload[]> {
    const all: IncompleteUpload[] = [];
    for (let page = 1; ; page++) {
      const listed = await this.api.listIncompleteUploads({ page, pageLimit: PAGE }, ctx.halt.signal);
      all.push(...(listed.data ?? []));
      // Never past the last page: some servers may answer it with 400 (docs/multipart-api.md, open point 10).
      if (!listed.data?.length || page >= (listed.page_info?.total_page ?? page)) return all;
    }
  }

  /** Assets of this object's file name (either form), created since, not claimed, carrying our fingerprint. */
  private async ourAssets(uri: string, item: ItemState, since: number, ctx: RouteContext): Promise<Array<{ _id: string; created_at?: string | undefined }>> {
    const found = new Map<string, { _id: string; created_at?: string | undefined; user_metadata?: Record<string, unknown> | null | undefined }>();
    for (const filename of filenameForms(item.key)) {
      const listed = await this.assets.listAssets({ filename, page: 1, pageLimit: PAGE }, ctx.halt.signal);
      for (const asset of listed.data ?? []) {
        if ((await ctx.claimed.has(asset._id)) || (asset.created_at !== undefined && Date.parse(asset.created_at) < since)) continue;
        found.set(asset._id, asset);
      }
    }
    const ours = [];
    for (const asset of found.values()) {
      const metadata = asset.user_metadata ?? (await this.assets.getAsset(asset._id, ctx.halt.signal)).user_metadata;
      if (isFingerprintOf(metadata, uri, item.etag)) ours.push(asset);
    }
    return ours;
  }

  /**
   * Sends the chunks the platform has not acknowledged, reporting them in batches; `replaced` when
   * the session turned out dead (the item is `planned` again and gets a new one).
   */
  private async transfer(uri: string, ctx: RouteContext): Promise<StepResult | 'replaced'> {
    const item = ctx.store.item(uri) as ItemState;
    const upload = item.upload as UploadProgress;
    const server = await this.sessionState(upload, ctx);
    if (server.dead) {
      await ctx.store.setItem(uri, { status: 'planned', upload: undefined, assetId: undefined, step: undefined, lastError: { code: 'upload_session_dead', message: `upload session ${upload.uploadId} is ${server.dead}: a new one is created`, at: iso(ctx) } }, { durable: true });
      return 'replaced';
    }
    const reported = parseRanges(upload.reported);
    const learnt = [...server.completed].filter((i) => !reported.has(i));
    if (learnt.length > 0) {
      for (const i of learnt) reported.add(i);
      await ctx.store.setItem(uri, { upload: { ...upload, reported: formatRanges(reported) } }, { durable: true });
    }
    const batch = new ReportBatch(this.api, this.assets, uri, ctx, reported);
    const outcome = server.finished ? undefined : await this.sendMissing(uri, batch, ctx);
    if (outcome) return outcome;
    return this.finish(uri, batch.complete || server.finished, ctx);
  }

  /** What the server says of the session: dead (404, expired, failed), finished, or the chunks it has. */
  private async sessionState(upload: UploadProgress, ctx: RouteContext): Promise<{ dead?: string; finished: boolean; completed: Set<number> }> {
    const completed = new Set<number>();
    const known = parseRanges(upload.reported).size;
    for (let page = 1; ; page++) {
      let status;
      try {
        status = await this.api.getUploadStatus(upload.uploadId, { page, pageLimit: PAGE }, ctx.halt.signal);
      } catch (error) {
        if (error instanceof ApiError && error.status === 404) return { dead: 'gone (404)', finished: false, completed };
        throw error;
      }
      if (status.status === 'expired' || status.status === 'failed') return { dead: status.status, finished: false, completed };
      if (status.status === 'completed') return { finished: true, completed };
      // Only the chunks the server counts beyond ours need a look at the list.
      if ((status.chunks_completed ?? 0) <= known) return { finished: false, completed };
      for (const chunk of status.uploaded_chunks ?? []) if (chunk.status === 'completed') completed.add(chunk.index);
      if (!status.uploaded_chunks?.length || page >= (status.page_info?.total_page ?? page)) return { finished: false, completed };
    }
  }

  /** Every chunk not reported yet, at most `slots` in flight across the run; a result when the item stops here. */
  private async sendMissing(uri: string, batch: ReportBatch, ctx: RouteContext): Promise<StepResult | undefined> {
    const item = ctx.store.item(uri) as ItemState;
    const upload = item.upload as UploadProgress;
    const missing: number[] = [];
    for (let i = 1; i <= upload.totalChunks; i++) if (!batch.reported.has(i)) missing.push(i);
    let failed = false;
    const results = await Promise.allSettled(
      missing.map((index) =>
        this.slots(async () => {
          if (ctx.halt.signal.aborted || batch.stopped || failed) return;
          try {
            await batch.add(await this.sendChunk(uri, item, upload, index, ctx), this.batchSize);
          } catch (error) {
            // One chunk out of attempts (or a changed source) stops the others: the item is left for later.
            failed = true;
            throw error;
          }
        }),
      ),
    );
    const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')?.reason as unknown;
    await batch.flush();
    if (batch.stopped) return batch.stopped;
    if (ctx.halt.signal.aborted) return 'halted';
    if (failure === undefined) return undefined;
    if (failure instanceof SourceError && failure.code === 'source_changed') {
      await failItem(uri, 'source_changed', failure.message, ctx);
      return 'failed';
    }
    if (!(failure instanceof TlmError)) throw failure;
    await ctx.store.setItem(uri, { lastError: { code: failure.code, message: redactUrls(failure.message), at: iso(ctx) } }, { durable: true });
    return 'exhausted';
  }

  /**
   * One chunk: a ranged GET piped into a PUT (a fresh GET and a fresh URL for every retry) until
   * one answers an ETag. No chunk is held in memory: a slot costs socket buffers, not a chunk.
   */
  private async sendChunk(uri: string, item: ItemState, upload: UploadProgress, index: number, ctx: RouteContext): Promise<CompletedChunk> {
    const start = (index - 1) * upload.chunkSize;
    const end = Math.min(start + upload.chunkSize, item.size) - 1;
    const length = end - start + 1;
    const source = ctx.options.source;
    if (!source.readRange) throw new TlmError('multipart_unavailable', 'the source cannot read byte ranges');
    for (let attempt = 1; ; attempt++) {
      const url = await this.urlFor(upload, index, ctx);
      const bytes = await source.readRange(item.key, start, end, item.etag, ctx.halt.signal);
      try {
        const etag = await this.put(url, exactly(bytes, length, `${item.key} at ${start}`), length, upload.headers ?? {}, ctx.halt.signal);
        ctx.result.bytesStreamed = (ctx.result.bytesStreamed ?? 0) + length;
        ctx.onEvent?.({ type: 'bytes', uri, bytes: length });
        return { chunk_index: index, proof: etag, proof_type: 'etag', chunk_size: length };
      } catch (error) {
        if (!(error instanceof ChunkPutError) || attempt >= MAX_CHUNK_ATTEMPTS) throw error;
        await ctx.clock.sleep(backoffMs(attempt, ctx.random, 500, 15_000), ctx.halt.signal);
      } finally {
        // A PUT that failed mid-body leaves the GET open: its socket goes back now.
        bytes.destroy();
      }
    }
  }

  /** An unused URL for the chunk that outlives the PUT by a margin; else fresh ones (up to 50 from this chunk on). Each URL is used once. */
  private async urlFor(upload: UploadProgress, index: number, ctx: RouteContext): Promise<string> {
    const take = (margin: number) => {
      const url = this.urls.get(upload.uploadId)?.get(index);
      this.urls.get(upload.uploadId)?.delete(index);
      const expiresAt = Date.parse(url?.expires_at ?? '');
      return url && (Number.isNaN(expiresAt) || expiresAt - margin > ctx.clock.now()) ? url.url : undefined;
    };
    const ready = take(URL_MARGIN_MS);
    if (ready) return ready;
    const count = Math.min(MAX_URLS_PER_CALL, upload.totalChunks - index + 1);
    this.remember(upload.uploadId, await this.api.requestChunkUrls(upload.uploadId, index, count, ctx.halt.signal));
    const fresh = take(0);
    if (!fresh) throw new ChunkPutError({ expired: false, message: `the platform gave no URL for chunk ${index} of upload ${upload.uploadId}` });
    return fresh;
  }

  private remember(uploadId: string, urls: PresignedChunkUrl[]): void {
    const map = this.urls.get(uploadId) ?? new Map<number, PresignedChunkUrl>();
    for (const url of urls) map.set(url.chunk_index, url);
    this.urls.set(uploadId, map);
  }

  /** Every chunk is in: the session must say so, then the item waits for its asset (`asset_processing`). */
  private async finish(uri: string, complete: boolean, ctx: RouteContext): Promise<StepResult> {
    const item = ctx.store.item(uri) as ItemState;
    const upload = item.upload as UploadProgress;
    const done = complete || (await this.sessionState(upload, ctx)).finished;
    if (!done) {
      await ctx.store.setItem(uri, { lastError: { code: 'upload_incomplete', message: `upload ${upload.uploadId}: every chunk was reported but the session is not completed yet`, at: iso(ctx) } });
      return 'exhausted';
    }
    const assetId = upload.assetId ?? item.assetId;
    if (!assetId) {
      await failItem(uri, 'upload_asset_unknown', `upload ${upload.uploadId} completed but its asset id is unknown: find it with GET /assets?filename=${basename(item.key)}`, ctx);
      return 'failed';
    }
    ctx.claimed.add(assetId, uri);
    this.urls.delete(upload.uploadId);
    await ctx.store.setItem(uri, { status: 'asset_processing', assetId, lastError: null }, { durable: true });
    ctx.onEvent?.({ type: 'asset', uri, assetId, status: 'uploaded' });
    return 'done';
  }
}

/**
 * The chunks stored and not yet reported, sent in batches one at a time; each answer recorded
 * durably (the reported ranges), so a kill after it never sends those chunks again.
 */
class ReportBatch {
  private pending: CompletedChunk[] = [];
  private chain: Promise<void> = Promise.resolve();
  complete = false;
  /** Set when a report showed the session is not this object's. */
  stopped: StepResult | undefined;

  constructor(
    private readonly api: MultipartApi,
    private readonly assets: Pick<AssetsApi, 'getAsset'>,
    private readonly uri: string,
    private readonly ctx: RouteContext,
    readonly reported: Set<number>,
  ) {}

  add(chunk: CompletedChunk, size: number): Promise<void> {
    this.pending.push(chunk);
    return this.pending.length >= size ? this.flush() : Promise.resolve();
  }

  flush(): Promise<void> {
    this.chain = this.chain.then(() => this.send());
    return this.chain;
  }

  private async send(): Promise<void> {
    const chunks = this.pending;
    this.pending = [];
    if (chunks.length === 0 || this.stopped) return;
    const { store } = this.ctx;
    const upload = (store.item(this.uri) as ItemState).upload as UploadProgress;
    const answer = await this.api.reportChunks(upload.uploadId, chunks);
    for (const chunk of chunks) this.reported.add(chunk.chunk_index);
    const assetId = upload.assetId ?? answer.asset_id;
    if (upload.assetId === undefined && assetId !== undefined && !(await this.isOurs(assetId))) return;
    await store.setItem(this.uri, { assetId, upload: { ...upload, assetId, reported: formatRanges(this.reported) } }, { durable: true });
    if (answer.url !== undefined || answer.total_completed === upload.totalChunks) this.complete = true;
  }

  /** A session adopted without its asset (not listed yet): its asset must carry our fingerprint, or the item stops. */
  private async isOurs(assetId: string): Promise<boolean> {
    const item = this.ctx.store.item(this.uri) as ItemState;
    const asset = await this.assets.getAsset(assetId);
    if (isFingerprintOf(asset.user_metadata, this.uri, item.etag)) return true;
    this.stopped = 'failed';
    await failItem(this.uri, 'reconcile_ambiguous', `upload session ${(item.upload as UploadProgress).uploadId} was taken for this object after a lost answer, but its asset ${assetId} is another's: nothing more is sent; apply again`, this.ctx);
    return false;
  }
}

const iso = (ctx: RouteContext) => new Date(ctx.clock.now()).toISOString();

/** The range's bytes as they arrive, refused (the PUT then fails, and is retried) when there are more or fewer than asked. */
async function* exactly(bytes: AsyncIterable<Uint8Array>, length: number, what: string): AsyncGenerator<Uint8Array> {
  let read = 0;
  for await (const part of bytes) {
    read += part.length;
    if (read > length) throw new SourceError('source_short_read', `${what}: more than the ${length} bytes asked: try again`);
    yield part;
  }
  if (read !== length) throw new SourceError('source_short_read', `${what}: read ${read} of ${length} bytes: try again`);
}
