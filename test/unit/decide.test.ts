import { describe, expect, it } from 'vitest';
import { decide, stageOf, type Candidate } from '../../src/executor/decide.js';

const c = (id: string, stage: Candidate['stage'], verdict: Candidate['verdict'], createdAt = `2026-01-01T00:00:0${id.length}Z`): Candidate => ({ id, stage, verdict, createdAt });

describe('decide: whose is a task under an object\'s file name', () => {
  it.each<[string, Candidate[], ReturnType<typeof decide>]>([
    ['no candidate', [], { kind: 'none' }],
    ['only others\' tasks', [c('a', 'ready', 'other'), c('b', 'in_flight', 'other')], { kind: 'none' }],
    ['its own task, in flight', [c('a', 'in_flight', 'ours')], { kind: 'found', candidate: c('a', 'in_flight', 'ours'), duplicates: [] }],
    ['its own task beside an unreadable one: found, not held back', [c('a', 'ready', 'ours'), c('bb', 'in_flight', 'unknown')], { kind: 'found', candidate: c('a', 'ready', 'ours'), duplicates: [] }],
    ['two of its own: the oldest, the other named a duplicate', [c('bb', 'ready', 'ours'), c('a', 'in_flight', 'ours')], { kind: 'found', candidate: c('a', 'in_flight', 'ours'), duplicates: ['bb'] }],
    ['its own failed one and a live one: the live one', [c('a', 'failed', 'ours'), c('bb', 'ready', 'ours')], { kind: 'found', candidate: c('bb', 'ready', 'ours'), duplicates: [] }],
    ['only its own failed one: that outcome', [c('a', 'failed', 'ours')], { kind: 'found', candidate: c('a', 'failed', 'ours'), duplicates: [] }],
    ['an unreadable task still working: wait, never adopted', [c('a', 'in_flight', 'unknown')], { kind: 'wait', pending: ['a'] }],
    ['an unreadable one working beside an unreadable failed one: wait', [c('a', 'in_flight', 'unknown'), c('bb', 'failed', 'unknown')], { kind: 'wait', pending: ['a'] }],
    ['every unreadable candidate failed: failed, naming them', [c('a', 'failed', 'unknown'), c('bb', 'failed', 'unknown'), c('ccc', 'ready', 'other')], { kind: 'failed', candidates: ['a', 'bb'] }],
    ['a ready task whose video is gone: no copy of anything', [c('a', 'ready', 'unknown')], { kind: 'none' }],
  ])('%s', (_case, candidates, expected) => {
    expect(decide(candidates)).toEqual(expected);
  });

  it.each([
    ['ready', 'ready'],
    ['failed', 'failed'],
    ['validating', 'in_flight'],
    ['indexing', 'in_flight'],
    [undefined, 'in_flight'],
  ] as const)('stage of %s is %s', (status, stage) => {
    expect(stageOf(status)).toBe(stage);
  });
});
