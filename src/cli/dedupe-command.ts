import { StateStore } from '../state/index.js';
import { listTasks } from '../twelvelabs/index-reader.js';
import { findDuplicateGroups, isDeletable, removeCopies, type DeletionOutcome, type DuplicateGroup } from '../verify/index.js';
import { connectIndex, createApiClient, resolveBaseUrl, type CommandDeps } from './config.js';
import { metadataReader, readVideos, recordedVideoIds, stateForIndex } from './index-access.js';
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
  const { env, log, progress } = deps;
  const apiUrl = resolveBaseUrl(args.apiUrl, env);
  const api = createApiClient({ apiUrl, env, fetch: deps.fetch });
  const index = await connectIndex(api, args.index, apiUrl);
  const known = await stateForIndex(args.state, args.index);
  const { videos, ours } = await readVideos(api, args.index, recordedVideoIds(known?.state), progress);
  const tasks = await listTasks(api, { indexId: args.index }, { onPage: (_k, p, t) => progress.update(`index: page ${p}/${t} of tasks`) });
  progress.done();
  const taskByVideo = new Map(tasks.flatMap((t) => (t.video_id ? [[t.video_id, { taskId: t._id, status: t.status }] as const] : [])));
  const { groups, metadataFetches } = await findDuplicateGroups(videos, (id) => taskByVideo.get(id), metadataReader(api, args.index));
  log.info({ groups: groups.length, metadataFetches, markerFilter: ours.verdict }, 'dedupe groups');
  const outcome: DedupeOutcome = { indexId: args.index, indexName: index.index_name, dryRun: !args.yes, groups, deleted: [], metadataFetches };
  if (!args.yes || !groups.some(isDeletable)) return outcome;

  const store = known
    ? await StateStore.open(known.path, { uri: known.state.source.uri, bucket: known.state.source.bucket, prefix: known.state.source.prefix, indexId: args.index }, 'dedupe --yes', `tlmigrate ${VERSION}`)
    : undefined;
  try {
    // Items that point at a copy about to go are moved to the copy that stays.
    const itemsByVideo = new Map<string, string[]>();
    for (const [uri, item] of store?.items() ?? []) {
      if (!item.videoId) continue;
      itemsByVideo.set(item.videoId, [...(itemsByVideo.get(item.videoId) ?? []), uri]);
    }
    outcome.deleted = await removeCopies(
      groups,
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
