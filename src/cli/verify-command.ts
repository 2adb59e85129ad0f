import {
  DEFAULT_REQUIREMENTS,
  DEFAULT_VIDEO_EXTENSIONS,
  keyFilter,
  preflightListing,
  requirementsForModels,
} from '../planner/index.js';
import { S3Source, createS3Client, resolveS3Settings } from '../sources/s3.js';
import { parseS3Uri } from '../sources/uri.js';
import { IN_FLIGHT_STATUSES, readTasksInto } from '../twelvelabs/index-reader.js';
import { SpilledListing } from '../planner/index-listing.js';
import { verifyIndex, type VerifyResult } from '../verify/index.js';
import type { SourceLister, SourceSpec } from '../sources/types.js';
import type { TwelveLabsClient } from '../twelvelabs/client.js';
import type { IndexInfo, Task } from '../twelvelabs/types.js';
import { connectIndex, createApiClient, resolveBaseUrl, type CommandDeps } from './config.js';
import { knownItems, metadataReader, readVideos, recordedVideoIds, stateForIndex, toTaskRef, withWorkFiles } from './index-access.js';

export interface VerifyArgs {
  source: string;
  index: string;
  state?: string | undefined;
  include: string[];
  exclude: string[];
  extensions?: string[] | undefined;
  apiUrl?: string | undefined;
  s3Endpoint?: string | undefined;
  s3Region?: string | undefined;
}

export interface VerifyOutcome {
  result: VerifyResult;
  indexId: string;
  indexName: string;
  statePath?: string | undefined;
  cost: { videos: number; tasks: number; metadataFetches: number };
}

/** Lists the source and the index, independently of any plan, and reconciles them. */
export async function runVerify(args: VerifyArgs, deps: CommandDeps): Promise<VerifyOutcome> {
  const spec = parseS3Uri(args.source);
  const apiUrl = resolveBaseUrl(args.apiUrl, deps.env);
  const api = createApiClient({ apiUrl, env: deps.env, fetch: deps.fetch });
  const index = await connectIndex(api, args.index, apiUrl);
  const source = new S3Source(deps.s3 ?? createS3Client(resolveS3Settings({ endpoint: args.s3Endpoint, region: args.s3Region }, deps.env)), spec.bucket);
  await source.checkAccess(spec.prefix);
  return verifySource(args, { api, index, lister: source, spec }, deps);
}

/** What verify reads: the index (listings, one video's metadata) and the source's listing. */
export interface VerifyEdges {
  api: Pick<TwelveLabsClient, 'listVideos' | 'getVideo' | 'listTasks'>;
  index: Pick<IndexInfo, 'index_name' | 'models'>;
  lister: SourceLister;
  spec: SourceSpec;
}

/**
 * verify on its edges (the CLI's clients, or the bench's fakes): the state streamed, the index's
 * videos and the source's objects spilled to temporary files, looked up through hash indexes.
 */
export async function verifySource(args: VerifyArgs, edges: VerifyEdges, deps: Pick<CommandDeps, 'log' | 'progress'>): Promise<VerifyOutcome> {
  const { log, progress } = deps;
  const { api, index, spec } = edges;
  const view = await stateForIndex(args.state, args.index);
  try {
    return await withWorkFiles('verify', async (work) => {
      const { videos, count, ours } = await readVideos(api, args.index, recordedVideoIds(view), progress, work);
      // Spilled as the pages arrive, as the videos are: an index can hold millions of tasks not ready.
      const tasks = new SpilledListing<Task>(work.tables, work.lines('tasks'), 'tasks');
      await readTasksInto(api, { indexId: args.index, status: [...IN_FLIGHT_STATUSES, 'failed'] }, tasks, (t) => t, { onPage: (_k, p, t) => progress.update(`index: page ${p}/${t} of unfinished tasks`) });
      const filter = keyFilter({ include: args.include, exclude: args.exclude, extensions: args.extensions?.length ? args.extensions : DEFAULT_VIDEO_EXTENSIONS, allFiles: false });
      const requirements = requirementsForModels(DEFAULT_REQUIREMENTS, (index.models ?? []).map((m) => m.model_name));
      let listed = 0;
      const result = await verifyIndex({
        bucket: spec.bucket,
        sourceUri: `s3://${spec.bucket}${spec.prefix ? `/${spec.prefix}` : ''}`,
        objects: (async function* () {
          for await (const object of edges.lister.list({ prefix: spec.prefix })) {
            listed += 1;
            if (listed % 1000 === 0) progress.update(`source: ${listed.toLocaleString('en-US')} objects listed`);
            yield object;
          }
        })(),
        excluded: (object) => filter(object.key, object.size) !== undefined,
        unindexable: (object) => preflightListing(object, requirements),
        videos,
        tasks: (async function* () {
          for await (const task of tasks.items()) yield toTaskRef(task);
        })(),
        known: knownItems(view),
        edges: metadataReader(api, args.index),
        work,
      });
      progress.done();
      log.info({ objects: result.objects, videos: count, tasks: tasks.size, metadataFetches: result.metadataFetches, markerFilter: ours.verdict }, 'verify done');
      return { result, indexId: args.index, indexName: index.index_name, statePath: view?.path, cost: { videos: count, tasks: tasks.size, metadataFetches: result.metadataFetches } };
    });
  } finally {
    await view?.close();
  }
}
