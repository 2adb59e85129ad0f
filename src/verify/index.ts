export * from './types.js';
export { verifyIndex, isClean, workInMemory } from './verify.js';
export { findDuplicateGroups, isDeletable, removeCopies, type DuplicateGroup, type CopyRef, type CopyDeleter, type DeletionOutcome, type TaskOfVideo, type ListedTask } from './dedupe.js';
export { formatVerify, formatDedupe, type VerifyNextCommands } from './format.js';
