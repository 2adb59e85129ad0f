import { ApiFailure, invalid, notProvided } from './api-error.js';
import { param } from './api-context.js';
import type { Handler, Reply } from './api-context.js';
import { booleanField, formFields, text, urlField } from './api-form.js';
import { TASK_STATUSES, newId } from './model.js';
import type { SimTask, TaskSource, TaskStatus, UserMetadata } from './model.js';
import type { FormPart } from './multipart.js';
import { inRange, listingKey, pageOf, parseInstant, parsePaging, parseRange, parseSorting, sortItems } from './query.js';
import { parseUserMetadata } from './validate.js';
import type { ApiVariants } from './variants.js';
import { taskToWire } from './wire.js';

const CREATE_FIELDS = new Set(['index_id', 'video_url', 'video_file', 'enable_video_stream', 'user_metadata']);

/** POST /tasks: a multipart upload by URL or by file; the task starts `validating`. */
export const createTask: Handler = async (req, ctx) => {
  const fields = await formFields(req, CREATE_FIELDS);
  const indexId = text(fields, 'index_id');
  if (indexId === undefined || indexId === '') throw notProvided('index_id');
  const variants = ctx.variants();
  ctx.store.requireIndex(indexId, variants.notFoundStatus);

  const urlPart = fields.get('video_url');
  const filePart = fields.get('video_file');
  if (!urlPart && !filePart) {
    throw new ApiFailure(400, 'parameter_not_provided', 'Either the video_url or the video_file parameter must be provided.');
  }
  if (urlPart && filePart) throw invalid('Provide either the video_url or the video_file parameter, not both.');
  const { source, filename } = urlPart ? fromUrl(urlPart, variants.urlFilename) : fromFile(filePart as FormPart);

  const stream = booleanField(fields, 'enable_video_stream', true);
  const metadataField = text(fields, 'user_metadata');
  const userMetadata: UserMetadata = metadataField === undefined ? {} : parseUserMetadata(metadataField);

  const now = ctx.clock.now();
  const task: SimTask = {
    id: newId(),
    videoId: newId(),
    indexId,
    status: 'validating',
    createdAt: now,
    updatedAt: now,
    seq: ctx.store.nextSeq(),
    filename,
    source,
    enableVideoStream: stream,
    userMetadata,
    videoDeleted: false,
  };
  ctx.store.putTask(task);
  ctx.onTaskCreated(task);
  ctx.lifecycle.start(task);
  return { status: variants.createTaskStatus, json: { _id: task.id, video_id: task.videoId } };
};

/** GET /tasks */
export const listTasks: Handler = (req, ctx) => {
  const q = req.query;
  const paging = parsePaging(q);
  const sorting = parseSorting(q);
  const statuses = q.getAll('status');
  for (const status of statuses) {
    if (!(TASK_STATUSES as readonly string[]).includes(status)) {
      throw invalid(`The status parameter must be one of ${TASK_STATUSES.join(', ')}.`);
    }
  }
  const indexId = q.get('index_id');
  const filename = q.get('filename');
  const duration = parseRange(q, 'duration');
  const width = parseRange(q, 'width');
  const height = parseRange(q, 'height');
  const timestamps = ctx.variants().timestamps;
  const createdAfter = parseInstant(q, 'created_at', timestamps);
  const updatedAfter = parseInstant(q, 'updated_at', timestamps);
  const now = ctx.clock.now();
  const lag = ctx.faults.visibilityLagMs;

  // The lag makes a listing depend on the time as well as on the data.
  const key = `tasks?${listingKey(q)}${lag > 0 ? `@${now}` : ''}`;
  const matching = ctx.store.memo(key, () => sortItems([...ctx.store.tasks.values()], sorting).filter((task) =>
    (task.source.kind === 'seed' || task.createdAt + lag <= now)
    && (indexId === null || task.indexId === indexId)
    && (statuses.length === 0 || statuses.includes(task.status as TaskStatus))
    && (filename === null || task.filename === filename)
    && inRange(task.meta?.duration, duration)
    && inRange(task.meta?.width, width)
    && inRange(task.meta?.height, height)
    && (createdAfter === undefined || task.createdAt >= createdAfter)
    && (updatedAfter === undefined || task.updatedAt >= updatedAfter)));
  const { items, pageInfo } = pageOf(matching, paging);
  return { status: 200, json: { data: items.map((t) => taskToWire(t)), page_info: pageInfo } };
};

/** GET /tasks/{task_id}: the task plus `hls` when streaming was enabled. */
export const retrieveTask: Handler = (req, ctx) => {
  const task = ctx.store.requireTask(param(req, 'task_id'), ctx.variants().notFoundStatus);
  return { status: 200, json: taskToWire(task, { baseOrigin: ctx.origin(), errorField: ctx.variants().taskErrorField }) };
};

/** DELETE /tasks/{task_id}: only `ready` (after its video was deleted) or `failed` tasks. */
export const deleteTask: Handler = (req, ctx): Reply => {
  const variants = ctx.variants();
  const task = ctx.store.requireTask(param(req, 'task_id'), variants.notFoundStatus);
  if (task.status !== 'ready' && task.status !== 'failed') {
    throw new ApiFailure(400, 'task_cannot_be_deleted', `The task ${task.id} has the status ${task.status}. Only tasks with the status ready or failed can be deleted.`);
  }
  if (task.status === 'ready' && !task.videoDeleted) {
    throw new ApiFailure(400, 'task_cannot_be_deleted', `The task ${task.id} is ready. Delete its video ${task.videoId} first.`);
  }
  ctx.store.removeTask(task.id);
  return { status: variants.deleteStatus };
};

function fromUrl(part: FormPart, naming: ApiVariants['urlFilename']): { source: TaskSource; filename: string } {
  const { url, path, lastSegment, rawLastSegment } = urlField(part, 'video_url');
  return { source: { kind: 'url', url, path }, filename: naming === 'encoded' ? rawLastSegment : lastSegment };
}

function fromFile(part: FormPart): { source: TaskSource; filename: string } {
  if (part.kind !== 'file') throw invalid('The video_file parameter must be a file.');
  return { source: { kind: 'file', filename: part.filename, bytes: part.bytes }, filename: part.filename || 'video_file' };
}
