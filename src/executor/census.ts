import { contentKey, filenameForms, fingerprintContent, isFingerprintOf } from '../planner/index.js';
import type { ItemState } from '../state/index.js';
import { IN_FLIGHT_STATUSES, listAllIndexedAssets, listAllVideos, listTasks } from '../twelvelabs/index-reader.js';
import type { Asset } from '../twelvelabs/types.js';
import { decide, stageOf, type Candidate, type CandidateStage, type Decision } from './decide.js';
import type { AssetsApi, ExecutorApi, Via } from './types.js';

/** Something the index (or the account's assets) holds that may be an object's copy. */
export interface Holding {
  kind: 'video' | 'task' | 'indexed_asset' | 'asset';
  id: string;
  videoId?: string | undefined;
  filename: string;
  size?: number | undefined;
  stage: CandidateStage;
  createdAt?: string | undefined;
  /** From the listing when it carried user_metadata; read by id otherwise. */
  metadata?: Record<string, unknown> | null | undefined;
}

/** What the census found for one item. */
export type CensusVerdict =
  | { kind: 'found'; holding: Holding }
  | { kind: 'duplicate'; of: string }
  | { kind: 'blocked'; holdings: Holding[] }
  | { kind: 'clear' };

export interface CensusApi {
  api: ExecutorApi;
  assetsApi?: AssetsApi | undefined;
  indexId: string;
  via: Via;
  signal?: AbortSignal | undefined;
}

/**
 * The index's holdings, read once at the start of a run: its videos, the tasks (or indexed assets)
 * still in flight and, for the assets path, the account's assets. The same reads the planner makes;
 * the state file may be new, lost or another's, so this is what decides whether a POST is needed.
 */
export class IndexCensus {
  private readonly byName = new Map<string, Holding[]>();
  private readonly bySize = new Map<number, Holding[]>();
  private readonly videoIds = new Set<string>();
  private readonly metadata = new Map<string, Record<string, unknown> | null>();

  private constructor(private readonly o: CensusApi) {}

  static async read(o: CensusApi): Promise<IndexCensus> {
    const census = new IndexCensus(o);
    const signal = o.signal ? { signal: o.signal } : {};
    const [videos, tasks, indexed, assets] = await Promise.all([
      listAllVideos(o.api, o.indexId, signal),
      o.via === 'tasks' ? listTasks(o.api, { indexId: o.indexId, status: IN_FLIGHT_STATUSES }, signal) : Promise.resolve([]),
      o.via === 'assets' && o.assetsApi ? listAllIndexedAssets(o.assetsApi, o.indexId, {}, signal) : Promise.resolve([]),
      o.via === 'assets' && o.assetsApi ? listAllAssets(o.assetsApi, o.signal) : Promise.resolve([]),
    ]);
    for (const v of videos) {
      census.videoIds.add(v._id);
      census.add({ kind: 'video', id: v._id, videoId: v._id, filename: v.system_metadata?.filename ?? '', size: v.system_metadata?.size, stage: 'ready', createdAt: v.created_at, metadata: v.user_metadata });
    }
    for (const t of tasks) census.add({ kind: 'task', id: t._id, videoId: t.video_id, filename: t.system_metadata?.filename ?? '', stage: stageOf(t.status), createdAt: t.created_at });
    for (const a of indexed) {
      if (a.status === 'ready' && census.videoIds.has(a._id)) continue;
      census.add({ kind: 'indexed_asset', id: a._id, videoId: a._id, filename: a.system_metadata?.filename ?? '', size: a.system_metadata?.size, stage: stageOf(a.status), createdAt: a.created_at, metadata: a.user_metadata });
    }
    for (const a of assets) {
      if (a.status === 'failed') continue;
      census.add({ kind: 'asset', id: a._id, filename: a.filename ?? '', stage: a.status === 'ready' ? 'ready' : 'in_flight', createdAt: a.created_at, metadata: a.user_metadata });
    }
    return census;
  }

  private add(h: Holding): void {
    push(this.byName, h.filename, h);
    if (h.size !== undefined && (h.kind === 'video' || h.kind === 'indexed_asset')) push(this.bySize, h.size, h);
  }

  /** Whether a video the state records is still in the index (a listing can miss one that moved pages: a GET confirms). */
  async hasVideo(videoId: string): Promise<boolean> {
    if (this.videoIds.has(videoId)) return true;
    return (await this.o.api.getVideo(this.o.indexId, videoId, this.o.signal).catch(notFound)) !== undefined;
  }

