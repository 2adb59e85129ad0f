export * from './types.js';
export { planMigration, emptySummary, count } from './plan.js';
export { ASSETS_MAX_FILE_SIZE, DEFAULT_REQUIREMENTS, requirementsForModels, requirementsFor, preflightKey, preflightListing, preflightProbe, formatBytes } from './requirements.js';
export { DEFAULT_VIDEO_EXTENSIONS, keyFilter, basename, extensionOf, isFolderMarker } from './filters.js';
export { formatPlanSummary } from './summary.js';
export { objectUri, contentKey, filenameForms, isFingerprintOf, fingerprintContent } from './identity.js';
