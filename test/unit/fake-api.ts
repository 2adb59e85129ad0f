import { ApiError, TransportError } from '../../src/errors.js';
import type { ExecutorApi, ExecutorSource } from '../../src/executor/types.js';
import type { SourceObject } from '../../src/sources/types.js';
import type { CreateTaskRequest, IndexedVideo, ListTasksQuery, Page, Task } from '../../src/twelvelabs/types.js';
import type { FakeClock } from './fake-clock.js';

export type Behaviour = 'ok' | 'accept-then-lose' | 'refuse-5xx' | 'reject-400' | 'throttle' | 'quota';

/** An in-memory API: records tasks, plays a scripted behaviour per POST, lists and reads like the real one. */
export class FakeApi implements ExecutorApi {
  readonly tasks: Array<Task & { metadata: Record<string, unknown>; visible: boolean }> = [];
  posts = 0;
  inFlight = 0;
  maxInFlight = 0;
  constructor(
    private readonly clock: FakeClock,
    private readonly script: (request: CreateTaskRequest, n: number) => Behaviour = () => 'ok',
    private readonly metadataReadable = true,
  ) {}

  /** Fake-clock time of every POST. */
  readonly postTimes: number[] = [];

  async createTask(request: CreateTaskRequest) {
    const n = ++this.posts;
    this.postTimes.push(this.clock.now());
    this.inFlight += 1;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    await new Promise((r) => setImmediate(r));
    this.inFlight -= 1;
    const behaviour = this.script(request, n);
    if (behaviour === 'refuse-5xx') throw new ApiError({ status: 503, code: 'http_503', message: 'unavailable', method: 'POST', path: '/tasks' });
    if (behaviour === 'reject-400') throw new ApiError({ status: 400, code: 'parameter_invalid', message: 'bad url', method: 'POST', path: '/tasks' });
    if (behaviour === 'throttle') throw new ApiError({ status: 429, code: 'too_many_requests', message: 'slow down', method: 'POST', path: '/tasks', retryAfterMs: 1000 });
    if (behaviour === 'quota') throw new ApiError({ status: 429, code: 'usage_limit_exceeded', message: 'daily quota', method: 'POST', path: '/tasks', rateLimitResetMs: this.clock.now() + 5 * 3600_000 });
    const id = (this.tasks.length + 1).toString(16).padStart(24, '0');
    const filename = decodeURIComponent(new URL(request.videoUrl).pathname.split('/').pop() ?? '');
    this.tasks.push({ _id: id, video_id: `v${id.slice(1)}`, status: 'validating', created_at: new Date(this.clock.now()).toISOString(), system_metadata: { filename }, metadata: request.userMetadata, visible: true });
    if (behaviour === 'accept-then-lose') throw new TransportError({ method: 'POST', path: '/tasks', reason: 'network', detail: 'socket hang up' });
    return { taskId: id, videoId: `v${id.slice(1)}` };
  }

  async listTasks(query: ListTasksQuery): Promise<Page<Task>> {
    const all = this.tasks.filter((t) => t.visible && (!query.filename || t.system_metadata?.filename === query.filename) && (!query.createdAt || (t.created_at ?? '') >= query.createdAt));
    const page = query.page ?? 1;
    const limit = query.pageLimit ?? 10;
    return { data: all.slice((page - 1) * limit, page * limit), page_info: { page, limit_per_page: limit, total_page: Math.max(1, Math.ceil(all.length / limit)), total_results: all.length } };
  }

  async getTask(taskId: string): Promise<Task> {
    const task = this.tasks.find((t) => t._id === taskId);
    if (!task) throw new ApiError({ status: 404, code: 'resource_not_exist', message: 'no task', method: 'GET', path: '/tasks' });
    return task;
  }

  /** A video exists once its task is ready (as in the simulator). */
  async listVideos(_indexId: string, query: { page?: number } = {}): Promise<Page<IndexedVideo>> {
    const all = this.tasks.filter((t) => t.visible && t.status === 'ready').map((t) => ({ _id: t.video_id as string, system_metadata: { filename: t.system_metadata?.filename, size: 100 } }));
    const page = query.page ?? 1;
    const data = page === 1 ? all : [];
    return { data, page_info: { page, limit_per_page: 50, total_page: 1, total_results: all.length } };
  }

  async getVideo(_indexId: string, videoId: string): Promise<IndexedVideo> {
    const task = this.tasks.find((t) => t.video_id === videoId);
    if (!task || !this.metadataReadable) throw new ApiError({ status: 404, code: 'resource_not_exist', message: 'no video', method: 'GET', path: '/videos' });
    return { _id: videoId, user_metadata: task.metadata };
  }

  postsFor(key: string): number {
    return this.tasks.filter((t) => t.metadata.tlm_source === `s3://bkt/${key}`).length;
  }
}

export class FakeSource implements ExecutorSource {
  readonly objects = new Map<string, SourceObject>();
  async head(key: string) {
    return this.objects.get(key);
  }
  async presignGet(key: string) {
    return `https://s3.test/bkt/${key.split("/").map(encodeURIComponent).join("/")}?X-Amz-Credential=AKIA&X-Amz-Signature=deadbeefsecret`;
  }
}

