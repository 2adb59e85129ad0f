export * from './types.js';
export { planMigration, emptySummary, count, groupBy, heldInMemory } from './plan.js';
export { ASSETS_MAX_FILE_SIZE, MULTIPART_MAX_FILE_SIZE, uploadMethod, DEFAULT_REQUIREMENTS, requirementsForModels, requirementsFor, preflightKey, preflightListing, preflightProbe, formatBytes } from './requirements.js';
export { DEFAULT_VIDEO_EXTENSIONS, keyFilter, basename, decodedFilename, extensionOf, filenameForms, isFolderMarker } from './filters.js';
export { formatPlanSummary } from './summary.js';
export { objectUri, contentKey, isFingerprintOf, fingerprintContent } from './identity.js';
export { toIndexSnapshot } from './index-snapshot.js';
export { memoryTables, HashSlots, hash32, type LookupTable, type LookupTables } from './lookup.js';
