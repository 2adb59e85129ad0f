import type { SourceObject } from '../sources/types.js';
import { UNFINISHED, statusIn } from '../state/lifecycle.js';
import { basename, filenameForms, isFolderMarker, keyFilter } from './filters.js';
import { contentKey, fingerprintContent, isFingerprintOf, objectUri } from './identity.js';
import { mapOrdered } from './ordered.js';
import { preflightKey, preflightListing, preflightProbe } from './requirements.js';
import type { IndexedVideoRef, LedgerEntry, PlanInput, PlanItem, PlanMatch, PlanSummary } from './types.js';

/** Ledger statuses that mean "a task exists and is not finished". */

type Decision = { item: PlanItem; deferKey?: string } | undefined;

/**
 * Diffs a source against an index and what earlier runs recorded. Pure: every effect comes in
 * through `input` (async iterables and the injected edges). Yields one item per object, in listing
 * order, except items whose only evidence is an ambiguous file-name match: those follow at the end,
 * once every key is known, so a basename collision is reported rather than guessed.
 */
export async function* planMigration(input: PlanInput, summary: PlanSummary = emptySummary()): AsyncGenerator<PlanItem> {
  const { options } = input;
  const filter = keyFilter(options);
  const uri = (key: string) => objectUri(input.source.bucket, key);
  const ledgerByUri = new Map<string, LedgerEntry>();
  const ledgerByContent = new Map<string, LedgerEntry>();
  const videos = [...input.videos];
  const videoIds = new Set(videos.map((v) => v.videoId));
  // A ledger entry says "indexed" only while its video is still in the index: the index decides.
  const stillIndexed = (entry: LedgerEntry) => entry.status !== 'ready' || !entry.videoId || videoIds.has(entry.videoId);
  for (const entry of input.ledger) {
    ledgerByUri.set(entry.uri, entry);
    // Content that is indexed or on its way, under any key: another key with it is a duplicate, whatever its twin's status.
    if ((entry.status === 'ready' || statusIn(UNFINISHED, entry.status)) && stillIndexed(entry)) ledgerByContent.set(contentKey(entry.size, entry.etag), entry);
  }
  const videosByName = groupBy(videos, (v) => v.filename);
  const videosBySize = groupBy(videos.filter((v) => v.size !== undefined), (v) => String(v.size));
  const metadataCache = new Map<string, Promise<Record<string, unknown> | undefined>>();
  const metadataOf = (video: IndexedVideoRef) => {
    if (video.userMetadata) return Promise.resolve(video.userMetadata);
    let cached = metadataCache.get(video.videoId);
    if (!cached) metadataCache.set(video.videoId, (cached = input.edges.videoMetadata(video.videoId)));
    return cached;
  };
  const inFlightByName = groupBy(input.inFlight, (t) => t.filename);
  const contentOwner = new Map<string, string>();
  /** `basename\0size` -> keys whose only evidence was a legacy file-name match. */
  const legacyMatches = new Map<string, PlanItem[]>();
  /** `basename\0size` -> distinct ETags and every key seen among all planned keys. */
  const etagsByNameSize = new Map<string, Set<string>>();
  const keysByNameSize = new Map<string, string[]>();

  const keyOf = (sourceUri: string) => (sourceUri.startsWith(uri('')) ? sourceUri.slice(uri('').length) : sourceUri);
  /** A video of another key with this object's content (size and ETag in its fingerprint). */
  const indexedTwin = async (object: SourceObject): Promise<{ uri: string; videoId: string } | undefined> => {
    const content = contentKey(object.size, object.etag);
    for (const video of videosBySize.get(String(object.size)) ?? []) {
      const fp = fingerprintContent(await metadataOf(video));
      if (fp && fp.content === content && fp.uri !== uri(object.key)) return { uri: fp.uri, videoId: video.videoId };
    }
    return undefined;
  };

  const decide = async (object: SourceObject): Promise<Decision> => {
    if (object.key.endsWith('/') || isFolderMarker(object.key, object.size)) return undefined;
    const base: PlanItem = {
      key: object.key,
      size: object.size,
      etag: object.etag,
      lastModified: object.lastModified,
      action: 'upload',
      ...(object.sha256 ? { sha256: object.sha256 } : {}),
      ...(object.storageClass && object.storageClass !== 'STANDARD' ? { storageClass: object.storageClass } : {}),
    };
    const exclusion = filter(object.key, object.size);
    if (exclusion?.reason === 'excluded') return { item: { ...base, action: 'skip', reason: 'excluded', detail: exclusion.detail } };
    // Before matching: an object the platform cannot be sent must not own content other keys share.
    const unsupported = preflightKey(object.key);
    if (unsupported) return { item: { ...base, action: 'fail', reason: unsupported.code, detail: unsupported.detail } };

    const name = basename(object.key);
    const nameSize = `${name}\0${object.size}`;
    // The platform may keep the name decoded or as the presigned URL carried it: either is a match.
    const forms = filenameForms(object.key);
    const named = <T>(byName: Map<string, T[]>): T[] => forms.flatMap((form) => byName.get(form) ?? []);
    const sameName = named(videosByName);
    // Collisions only matter where a legacy match is possible: track just those names, not every key.
    if (sameName.some((v) => v.size === undefined || v.size === object.size)) {
      let etags = etagsByNameSize.get(nameSize);
      if (!etags) etagsByNameSize.set(nameSize, (etags = new Set()));
      etags.add(object.etag);
      const keys = keysByNameSize.get(nameSize);
      if (keys) keys.push(object.key);
      else keysByNameSize.set(nameSize, [object.key]);
    }

    if (options.incremental) {
      const ledger = ledgerByUri.get(uri(object.key));
      if (ledger && ledger.size === object.size && ledger.etag === object.etag && stillIndexed(ledger)) {
        const match: PlanMatch = { by: 'ledger', taskId: ledger.taskId, videoId: ledger.videoId };
        if (ledger.status === 'ready') return { item: { ...base, action: 'skip', reason: 'indexed', match } };
        if (statusIn(UNFINISHED, ledger.status)) return { item: { ...base, action: 'skip', reason: 'in_progress', match } };
        if (ledger.status === 'failed') {
          return {
            item: {
              ...base,
              action: 'fail',
              reason: ledger.errorCode ?? 'failed',
              detail: 'failed in an earlier run: fix the file, or apply with --retry-failed to resubmit',
              match,
            },
          };
        }
      }
      const content = contentKey(object.size, object.etag);
      const owner = contentOwner.get(content);
      if (owner !== undefined) return { item: { ...base, action: 'skip', reason: 'duplicate', match: { by: 'source_content', duplicateOf: owner } } };
      contentOwner.set(content, object.key);
      const sameContent = ledgerByContent.get(content);
      if (sameContent && sameContent.uri !== uri(object.key)) {
        return { item: { ...base, action: 'skip', reason: 'duplicate', match: { by: 'source_content', duplicateOf: keyOf(sameContent.uri), videoId: sameContent.videoId } } };
      }
    }

    if (exclusion) return { item: { ...base, action: 'fail', reason: exclusion.reason, detail: exclusion.detail } };

    if (options.incremental) {
      const candidates = sameName.filter((v) => v.size === undefined || v.size === object.size);
      const legacy: IndexedVideoRef[] = [];
      for (const video of candidates) {
        const metadata = (await metadataOf(video)) ?? {};
        if (typeof metadata.tlm_source !== 'string') {
          legacy.push(video);
          continue;
        }
        if (isFingerprintOf(metadata, uri(object.key), object.etag)) {
          return { item: { ...base, action: 'skip', reason: 'indexed', match: { by: 'fingerprint', videoId: video.videoId } } };
        }
      }
      const twin = await indexedTwin(object);
      if (twin) return { item: { ...base, action: 'skip', reason: 'duplicate', match: { by: 'source_content', duplicateOf: keyOf(twin.uri), videoId: twin.videoId } } };
      // A task in flight under this file name is this object's only when its video's fingerprint says so.
      for (const task of named(inFlightByName)) {
        const metadata = task.videoId ? await input.edges.videoMetadata(task.videoId).catch(() => undefined) : undefined;
        if (isFingerprintOf(metadata, uri(object.key), object.etag)) {
          return { item: { ...base, action: 'skip', reason: 'in_progress', match: { by: 'task', taskId: task.taskId, videoId: task.videoId } } };
        }
      }
      const first = legacy[0];
      if (first && options.match === 'filename') {
        return { item: { ...base, action: 'skip', reason: 'indexed', match: { by: 'filename_size', videoId: first.videoId } }, deferKey: nameSize };
      }
    }

    const listingFailure = preflightListing(object, options.requirements);
    if (listingFailure) return { item: { ...base, action: 'fail', reason: listingFailure.code, detail: listingFailure.detail } };
    if (options.probe && input.edges.probe) {
      const probe = await input.edges.probe(object);
      const probeFailure = preflightProbe(probe, options.requirements);
      const withProbe = { ...base, probe };
      if (probeFailure) return { item: { ...withProbe, action: 'fail', reason: probeFailure.code, detail: probeFailure.detail } };
      return { item: withProbe };
    }
    return { item: base };
  };

  for await (const decision of mapOrdered(input.objects, input.concurrency ?? 16, decide)) {
    if (!decision) {
      summary.ignored += 1;
      continue;
    }
    if (decision.deferKey !== undefined) {
      const group = legacyMatches.get(decision.deferKey) ?? [];
      group.push(decision.item);
      legacyMatches.set(decision.deferKey, group);
      continue;
    }
    count(summary, decision.item);
    yield decision.item;
  }

  for (const [nameSize, items] of legacyMatches) {
    const distinct = etagsByNameSize.get(nameSize)?.size ?? 1;
    for (const item of items) {
      // Two different files share this name and size: which one the legacy video is cannot be known.
      const resolved: PlanItem =
        distinct > 1
          ? {
              key: item.key,
              size: item.size,
              etag: item.etag,
              lastModified: item.lastModified,
              action: 'upload',
              detail: 'a legacy video has this file name and size, but so do other keys: not guessed, uploaded',
              // Every other key of this name and size, not only the deferred ones: a key matched another way is still a candidate.
              collision: (keysByNameSize.get(nameSize) ?? []).filter((k) => k !== item.key),
              ...(item.sha256 ? { sha256: item.sha256 } : {}),
            }
          : item;
      if (resolved.collision) summary.collisions += 1;
      count(summary, resolved);
      yield resolved;
    }
  }
}

/** Items grouped by a key, in their order. */
export function groupBy<T>(items: Iterable<T>, keyOf: (item: T) => string): Map<string, T[]> {
  const map = new Map<string, T[]>();
  for (const item of items) {
    const key = keyOf(item);
    const group = map.get(key);
    if (group) group.push(item);
    else map.set(key, [item]);
  }
  return map;
}

export function emptySummary(): PlanSummary {
  return { total: 0, counts: { upload: 0, skip: 0, fail: 0 }, bytes: { upload: 0, total: 0 }, reasons: {}, indexedBy: {}, collisions: 0, ignored: 0 };
}

/** Adds one item to a summary. */
export function count(summary: PlanSummary, item: PlanItem): void {
  summary.total += 1;
  summary.counts[item.action] += 1;
  summary.bytes.total += item.size;
  if (item.action === 'upload') summary.bytes.upload += item.size;
  if (item.reason) summary.reasons[item.reason] = (summary.reasons[item.reason] ?? 0) + 1;
  if (item.action === 'skip' && item.reason === 'indexed' && item.match) {
    summary.indexedBy[item.match.by] = (summary.indexedBy[item.match.by] ?? 0) + 1;
  }
}

