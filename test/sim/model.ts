import { randomBytes } from 'node:crypto';

export const TASK_STATUSES = ['uploading', 'validating', 'pending', 'queued', 'indexing', 'ready', 'failed'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

export type MetadataValue = string | number | boolean;
export type UserMetadata = Record<string, MetadataValue>;

/** What the platform learns about a video file while validating it. */
export interface VideoMeta {
  filename: string;
  size: number;
  duration: number;
  width: number;
  height: number;
  fps: number;
}

/** Why a task failed: the platform's error code and message. */
export interface TaskFailure {
  code: string;
  message: string;
}

export interface IndexModel {
  name: string;
  options: string[];
}

export interface SimIndex {
  id: string;
  name: string;
  models: IndexModel[];
  createdAt: number;
  updatedAt: number;
  expiresAt?: number;
}

export type TaskSource =
  | { kind: 'url'; url: string; path: string }
  | { kind: 'file'; filename: string; bytes: Buffer }
  | { kind: 'seed' };

export interface SimTask {
  id: string;
  videoId: string;
  indexId: string;
  status: TaskStatus;
  createdAt: number;
  updatedAt: number;
  /** Creation order, the tie-breaker for equal timestamps. */
  seq: number;
  filename: string;
  source: TaskSource;
  enableVideoStream: boolean;
  userMetadata: UserMetadata;
  /** Filled in once validation has read the file. */
  meta?: VideoMeta;
  failure?: TaskFailure;
  videoDeleted: boolean;
}

export interface SimVideo {
  id: string;
  indexId: string;
  taskId: string;
  assetId?: string;
  createdAt: number;
  updatedAt: number;
  indexedAt: number;
  seq: number;
  meta: VideoMeta;
  userMetadata: UserMetadata;
  streaming: boolean;
}

/** A 24-hex id, the shape of every Twelve Labs id. */
export function newId(): string {
  return randomBytes(12).toString('hex');
}

/** RFC 3339 with milliseconds, UTC. */
export function iso(ms: number): string {
  return new Date(ms).toISOString();
}
