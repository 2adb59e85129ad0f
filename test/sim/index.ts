export { startSimulator } from './simulator.js';
export type { AssetView, IndexedAssetView, UploadView, SeedAssetInput, SeedVideoInput, Simulator, SimulatorOptions, TaskView, VideoView } from './simulator.js';
export type { ChunkFault, FaultConfig, MsRange } from './faults.js';
export type { ApiReading, ApiVariants, MetadataFilterEncoding, QuotaStatus } from './variants.js';
export { API_READINGS, DEFAULT_VARIANTS, MULTIPART_READINGS, readings } from './variants.js';
export type { LifecycleTimings } from './lifecycle.js';
export type { DescribeVideo, ProbeMode } from './probe.js';
export type { VideoLimits } from './validate.js';
export type { AssetDuplicates, RecordedRequest, SimCounts, Outcome } from './recorder.js';
export type { CreateRouteId, RouteId } from './routes.js';
export { CHUNK_PATH, CREATE_ROUTES, ROUTE_IDS } from './routes.js';
export { SIGNED_HEADER } from './api-multipart.js';
export type {
  AssetMethod, AssetStatus, AssetType, IndexedAssetStatus, IndexModel, SimIndex, TaskFailure, TaskStatus, UserMetadata, VideoMeta,
} from './model.js';
export { ASSET_STATUSES, ASSET_TYPES, INDEXED_ASSET_STATUSES, TASK_STATUSES } from './model.js';
export { callApi, fakeMp4, hasBinary, makeVideo, startMediaServer } from './fixtures.js';
export type { ApiAnswer, ApiCall, MediaEntry, MediaServer } from './fixtures.js';
