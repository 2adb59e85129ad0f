export * from './types.js';
export { StateStore, loadState, readLedger, checkIdentity, stateExists, type StateIdentity } from './store.js';
export { acquireLock, liveHolder, readLock, type LockInfo } from './lock.js';
export { writeFileAtomic } from './atomic.js';
export { writePlanFile, openPlanFile, type PlanReader } from '../planner/plan-file.js';
export { checkPlanItems } from '../planner/plan-file.js';
export * from './lifecycle.js';
export type { ItemStore, RunStore } from './contract.js';
export { MemoryStore, type RecordedChange } from './memory.js';
