import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { SIGNED_HEADER, callApi, fakeMp4, readings, startSimulator } from './index.js';
import type { ApiReading, Simulator, SimulatorOptions } from './index.js';

const CHUNK = 64 * 1024;
const FAST = { assetProcessingMs: 0, pendingMs: 0, queuedMs: 0, indexingMs: 0 };

/** A video of `size` bytes whose every byte differs by position, so a chunk stored at the wrong offset shows. */
function video(size: number): Buffer {
  const bytes = fakeMp4(size);
  for (let i = 4096; i < size; i++) bytes[i] = (i * 7) % 251;
  return bytes;
}

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

interface Url { chunk_index: number; url: string; expires_at: string }

describe('multipart uploads', () => {
  let sim: Simulator;
  afterEach(() => sim.close());

  async function start(options: SimulatorOptions = {}, ...names: ApiReading[]): Promise<Simulator> {
    sim = await startSimulator({ lifecycle: FAST, multipart: { chunkSize: CHUNK }, variants: readings(...names), ...options });
    return sim;
  }
  const create = (totalSize: number, extra: Record<string, unknown> = {}) =>
    callApi(sim, 'POST', '/assets/multipart-uploads', { json: { filename: 'big.mp4', type: 'video', total_size: totalSize, user_metadata: { tlm_source: 's3://b/big.mp4' }, ...extra } });
  const put = (url: string, body: Buffer, headers: Record<string, string> = {}) => fetch(url, { method: 'PUT', body, headers });
  const chunkOf = (bytes: Buffer, index: number) => bytes.subarray((index - 1) * CHUNK, index * CHUNK);
  const report = (uploadId: string, chunks: Array<{ index: number; etag: string; size: number }>) =>
    callApi(sim, 'POST', `/assets/multipart-uploads/${uploadId}`, {
      json: { completed_chunks: chunks.map((c) => ({ chunk_index: c.index, proof: c.etag, proof_type: 'etag', chunk_size: c.size })) },
    });

  async function uploadAll(bytes: Buffer, urls: Url[], uploadId: string): Promise<{ status: number; body: Record<string, unknown> }> {
    const done = [];
    for (const { chunk_index: index, url } of urls) {
      const response = await put(url, chunkOf(bytes, index));
      expect(response.status).toBe(200);
      done.push({ index, etag: (response.headers.get('etag') ?? '').replace(/"/g, ''), size: chunkOf(bytes, index).length });
    }
    return report(uploadId, done);
  }

  it('creates a session that reserves an asset, takes the chunks, and assembles the same bytes', async () => {
    await start();
    const bytes = video(3 * CHUNK + 1000);
    const created = await create(bytes.length);
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ chunk_size: CHUNK, total_chunks: 4 });
    expect(created.body.upload_urls).toHaveLength(4);
    const assetId = created.body.asset_id as string;
    expect(sim.asset(assetId)).toMatchObject({ method: 'multipart', status: 'processing', userMetadata: { tlm_source: 's3://b/big.mp4' } });

    const reported = await uploadAll(bytes, created.body.upload_urls as Url[], created.body.upload_id as string);
    expect(reported.body).toMatchObject({ asset_id: assetId, processed_chunks: 4, duplicate_chunks: 0, total_completed: 4 });
    expect(reported.body.url).toEqual(expect.any(String));
    const asset = await sim.waitForAsset(assetId);
    expect(asset.status).toBe('ready');
    expect(asset.sha256).toBe(sha256(bytes));
    expect(asset.meta?.size).toBe(bytes.length);
    expect(sim.uploads()[0]).toMatchObject({ status: 'completed', reported: 4, putsAfterReport: 0 });
    expect(sim.counts().assetsBySourcePath.get('multipart:big.mp4')).toBe(1);
  });

  it('counts duplicates in a report and refuses a wrong size, a wrong proof, or a chunk never PUT', async () => {
    await start();
    const bytes = video(2 * CHUNK);
    const created = await create(bytes.length);
    const [first] = created.body.upload_urls as Url[];
    const wrongSize = await fetch(first?.url ?? '', { method: 'PUT', body: bytes.subarray(0, 10) });
    expect(wrongSize.status).toBe(400);
    const ok = await put(first?.url ?? '', chunkOf(bytes, 1));
    const etag = (ok.headers.get('etag') ?? '').replace(/"/g, '');
    expect((await report(created.body.upload_id, [{ index: 2, etag, size: CHUNK }])).status).toBe(400);
    expect((await report(created.body.upload_id, [{ index: 1, etag: 'f'.repeat(32), size: CHUNK }])).status).toBe(400);
    expect((await report(created.body.upload_id, [{ index: 1, etag, size: CHUNK - 1 }])).status).toBe(400);
    expect((await report(created.body.upload_id, [{ index: 1, etag, size: CHUNK }])).body).toMatchObject({ processed_chunks: 1, total_completed: 1 });
    expect((await report(created.body.upload_id, [{ index: 1, etag: `"${etag}"`, size: CHUNK }])).body).toMatchObject({ processed_chunks: 0, duplicate_chunks: 1 });
    expect((await report(created.body.upload_id, [{ index: 1, etag, size: CHUNK }])).body.url).toBeUndefined();
  });

  it('refuses a session over the size limit, and answers 404 for an unknown one', async () => {
    await start({ multipart: { chunkSize: CHUNK, maxTotalSize: 10 * CHUNK } });
    expect((await create(10 * CHUNK + 1)).status).toBe(400);
    expect((await callApi(sim, 'GET', `/assets/multipart-uploads/${'0'.repeat(24)}`)).status).toBe(404);
    expect((await callApi(sim, 'POST', `/assets/multipart-uploads/${'0'.repeat(24)}/presigned-urls`, { json: { start: 1, count: 1 } })).status).toBe(404);
  });

  it('pages the status and the incomplete sessions, and renews URLs (at most 50)', async () => {
    await start();
    const created = await create(60 * CHUNK);
    const id = created.body.upload_id as string;
    await create(CHUNK);
    const status = await callApi(sim, 'GET', `/assets/multipart-uploads/${id}`, { query: { page: '2', page_limit: '50' } });
    expect(status.body).toMatchObject({ status: 'active', chunks_pending: 60, chunks_completed: 0, page_info: { page: 2, total_page: 2, total_results: 60 } });
    expect(status.body.uploaded_chunks).toHaveLength(10);
    const list = await callApi(sim, 'GET', '/assets/multipart-uploads', { query: { page_limit: '1' } });
    expect(list.body.data).toHaveLength(1);
    expect(list.body.page_info.total_results).toBe(2);
    expect((await callApi(sim, 'GET', '/assets/multipart-uploads', { query: { page: '3', page_limit: '1' } })).body.data).toEqual([]);
    const renewed = await callApi(sim, 'POST', `/assets/multipart-uploads/${id}/presigned-urls`, { json: { start: 55, count: 10 } });
    expect(renewed.body).toMatchObject({ start_index: 55, count: 6 });
    expect((await callApi(sim, 'POST', `/assets/multipart-uploads/${id}/presigned-urls`, { json: { start: 1, count: 51 } })).status).toBe(400);
  });

  it('chunk faults: a reset mid-body, a 503 and an expired URL store nothing', async () => {
    await start();
    const bytes = video(CHUNK);
    const created = await create(bytes.length);
    const [first] = created.body.upload_urls as Url[];
    for (const mode of ['reset', '5xx', 'expired'] as const) {
      sim.faults.set({ chunkPut: { nth: [1], modes: [mode] } });
      const outcome = await put(first?.url ?? '', bytes).then((r) => r.status, () => 'network-error');
      expect(outcome).toBe(mode === 'reset' ? 'network-error' : mode === '5xx' ? 503 : 403);
      expect(sim.uploads()[0]?.puts.get(1)).toBe(0);
    }
    expect((await put(first?.url ?? '', bytes)).status).toBe(200);
  });

  it('an expired URL is refused until renewed; an expired session fails its asset', async () => {
    await start({ clock: 'manual', multipart: { chunkSize: CHUNK, urlTtlMs: 1000 } });
    const bytes = video(CHUNK);
    const created = await create(bytes.length);
    await sim.advance(1001);
    expect((await put((created.body.upload_urls as Url[])[0]?.url ?? '', bytes)).status).toBe(403);
    const renewed = await callApi(sim, 'POST', `/assets/multipart-uploads/${created.body.upload_id}/presigned-urls`, { json: { start: 1, count: 1 } });
    expect((await put((renewed.body.upload_urls as Url[])[0]?.url ?? '', bytes)).status).toBe(200);
    sim.expireUpload(created.body.upload_id);
    expect(sim.asset(created.body.asset_id)?.status).toBe('failed');
    expect((await callApi(sim, 'GET', '/assets/multipart-uploads')).body.data).toEqual([]);
  });

  it('a lost create answer leaves the session and its asset (postAcceptThenFail)', async () => {
    await start({ faults: { postAcceptThenFail: { nth: [1], mode: 'drop', routes: ['POST /assets/multipart-uploads'] } } });
    await expect(create(CHUNK)).rejects.toThrow();
    expect(sim.uploads()).toHaveLength(1);
    expect((await callApi(sim, 'GET', '/assets', { query: { filename: 'big.mp4' } })).body.data).toHaveLength(1);
  });

  it('readings: URLs used once, signed headers, bare proofs, no url, listing at completion, 400 past the end', async () => {
    await start({}, 'chunk-url=once', 'upload-headers=required', 'proof=bare', 'upload-completion=no-url', 'multipart-asset-listed=at-complete', 'paging-past-end=400', 'status-chunks=reported', 'initial-urls=partial', 'create-upload-status=200', 'presigned-count=clamp');
    const bytes = video(12 * CHUNK);
    const created = await create(bytes.length);
    expect(created.status).toBe(200);
    expect(created.body.upload_urls).toHaveLength(10);
    const headers = created.body.upload_headers as Record<string, string>;
    expect(Object.keys(headers)).toEqual([SIGNED_HEADER]);
    const [first] = created.body.upload_urls as Url[];
    expect((await put(first?.url ?? '', chunkOf(bytes, 1))).status).toBe(403);
    const once = await put(first?.url ?? '', chunkOf(bytes, 1), headers);
    expect(once.status).toBe(200);
    expect((await put(first?.url ?? '', chunkOf(bytes, 1), headers)).status).toBe(403);
    const etag = once.headers.get('etag') ?? '';
    expect((await report(created.body.upload_id, [{ index: 1, etag, size: CHUNK }])).status).toBe(400);
    expect((await report(created.body.upload_id, [{ index: 1, etag: etag.replace(/"/g, ''), size: CHUNK }])).status).toBe(200);
    expect((await callApi(sim, 'GET', '/assets', { query: { filename: 'big.mp4' } })).body.data).toEqual([]);
    const status = await callApi(sim, 'GET', `/assets/multipart-uploads/${created.body.upload_id}`);
    expect(status.body.uploaded_chunks).toHaveLength(1);
    expect((await callApi(sim, 'GET', `/assets/multipart-uploads/${created.body.upload_id}`, { query: { page: '2' } })).status).toBe(400);
    expect((await callApi(sim, 'POST', `/assets/multipart-uploads/${created.body.upload_id}/presigned-urls`, { json: { start: 1, count: 60 } })).body.count).toBe(12);
  });
});
