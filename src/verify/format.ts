import { printable } from '../errors.js';
import { isDeletable, type DeletionOutcome, type DuplicateGroup } from './dedupe.js';
import type { VerifyResult } from './types.js';
import { isClean } from './verify.js';

const SHOWN = 50;

function keyText(key: string): string {
  return printable(key);
}

function* list<T>(title: string, entries: T[], line: (entry: T) => string): Generator<string> {
  if (entries.length === 0) return;
  yield `\n${title} (${entries.length.toLocaleString('en-US')}):\n`;
  for (const entry of entries.slice(0, SHOWN)) yield `  ${line(entry)}\n`;
  if (entries.length > SHOWN) yield `  ... and ${(entries.length - SHOWN).toLocaleString('en-US')} more (--json lists all)\n`;
}

const UNMATCHED_WHY: Record<string, string> = {
  no_object: 'no object of the source has this name (and size)',
  source_changed: 'its object changed since it was uploaded (another ETag): a stale copy',
  outside_source: 'uploaded from outside the verified source',
  ambiguous: 'no fingerprint, and several objects share its name and size',
};

/** Commands to run next, ready to paste (built by the CLI, which knows the flags and paths given). */
export interface VerifyNextCommands {
  /** Re-plan this source (missing or failed objects). */
  plan: string;
  /** Follow tasks still running. */
  refresh: string;
  /** See the copies to delete. */
  dedupe: string;
}

/** The verify result for a person. */
export function* formatVerify(r: VerifyResult, index: { id: string; name?: string | undefined }, next: VerifyNextCommands): Generator<string> {
  const n = (x: number) => x.toLocaleString('en-US');
  yield `Verified ${r.source} against index ${index.id}${index.name ? ` (${index.name})` : ''}: ${n(r.objects)} objects expected (${n(r.excluded)} excluded), `;
  yield `${n(r.indexed)} indexed once, ${n(r.coveredByDuplicate.length)} covered by a duplicate key, ${n(r.missing.length)} missing, ${n(r.inProgress.length)} in progress, `;
  yield `${n(r.failed.length)} failed, ${n(r.duplicated.length)} duplicated; ${n(r.unmatched.length)} videos match no object.\n`;
  yield* list('Missing', r.missing, (e) => `${keyText(e.key)}${e.detail ? ` (${e.detail})` : ''}`);
  yield* list('Still in progress', r.inProgress, (e) => `${keyText(e.key)}: task ${e.taskId} ${e.status}`);
  yield* list('Failed', r.failed, (e) => `${keyText(e.key)}: ${e.code}: ${e.message}`);
  yield* list('Duplicated in the index', r.duplicated, (e) => `${keyText(e.key)}: ${e.videos.length} videos: ${e.videos.map((v) => `${v.videoId} (${v.by === 'fingerprint' ? 'fingerprint' : 'filename+size'}, created ${v.createdAt ?? '?'})`).join(', ')}`);
  yield* list('Videos matching no object', r.unmatched, (e) => `${e.videoId} ${keyText(e.filename)}${e.size === undefined ? '' : ` ${e.size} bytes`}: ${UNMATCHED_WHY[e.reason] ?? e.reason}${e.tlmSource ? ` (${keyText(e.tlmSource)})` : ''}`);
  if (isClean(r)) {
    yield '\nVerified: every object is in the index exactly once.\n';
    return;
  }
  yield '\nNot verified. Next:\n';
  if (r.missing.length || r.failed.length) yield `  missing or failed objects: fix what failed, then re-plan this source and apply the plan:\n      ${next.plan}\n`;
  if (r.inProgress.length) yield `  tasks still running: follow them, then verify again:\n      ${next.refresh}\n`;
  if (r.duplicated.length) yield `  duplicates: see the copies to delete:\n      ${next.dedupe}\n`;
}

function copyText(c: { videoId: string; createdAt?: string | undefined; taskId?: string | undefined }): string {
  return `${c.videoId}  created ${c.createdAt ?? '?'}  task ${c.taskId ?? '(not listed)'}`;
}

/** The dedupe plan (and outcome) for a person. */
export function* formatDedupe(
  o: { indexId: string; indexName?: string | undefined; dryRun: boolean; groups: DuplicateGroup[]; deleted: DeletionOutcome[]; recordedIn?: string | undefined },
  next: { delete: string },
): Generator<string> {
  const deletable = o.groups.filter(isDeletable);
  const copies = deletable.reduce((sum, g) => sum + g.remove.length, 0);
  const reported = o.groups.length - deletable.length;
  if (o.groups.length === 0) {
    yield `Index ${o.indexId}${o.indexName ? ` (${o.indexName})` : ''}: no duplicates; nothing to delete.\n`;
    return;
  }
  const many = (n: number, one: string, more: string) => `${n} ${n === 1 ? one : more}`;
  yield `Index ${o.indexId}${o.indexName ? ` (${o.indexName})` : ''}: ${many(deletable.length, 'group', 'groups')} of copies of the same object, ${many(copies, 'copy', 'copies')} to delete${o.dryRun ? ' (dry run: nothing deleted)' : ''}`;
  yield reported > 0 ? `; ${many(reported, 'group shares', 'groups share')} only a file name and size: reported, never deleted (nothing proves ${reported === 1 ? 'its videos are' : 'they are'} one object).\n` : '.\n';
  for (const g of o.groups) {
    yield g.by === 'fingerprint' ? `  ${keyText(g.source ?? g.filename)}  [same tlm_source and tlm_etag]\n` : `  "${keyText(g.filename)}", ${g.size ?? '?'} bytes  [same filename and size, no fingerprint: check by hand]\n`;
    const [kept, removed] = isDeletable(g) ? ['keep  ', 'delete'] : ['video ', 'video '];
    yield `    ${kept}  ${copyText(g.keep)}\n`;
    for (const c of g.remove) yield `    ${removed}  ${copyText(c)}\n`;
  }
  if (copies === 0) return;
  if (o.dryRun) {
    yield `To delete these ${copies} copies (each video, then its task), run:\n      ${next.delete}\n`;
    return;
  }
  const failed = o.deleted.filter((d) => d.error);
  yield `Deleted ${o.deleted.filter((d) => d.videoDeleted).length} videos and ${o.deleted.filter((d) => d.taskDeleted).length} tasks.`;
  yield o.recordedIn ? ` Recorded in the history of ${o.recordedIn}.\n` : ' No state file: the deletions are recorded only in this output (pass --state to keep a history).\n';
  for (const d of failed) yield `  failed: video ${d.videoId}${d.taskId ? ` / task ${d.taskId}` : ''}: ${d.error}\n`;
}
