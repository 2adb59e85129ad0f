import { openRunStore, type ItemStore } from '../state/index.js';
import type { TwelveLabsClient } from '../twelvelabs/client.js';
import type { IndexInfo } from '../twelvelabs/types.js';
import { findDuplicateGroups, isDeletable, removeCopies, type DeletionOutcome, type DuplicateGroup } from '../verify/index.js';
import { connectIndex, createApiClient, resolveBaseUrl, type CommandDeps } from './config.js';
import { metadataReader, readTasks, readVideos, recordedVideoIds, stateForIndex, withWorkFiles } from './index-access.js';
import { VERSION } from './version.js';

export interface DedupeArgs {
  index: string;
  state?: string | undefined;
  yes: boolean;
  apiUrl?: string | undefined;
}

export interface DedupeOutcome {
  indexId: string;
  indexName: string;
  dryRun: boolean;
  groups: DuplicateGroup[];
  deleted: DeletionOutcome[];
  /** The state file whose history records the deletions, if any. */
  recordedIn?: string | undefined;
  metadataFetches: number;
}

/** Finds copies of the same object in an index; with `yes`, deletes all but the oldest ready one. */
export async function runDedupe(args: DedupeArgs, deps: CommandDeps): Promise<DedupeOutcome> {
  const apiUrl = resolveBaseUrl(args.apiUrl, deps.env);
  const api = createApiClient({ apiUrl, env: deps.env, fetch: deps.fetch });
  const index = await connectIndex(api, args.index, apiUrl);
  return dedupeIndex(args, { api, index }, deps);
}

/** What dedupe reads and deletes in the index. */
export interface DedupeEdges {
  api: Pick<TwelveLabsClient, 'listVideos' | 'getVideo' | 'listTasks' | 'deleteVideo' | 'deleteTask'>;
  index: Pick<IndexInfo, 'index_name'>;
}

/**
 * dedupe on its edges (the CLI's client, or the bench's fakes): the index's videos and tasks
 * spilled to temporary files, the state streamed (in one file or in parts); with `yes`, each
 * deletion recorded in the state's history and its items moved to the copy that stays.
 */
export async function dedupeIndex(args: DedupeArgs, edges: DedupeEdges, deps: Pick<CommandDeps, 'log' | 'progress'>): Promise<DedupeOutcome> {
  const { log, progress } = deps;
  const { api } = edges;
  const view = await stateForIndex(args.state, args.index);
  let outcome: DedupeOutcome;
  try {
    outcome = await withWorkFiles('dedupe', async (work) => {
      const { videos, ours } = await readVideos(api, args.index, recordedVideoIds(view), progress, work);
      const { tasks } = await readTasks(api, args.index, progress, work);
      progress.done();
      const { groups, metadataFetches } = await findDuplicateGroups(videos, tasks, metadataReader(api, args.index));
      log.info({ groups: groups.length, metadataFetches, markerFilter: ours.verdict }, 'dedupe groups');
      return { indexId: args.index, indexName: edges.index.index_name, dryRun: !args.yes, groups, deleted: [], metadataFetches };
    });
  } finally {
    await view?.close();
  }
  if (!args.yes || !outcome.groups.some(isDeletable)) return outcome;

  const { source } = view?.header ?? {};
  const store = view && source ? await openRunStore(view.path, { uri: source.uri, bucket: source.bucket, prefix: source.prefix, indexId: args.index }, 'dedupe --yes', `tlmigrate ${VERSION}`, { planItems: 0 }) : undefined;
  try {
    // Items that point at a copy about to go are moved to the copy that stays.
    const itemsByVideo = await itemsOfCopies(store, outcome.groups);
    outcome.deleted = await removeCopies(
      outcome.groups,
      { deleteVideo: (id) => api.deleteVideo(args.index, id), deleteTask: (id) => api.deleteTask(id) },
      async ({ action, group, copy }) => {
        const why = `same tlm_source and tlm_etag (${group.source})`;
        log.info({ action, videoId: copy.videoId, taskId: copy.taskId, kept: group.keep.videoId }, 'dedupe');
        if (!store) return;
        await store.addHistory({ at: new Date().toISOString(), action, videoId: copy.videoId, taskId: copy.taskId, reason: `duplicate of video ${group.keep.videoId}: ${why}`, uri: group.source });
        if (action === 'delete_video') {
          for (const uri of itemsByVideo.get(copy.videoId) ?? []) await store.setItem(uri, { videoId: group.keep.videoId, ...(group.keep.taskId ? { taskId: group.keep.taskId } : {}) }, { durable: true });
        }
      },
    );
    outcome.recordedIn = store?.path;
  } finally {
    await store?.close();
  }
  return outcome;
}

/** The state's items that record a copy about to be deleted, by its video id: one walk of the state, keeping only those. */
async function itemsOfCopies(store: ItemStore | undefined, groups: DuplicateGroup[]): Promise<Map<string, string[]>> {
  const going = new Set(groups.filter(isDeletable).flatMap((g) => g.remove.map((c) => c.videoId)));
  const byVideo = new Map<string, string[]>();
  if (!store) return byVideo;
  for await (const [uri, item] of store.scan()) {
    if (!item.videoId || !going.has(item.videoId)) continue;
    byVideo.set(item.videoId, [...(byVideo.get(item.videoId) ?? []), uri]);
  }
  return byVideo;
}