  /**
   * Whether the index already holds this object (its fingerprint), its content under another key,
   * or a task in flight under its file name whose owner cannot be read yet.
   */
  async examine(uri: string, item: ItemState): Promise<CensusVerdict> {
    const forms = new Set(filenameForms(item.key));
    const named = [...forms].flatMap((f) => this.byName.get(f) ?? []).filter((h) => h.size === undefined || h.size === item.size);
    const sized = this.bySize.get(item.size) ?? [];
    const holdings = [...new Set([...named, ...sized])];
    const content = contentKey(item.size, item.etag);
    const candidates: Array<Candidate & { holding: Holding }> = [];
    let duplicateOf: string | undefined;
    for (const holding of holdings) {
      const metadata = await this.read(holding);
      if (isFingerprintOf(metadata, uri, item.etag)) candidates.push({ ...toCandidate(holding, 'ours'), holding });
      else if (forms.has(holding.filename)) candidates.push({ ...toCandidate(holding, metadata === undefined ? 'unknown' : 'other'), holding });
      const fp = fingerprintContent(metadata);
      if (fp && fp.uri !== uri && fp.content === content && holding.stage !== 'failed') duplicateOf ??= fp.uri;
    }
    // Assets apart: an object's asset always predates its indexed asset, so among "ours" it would win and be indexed again.
    const decision = decide(candidates.filter((c) => c.holding.kind !== 'asset'));
    if (decision.kind === 'found') {
      const best = candidates.find((c) => c.id === decision.candidate.id);
      if (best && best.stage !== 'failed') return { kind: 'found', holding: best.holding };
    }
    const ownAsset = candidates.find((c) => c.holding.kind === 'asset' && c.verdict === 'ours');
    if (ownAsset) return { kind: 'found', holding: ownAsset.holding };
    if (duplicateOf) return { kind: 'duplicate', of: duplicateOf };
    if (decision.kind === 'wait') return { kind: 'blocked', holdings: candidates.filter((c) => decision.pending.includes(c.id)).map((c) => c.holding) };
    return { kind: 'clear' };
  }

  /** Reads blocked holdings again (status and owner) and decides. */
  async recheck(uri: string, item: ItemState, holdings: Holding[]): Promise<{ decision: Decision; holdings: Holding[] }> {
    const fresh: Holding[] = [];
    for (const h of holdings) fresh.push(await this.refresh(h));
    const candidates = [];
    for (const h of fresh) {
      this.metadata.delete(h.id);
      const metadata = await this.read(h);
      candidates.push(toCandidate(h, isFingerprintOf(metadata, uri, item.etag) ? 'ours' : metadata === undefined ? 'unknown' : 'other'));
    }
    return { decision: decide(candidates), holdings: fresh };
  }

  private async refresh(h: Holding): Promise<Holding> {
    const { api, assetsApi, indexId, signal } = this.o;
    if (h.kind === 'task') {
      const task = await api.getTask(h.id, signal).catch(notFound);
      return task ? { ...h, stage: stageOf(task.status), videoId: task.video_id ?? h.videoId } : { ...h, stage: 'failed' };
    }
    if (h.kind === 'indexed_asset' && assetsApi) {
      const indexed = await assetsApi.getIndexedAsset(indexId, h.id, signal).catch(notFound);
      return indexed ? { ...h, stage: stageOf(indexed.status), metadata: indexed.user_metadata } : { ...h, stage: 'failed' };
    }
    return h;
  }

  /** A holding's user_metadata: `undefined` while it cannot be read, `null` when it has none. */
  private async read(h: Holding): Promise<Record<string, unknown> | null | undefined> {
    if (h.metadata) return h.metadata;
    const cached = this.metadata.get(h.id);
    if (cached !== undefined) return cached;
    const { api, assetsApi, indexId, signal } = this.o;
    let metadata: Record<string, unknown> | null | undefined;
    if (h.kind === 'asset') metadata = assetsApi ? ((await assetsApi.getAsset(h.id, signal).catch(notFound))?.user_metadata ?? undefined) : undefined;
    else if (h.kind === 'indexed_asset' && assetsApi) metadata = (await assetsApi.getIndexedAsset(indexId, h.id, signal).catch(notFound))?.user_metadata;
    else if (h.videoId) metadata = (await api.getVideo(indexId, h.videoId, signal).catch(notFound))?.user_metadata;
    const known = metadata === undefined ? undefined : (metadata ?? null);
    if (known !== undefined) this.metadata.set(h.id, known);
    return known;
  }
}

function toCandidate(h: Holding, verdict: Candidate['verdict']): Candidate {
  return { id: h.id, videoId: h.videoId, stage: h.stage, verdict, createdAt: h.createdAt };
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

function notFound(error: unknown): undefined {
  const status = (error as { status?: number }).status;
  if (status === 404 || status === 400) return undefined;
  throw error;
}

async function listAllAssets(api: AssetsApi, signal?: AbortSignal): Promise<Asset[]> {
  const all: Asset[] = [];
  for (let page = 1; ; page++) {
    const listed = await api.listAssets({ page, pageLimit: 50 }, signal);
    all.push(...(listed.data ?? []));
    if (!listed.data?.length || page >= (listed.page_info?.total_page ?? page)) return all;
  }
}
