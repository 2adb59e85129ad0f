import {
  DEFAULT_REQUIREMENTS,
  DEFAULT_VIDEO_EXTENSIONS,
  keyFilter,
  preflightListing,
  requirementsForModels,
} from '../planner/index.js';
import { S3Source, createS3Client, resolveS3Settings } from '../sources/s3.js';
import { parseS3Uri } from '../sources/uri.js';
import { IN_FLIGHT_STATUSES, listTasks } from '../twelvelabs/index-reader.js';
import { verifyIndex, type VerifyResult } from '../verify/index.js';
import { connectIndex, createApiClient, resolveBaseUrl, type CommandDeps } from './config.js';
import { metadataReader, readVideos, recordedVideoIds, stateForIndex, toTaskRef } from './index-access.js';

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
  const { env, log, progress } = deps;
  const spec = parseS3Uri(args.source);
  const apiUrl = resolveBaseUrl(args.apiUrl, env);
  const api = createApiClient({ apiUrl, env, fetch: deps.fetch });
  const index = await connectIndex(api, args.index, apiUrl);
  const source = new S3Source(deps.s3 ?? createS3Client(resolveS3Settings({ endpoint: args.s3Endpoint, region: args.s3Region }, env)), spec.bucket);
  await source.checkAccess(spec.prefix);
  const known = await stateForIndex(args.state, args.index);

  const { videos, ours } = await readVideos(api, args.index, recordedVideoIds(known?.state), progress);
  const tasks = await listTasks(api, { indexId: args.index, status: [...IN_FLIGHT_STATUSES, 'failed'] }, { onPage: (_k, p, t) => progress.update(`index: page ${p}/${t} of unfinished tasks`) });
  const filter = keyFilter({ include: args.include, exclude: args.exclude, extensions: args.extensions?.length ? args.extensions : DEFAULT_VIDEO_EXTENSIONS, allFiles: false });
  const requirements = requirementsForModels(DEFAULT_REQUIREMENTS, (index.models ?? []).map((m) => m.model_name));
  const sourceUri = `s3://${spec.bucket}${spec.prefix ? `/${spec.prefix}` : ''}`;
  let listed = 0;
  const result = await verifyIndex({
    bucket: spec.bucket,
    sourceUri,
    objects: (async function* () {
      for await (const object of source.list({ prefix: spec.prefix })) {
        listed += 1;
        if (listed % 1000 === 0) progress.update(`source: ${listed.toLocaleString('en-US')} objects listed`);
        yield object;
      }
    })(),
    excluded: (object) => filter(object.key, object.size) !== undefined,
    unindexable: (object) => preflightListing(object, requirements),
    videos,
    tasks: tasks.map(toTaskRef),
    known: (uri) => known?.state.items[uri],
    edges: metadataReader(api, args.index),
  });
  progress.done();
  log.info({ objects: result.objects, videos: videos.length, tasks: tasks.length, metadataFetches: result.metadataFetches, markerFilter: ours.verdict }, 'verify done');
  return { result, indexId: args.index, indexName: index.index_name, statePath: known?.path, cost: { videos: videos.length, tasks: tasks.length, metadataFetches: result.metadataFetches } };
}
