import type { Handler } from './api-context.js';
import { deleteVideo, listVideos, retrieveIndex, retrieveVideo, updateVideo } from './api-indexes.js';
import { createTask, deleteTask, listTasks, retrieveTask } from './api-tasks.js';
import type { RouteId } from './routes.js';

export const HANDLERS: Record<RouteId, Handler> = {
  'GET /indexes/{index_id}': retrieveIndex,
  'GET /indexes/{index_id}/videos': listVideos,
  'GET /indexes/{index_id}/videos/{video_id}': retrieveVideo,
  'PATCH /indexes/{index_id}/videos/{video_id}': updateVideo,
  'DELETE /indexes/{index_id}/videos/{video_id}': deleteVideo,
  'POST /tasks': createTask,
  'GET /tasks': listTasks,
  'GET /tasks/{task_id}': retrieveTask,
  'DELETE /tasks/{task_id}': deleteTask,
};
