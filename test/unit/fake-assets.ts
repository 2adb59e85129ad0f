import { ApiError, TransportError } from '../../src/errors.js';
import type { AssetsApi } from '../../src/executor/types.js';
import type { Asset, CreateAssetRequest, CreateIndexedAssetRequest, IndexedAsset, IndexedAssetSummary, Page } from '../../src/twelvelabs/types.js';
import type { FakeClock } from './fake-clock.js';

export type Fault = 'ok' | 'lose-answer';

/** In-memory /assets and indexed-assets: assets become ready after `readyAfterPolls` list calls. */
export class FakeAssets implements AssetsApi {
  readonly assets: Array<Asset & { polls: number }> = [];
  readonly indexed: Array<{ _id: string; assetId: string; indexId: string }> = [];
  assetPosts = 0;
  indexPosts = 0;
  constructor(
    private readonly clock: FakeClock,
    private readonly faults: { asset?: (n: number) => Fault; index?: (n: number) => Fault; failKey?: string } = {},
    public readyAfterPolls = 1,
  ) {}

  async createAsset(request: CreateAssetRequest): Promise<Asset> {
    const n = ++this.assetPosts;
    const id = `a${String(this.assets.length).padStart(23, '0')}`;
    const failed = this.faults.failKey !== undefined && String(request.userMetadata.tlm_source).endsWith(this.faults.failKey);
    const asset = { _id: id, status: 'processing' as const, filename: request.filename, created_at: new Date(this.clock.now()).toISOString(), user_metadata: request.userMetadata, polls: failed ? -1 : 0 };
    this.assets.push(asset);
    if (this.faults.asset?.(n) === 'lose-answer') throw new TransportError({ method: 'POST', path: '/assets', reason: 'timeout', detail: 'no answer' });
    return { ...asset };
  }
  async getAsset(assetId: string): Promise<Asset> {
    return this.view(this.assets.find((a) => a._id === assetId) as Asset & { polls: number });
  }
  async listAssets(query: { filename?: string; assetIds?: string[] }): Promise<Page<Asset>> {
    const data = this.assets.filter((a) => (!query.filename || a.filename?.includes(query.filename)) && (!query.assetIds || query.assetIds.includes(a._id)));
    if (query.assetIds) for (const a of data) if (a.polls >= 0) a.polls += 1;
    return { data: data.map((a) => this.view(a)), page_info: { page: 1, limit_per_page: 50, total_page: 1, total_results: data.length } };
  }
  async createIndexedAsset(request: CreateIndexedAssetRequest) {
    const n = ++this.indexPosts;
    const id = `i${String(this.indexed.length).padStart(23, '0')}`;
    this.indexed.push({ _id: id, assetId: request.assetId, indexId: request.indexId });
    if (this.faults.index?.(n) === 'lose-answer') throw new TransportError({ method: 'POST', path: '/indexes/x/indexed-assets', reason: 'network', detail: 'reset' });
    return { indexedAssetId: id };
  }
  async listIndexedAssets(): Promise<Page<IndexedAsset>> {
    const data = this.indexed.map((i) => this.indexedView(i));
    return { data, page_info: { page: 1, limit_per_page: 50, total_page: 1, total_results: data.length } };
  }
  async getIndexedAsset(_indexId: string, id: string): Promise<IndexedAsset> {
    const found = this.indexed.find((i) => i._id === id);
    if (!found) throw new ApiError({ status: 404, code: 'resource_not_exist', message: 'none', method: 'GET', path: '/indexed-assets' });
    return this.indexedView(found);
  }
  private indexedView(i: { _id: string; assetId: string }): IndexedAsset {
    const asset = this.assets.find((a) => a._id === i.assetId);
    return { _id: i._id, asset_id: i.assetId, status: 'pending', system_metadata: { filename: asset?.filename }, user_metadata: asset?.user_metadata ?? null };
  }
  async listIndexedAssetsOfAsset(assetId: string): Promise<Page<IndexedAssetSummary>> {
    const data = this.indexed.filter((i) => i.assetId === assetId).map((i) => ({ _id: i._id, index: { _id: i.indexId } }));
    return { data, page_info: { page: 1, limit_per_page: 50, total_page: 1, total_results: data.length } };
  }
  private view(a: Asset & { polls: number }): Asset {
    const status = a.polls < 0 ? 'failed' : a.polls >= this.readyAfterPolls ? 'ready' : 'processing';
    return { _id: a._id, status, filename: a.filename, created_at: a.created_at, user_metadata: a.user_metadata, ...(status === 'failed' ? { error: { message: 'unsupported codec' } } : {}) };
  }
  assetsFor(key: string): number {
    return this.assets.filter((a) => a.user_metadata?.tlm_source === `s3://bkt/${key}`).length;
  }
  indexedFor(key: string): number {
    const ids = new Set(this.assets.filter((a) => a.user_metadata?.tlm_source === `s3://bkt/${key}`).map((a) => a._id));
    return this.indexed.filter((i) => ids.has(i.assetId)).length;
  }
}
