import { contentKey, filenameForms, fingerprintContent, isFingerprintOf } from '../planner/index.js';
import type { ItemState } from '../state/index.js';
import { memoryTables, type LookupTable, type LookupTables } from '../planner/lookup.js';
import { IN_FLIGHT_STATUSES, readAllIndexedAssetsInto, readAllVideosInto, readTasksInto, type ListingSink } from '../twelvelabs/index-reader.js';
import type { IndexedAsset, IndexedVideo, Task } from '../twelvelabs/types.js';
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
  /** Where the holdings are kept: in memory by default; the CLI keeps them in a file beside the state (`lookupTablesFile`). */
  tables?: LookupTables | undefined;
}

/** Holdings' user_metadata read by id and kept, at most this many (the oldest forgotten first: read again if needed). */
const METADATA_KEPT = 10_000;

/** Holdings of several kinds under one name, in the order the census lists them. */
const KIND_ORDER: Record<Holding['kind'], number> = { video: 0, task: 1, indexed_asset: 2, asset: 3 };

/**
 * The index's holdings, read once at the start of a run: its videos, the tasks (or indexed assets)
 * still in flight and, for the assets path, the account's assets. The same reads the planner makes;
 * the state file may be new, lost or another's, so this is what decides whether a POST is needed.
 * Kept as they are listed in two lookup tables (by file name, by size), which the CLI keeps on disk
 * behind a hash index: an index of millions of videos costs memory for the hashes, not the holdings.
 */
export class IndexCensus {
  private readonly byName: LookupTable<Holding>;
  private readonly bySize: LookupTable<Holding>;
  private readonly metadata = new Map<string, Record<string, unknown> | null>();

  private constructor(private readonly o: CensusApi) {
    const tables = o.tables ?? memoryTables();
    this.byName = tables.open('census-names');
    this.bySize = tables.open('census-sizes');
  }

  static async read(o: CensusApi): Promise<IndexCensus> {
    const census = new IndexCensus(o);
    const options = o.signal ? { signal: o.signal } : {};
    const sink = (kind: Holding['kind']): ListingSink<Holding | undefined> => ({ add: (id, holding) => census.add(kind, id, holding) });
    await Promise.all([
      readAllVideosInto(o.api, o.indexId, sink('video'), videoHolding, options),
      o.via === 'tasks' ? readTasksInto(o.api, { indexId: o.indexId, status: IN_FLIGHT_STATUSES }, sink('task'), taskHolding, options) : undefined,
      o.via === 'assets' && o.assetsApi ? readAllIndexedAssetsInto(o.assetsApi, o.indexId, sink('indexed_asset'), indexedAssetHolding, options) : undefined,
      o.via === 'assets' && o.assetsApi ? readAllAssets(o.assetsApi, sink('asset'), o.signal) : undefined,
    ]);
    return census;
  }

  /** Keeps a listed holding (a later answer for the same id is kept too: the newest wins); whether its id is new. */
  private add(kind: Holding['kind'], id: string, holding: Holding | undefined): boolean {
    const name = nameKey(kind, id, holding?.filename ?? '');
    const fresh = !this.byName.get(name).some((h) => h.kind === kind && h.id === id);
    if (!holding) return fresh;
    this.byName.add(name, holding);
    if (holding.size !== undefined && (kind === 'video' || kind === 'indexed_asset')) this.bySize.add(String(holding.size), holding);
    return fresh;
  }

