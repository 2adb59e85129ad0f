export * from './types.js';
export { verifyIndex, isClean } from './verify.js';
export { findDuplicateGroups, isDeletable, removeCopies, type DuplicateGroup, type CopyRef, type CopyDeleter, type DeletionOutcome, type TaskOfVideo } from './dedupe.js';
export { formatVerify, formatDedupe, type VerifyNextCommands } from './format.js';
