import type { IncomingHttpHeaders } from 'node:http';
import type { SimClock } from './clock.js';
import type { FaultInjector } from './faults.js';
import type { Lifecycle } from './lifecycle.js';
import type { MultipartSettings } from './api-multipart.js';
import type { FormPart } from './multipart.js';
import type { SimAsset, SimIndexedAsset, SimTask } from './model.js';
import type { SimStore } from './store.js';
import type { ApiVariants } from './variants.js';

export interface ApiRequest {
  params: Record<string, string>;
  query: URLSearchParams;
  body: Buffer;
  headers: IncomingHttpHeaders;
  /** The multipart form, parsed once (the handler and the request log share it). */
  form(): Promise<FormPart[]>;
}

export interface Reply {
  status: number;
  json?: unknown;
}

/** What a route handler may touch. */
export interface ApiContext {
  store: SimStore;
  clock: SimClock;
  lifecycle: Lifecycle;
  faults: FaultInjector;
  variants: () => Readonly<ApiVariants>;
  multipart: MultipartSettings;
  /** `http://127.0.0.1:PORT`, for HLS URLs. */
  origin: () => string;
  onTaskCreated: (task: SimTask) => void;
  onAssetCreated: (asset: SimAsset) => void;
  onIndexedAssetCreated: (indexed: SimIndexedAsset) => void;
}

export type Handler = (req: ApiRequest, ctx: ApiContext) => Reply | Promise<Reply>;

/** A path parameter the route guarantees. */
export function param(req: ApiRequest, name: string): string {
  const value = req.params[name];
  if (value === undefined) throw new Error(`Route parameter ${name} missing`);
  return value;
}