  /**
   * The holdings under these names, then those of this size, each once (at its first place, with
   * the newest answer for it), each name's in the census's order (videos, tasks, indexed assets,
   * assets); an indexed asset that is ready beside its video is that video.
   */
  private holdingsOf(names: Iterable<string>, size: number | undefined): Holding[] {
    const lists = [...names].map((name) => this.byName.get(name));
    if (size !== undefined) lists.push(this.bySize.get(String(size)));
    const found = new Map<string, Holding>();
    for (const list of lists) {
      for (const h of [...list].sort((a, b) => KIND_ORDER[a.kind] - KIND_ORDER[b.kind])) {
        // The newest answer at the first place: setting a key again replaces its value, not its place.
        found.set(`${h.kind}:${h.id}`, h);
      }
    }
    const holdings = [...found.values()];
    const videos = new Set(holdings.filter((h) => h.kind === 'video').map((h) => h.id));
    return holdings.filter((h) => !(h.kind === 'indexed_asset' && h.stage === 'ready' && videos.has(h.id)));
  }

  /**
   * Whether a video the state records for `key` is still in the index: listed under the key's file
   * name, or (a listing can miss one that moved pages, a video can be renamed) confirmed by a GET.
   */
  async hasVideo(videoId: string, key: string): Promise<boolean> {
    if (this.holdingsOf(filenameForms(key), undefined).some((h) => h.kind === 'video' && h.id === videoId)) return true;
    return (await this.o.api.getVideo(this.o.indexId, videoId, this.o.signal).catch(notFound)) !== undefined;
  }

  /**
   * Whether the index already holds this object (its fingerprint), its content under another key,
   * or a task in flight under its file name whose owner cannot be read yet.
   */
  async examine(uri: string, item: ItemState): Promise<CensusVerdict> {
    const forms = new Set(filenameForms(item.key));
    const holdings = this.holdingsOf(forms, item.size).filter((h) => h.size === undefined || h.size === item.size);
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
    if (known !== undefined) this.remember(h.id, known);
    return known;
  }

  private remember(id: string, metadata: Record<string, unknown> | null): void {
    if (this.metadata.size >= METADATA_KEPT) this.metadata.delete(this.metadata.keys().next().value as string);
    this.metadata.set(id, metadata);
  }
}

function toCandidate(h: Holding, verdict: Candidate['verdict']): Candidate {
  return { id: h.id, videoId: h.videoId, stage: h.stage, verdict, createdAt: h.createdAt };
}

function notFound(error: unknown): undefined {
  const status = (error as { status?: number }).status;
  if (status === 404 || status === 400) return undefined;
  throw error;
}

/** The account's assets into `sink`, a page at a time (the failed ones are of no object). */
async function readAllAssets(api: AssetsApi, sink: ListingSink<Holding | undefined>, signal?: AbortSignal): Promise<void> {
  for (let page = 1; ; page++) {
    const listed = await api.listAssets({ page, pageLimit: 50 }, signal);
    for (const a of listed.data ?? []) sink.add(a._id, a.status === 'failed' ? undefined : { kind: 'asset', id: a._id, filename: a.filename ?? '', stage: a.status === 'ready' ? 'ready' : 'in_flight', createdAt: a.created_at, metadata: a.user_metadata });
    if (!listed.data?.length || page >= (listed.page_info?.total_page ?? page)) return;
  }
}

function videoHolding(v: IndexedVideo): Holding {
  return { kind: 'video', id: v._id, videoId: v._id, filename: v.system_metadata?.filename ?? '', size: v.system_metadata?.size, stage: 'ready', createdAt: v.created_at, metadata: v.user_metadata };
}

function taskHolding(t: Task): Holding {
  return { kind: 'task', id: t._id, videoId: t.video_id, filename: t.system_metadata?.filename ?? '', stage: stageOf(t.status), createdAt: t.created_at };
}

function indexedAssetHolding(a: IndexedAsset): Holding {
  return { kind: 'indexed_asset', id: a._id, videoId: a._id, filename: a.system_metadata?.filename ?? '', size: a.system_metadata?.size, stage: stageOf(a.status), createdAt: a.created_at, metadata: a.user_metadata };
}

/** The name a holding is kept under: its file name; one without a name under its id (found by size only). */
function nameKey(kind: Holding['kind'], id: string, filename: string): string {
  return filename === '' ? `\u0000${kind}:${id}` : filename;
}
