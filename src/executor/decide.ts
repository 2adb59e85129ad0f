/**
 * Whose is a task (or asset) the index holds under an object's file name? Only the fingerprint in
 * its user_metadata says so. A candidate whose metadata cannot be read yet is nobody's until it can
 * be read or has ended; a file-name match alone never claims a task for an object.
 */
export type Verdict = 'ours' | 'other' | 'unknown';

/** Where a candidate stands on the platform: still working, ended with a video, or ended failed. */
export type CandidateStage = 'in_flight' | 'ready' | 'failed';

export interface Candidate {
  id: string;
  videoId?: string | undefined;
  stage: CandidateStage;
  verdict: Verdict;
  createdAt?: string | undefined;
}

export type Decision =
  /** This object's own task (the oldest live one, else its failed one). */
  | { kind: 'found'; candidate: Candidate; duplicates: string[] }
  /** Candidates still working whose metadata cannot be read yet: look again later. */
  | { kind: 'wait'; pending: string[] }
  /** Every unconfirmable candidate failed: none left a video; whose they were cannot be known. */
  | { kind: 'failed'; candidates: string[] }
  /** No candidate can be this object's. */
  | { kind: 'none' };

const byAge = (a: Candidate, b: Candidate) => (a.createdAt ?? '').localeCompare(b.createdAt ?? '') || a.id.localeCompare(b.id);

/** Decides from the candidates' verdicts and stages; pure, so every combination is table-tested. */
export function decide(candidates: readonly Candidate[]): Decision {
  const ours = candidates.filter((c) => c.verdict === 'ours').sort(byAge);
  const live = ours.filter((c) => c.stage !== 'failed');
  const chosen = live[0] ?? ours[0];
  if (chosen) return { kind: 'found', candidate: chosen, duplicates: live.filter((c) => c !== chosen).map((c) => c.id) };
  const unknown = candidates.filter((c) => c.verdict === 'unknown');
  const pending = unknown.filter((c) => c.stage === 'in_flight');
  if (pending.length > 0) return { kind: 'wait', pending: pending.map((c) => c.id) };
  // A ready task whose video cannot be read left no video in the index (deleted since): it holds no copy of anything.
  const failed = unknown.filter((c) => c.stage === 'failed');
  if (failed.length > 0) return { kind: 'failed', candidates: failed.map((c) => c.id) };
  return { kind: 'none' };
}

/** The stage of a task or indexed-asset status. */
export function stageOf(status: string | undefined): CandidateStage {
  if (status === 'ready') return 'ready';
  if (status === 'failed') return 'failed';
  return 'in_flight';
}
