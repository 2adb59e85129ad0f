export * from './types.js';
export { planMigration, emptySummary, count } from './plan.js';
export { DEFAULT_REQUIREMENTS, requirementsForModels, preflightListing, preflightProbe, formatBytes } from './requirements.js';
export { DEFAULT_VIDEO_EXTENSIONS, keyFilter, basename, extensionOf, isFolderMarker } from './filters.js';
export { formatPlanSummary } from './summary.js';
