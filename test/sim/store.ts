import { ApiFailure } from './api-error.js';
import { newId } from './model.js';
import type { IndexModel, SimAsset, SimIndex, SimIndexedAsset, SimTask, SimUpload, SimVideo } from './model.js';
import type { SimChunkUrl } from './model.js';

const MEMO_ENTRIES = 64;

export const DEFAULT_MODELS: IndexModel[] = [
  { name: 'marengo3.0', options: ['visual', 'audio'] },
  { name: 'pegasus1.2', options: ['visual', 'audio'] },
];

/**
 * The simulated account: indexes, tasks, videos, assets and indexed assets, in memory. Write
 * them through put/remove, and call `touch()` after changing one in place, so cached sort orders
 * stay true.
 */
export class SimStore {
  readonly indexes = new Map<string, SimIndex>();
  readonly tasks = new Map<string, SimTask>();
  readonly videos = new Map<string, SimVideo>();
  readonly assets = new Map<string, SimAsset>();
  readonly indexedAssets = new Map<string, SimIndexedAsset>();
  readonly uploads = new Map<string, SimUpload>();
  /** Presigned chunk URL token -> what it may be used for. */
  readonly chunkUrls = new Map<string, SimChunkUrl>();
  #seq = 0;
  #version = 0;
  readonly #memo = new Map<string, { version: number; value: unknown }>();

  nextSeq(): number {
    return ++this.#seq;
  }

  touch(): void {
    this.#version++;
  }

  putTask(task: SimTask): void {
    this.tasks.set(task.id, task);
    this.touch();
  }

  removeTask(id: string): void {
    this.tasks.delete(id);
    this.touch();
  }

  putVideo(video: SimVideo): void {
    this.videos.set(video.id, video);
    this.touch();
  }

  removeVideo(id: string): void {
    this.videos.delete(id);
    this.touch();
  }

  putAsset(asset: SimAsset): void {
    this.assets.set(asset.id, asset);
    this.touch();
  }

  removeAsset(id: string): void {
    this.assets.delete(id);
    this.touch();
  }

  putIndexedAsset(indexed: SimIndexedAsset): void {
    this.indexedAssets.set(indexed.id, indexed);
    this.touch();
  }

  /** Removes an indexed asset and its video: the two are one thing seen through two endpoints. */
  removeIndexedAsset(id: string): void {
    this.indexedAssets.delete(id);
    this.videos.delete(id);
    this.touch();
  }

  /** Indexed assets referencing the asset, in every index. */
  indexedAssetsOf(assetId: string): SimIndexedAsset[] {
    return [...this.indexedAssets.values()].filter((ia) => ia.assetId === assetId);
  }

  /**
   * Caches a computed listing until the next change: paging through 100k items then costs one
   * filter-and-sort, not one per page.
   */
  memo<T>(key: string, compute: () => T): T {
    const hit = this.#memo.get(key);
    if (hit?.version === this.#version) return hit.value as T;
    const value = compute();
    this.#memo.delete(key);
    this.#memo.set(key, { version: this.#version, value });
    const oldest = this.#memo.keys().next().value;
    if (this.#memo.size > MEMO_ENTRIES && oldest !== undefined) this.#memo.delete(oldest);
    return value;
  }

  addIndex(input: { id?: string; name?: string; models?: IndexModel[]; expiresAt?: number }, now: number): SimIndex {
    const id = input.id ?? newId();
    if (this.indexes.has(id)) throw new Error(`Index ${id} already exists in the simulator.`);
    const index: SimIndex = {
      id,
      name: input.name ?? `index-${id.slice(-6)}`,
      models: (input.models ?? DEFAULT_MODELS).map((m) => ({ name: m.name, options: [...m.options] })),
      createdAt: now,
      updatedAt: now,
      ...(input.expiresAt !== undefined ? { expiresAt: input.expiresAt } : {}),
    };
    this.indexes.set(id, index);
    return index;
  }

  videosOf(indexId: string): SimVideo[] {
    return [...this.videos.values()].filter((v) => v.indexId === indexId);
  }

  requireIndex(id: string, notFoundStatus: number): SimIndex {
    const index = this.indexes.get(id);
    if (!index) throw notFound(notFoundStatus, `The index ${id} does not exist.`);
    return index;
  }

  requireTask(id: string, notFoundStatus: number): SimTask {
    const task = this.tasks.get(id);
    if (!task) throw notFound(notFoundStatus, `The task ${id} does not exist.`);
    return task;
  }

  requireAsset(id: string, notFoundStatus: number): SimAsset {
    const asset = this.assets.get(id);
    if (!asset) throw notFound(notFoundStatus, `The asset ${id} does not exist.`);
    return asset;
  }

  requireUpload(id: string): SimUpload {
    const upload = this.uploads.get(id);
    if (!upload) throw new ApiFailure(404, 'resource_not_exist', `Upload not found: ${id}.`);
    return upload;
  }

  requireIndexedAsset(indexId: string, id: string, notFoundStatus: number): SimIndexedAsset {
    this.requireIndex(indexId, notFoundStatus);
    const indexed = this.indexedAssets.get(id);
    if (!indexed || indexed.indexId !== indexId) throw notFound(notFoundStatus, `The indexed asset ${id} does not exist in the index ${indexId}.`);
    return indexed;
  }

  requireVideo(indexId: string, videoId: string, notFoundStatus: number): SimVideo {
    this.requireIndex(indexId, notFoundStatus);
    const video = this.videos.get(videoId);
    if (!video || video.indexId !== indexId) throw notFound(notFoundStatus, `The video ${videoId} does not exist in the index ${indexId}.`);
    return video;
  }
}

function notFound(status: number, message: string): ApiFailure {
  return new ApiFailure(status, 'resource_not_exist', message);
}
