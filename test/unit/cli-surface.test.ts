import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { GlobCheck } from '../../src/cli/glob-check.js';
import { createProgress, fitLine } from '../../src/cli/progress.js';
import { commandPath, formatCommand, shellQuote, stateFlag } from '../../src/cli/shell.js';
import { lastRunLine } from '../../src/cli/status-command.js';
import { levenshtein, nearest } from '../../src/cli/suggest.js';
import { usageMessage } from '../../src/cli/usage.js';
import { hasVersionPath } from '../../src/cli/config.js';
import { formatDuration } from '../../src/report/format.js';
import { KeyListLister, keyFromLine } from '../../src/sources/key-list.js';
import type { SourceObject } from '../../src/sources/types.js';
import { resolveS3Settings } from '../../src/sources/s3.js';
import { aSourceObject } from './builders.js';

describe('human durations: the two largest units that matter', () => {
  const table: Array<[number, string]> = [
    [0, '0 s'],
    [0.4, '0 s'],
    [40, '40 s'],
    [59.4, '59 s'],
    [59.6, '1 min'],
    [60, '1 min'],
    [119.6, '2 min'],
    [200, '3 min 20 s'],
    [3599, '59 min 59 s'],
    [3599.6, '1 h'],
    [3600, '1 h'],
    [5 * 3600 + 12 * 60, '5 h 12 min'],
    [3 * 3600 + 59 * 60 + 50, '4 h'],
    [86_399, '1 d'],
    [2 * 86_400 + 4 * 3600, '2 d 4 h'],
    [200_000, '2 d 8 h'],
    [-1, '-'],
    [Number.NaN, '-'],
    [Number.POSITIVE_INFINITY, '-'],
  ];
  it.each(table)('%d s reads %j', (seconds, text) => expect(formatDuration(seconds)).toBe(text));
});

describe('the progress line', () => {
  it.each([
    [0, 'apply: 3/10 submitted, ETA 40 s'],
    [undefined, 'apply: 3/10 submitted, ETA 40 s'],
    [1, 'apply: 3/10 submitted, ETA 40 s'],
    [10, 'apply: 3/'],
    [200, 'apply: 3/10 submitted, ETA 40 s'],
  ])('with %s columns keeps what fits, never the last character of a terminal of unknown width', (columns, shown) => {
    expect(fitLine('apply: 3/10 submitted, ETA 40 s', columns)).toBe(shown);
  });

  it('writes the whole line to a terminal that reports 0 columns', () => {
    const written: string[] = [];
    const stream = { isTTY: true, columns: 0, write: (text: string) => written.push(text) } as unknown as NodeJS.WriteStream;
    createProgress(stream).update('apply: 1/2 submitted, ETA 5 s');
    expect(written).toEqual(['\r\x1b[2Kapply: 1/2 submitted, ETA 5 s']);
  });

  it('says how long the last run took, or how long ago an unended one started', () => {
    expect(lastRunLine({ command: 'apply', startedAt: '2026-01-01T00:00:00.000Z', endedAt: '2026-01-01T05:12:00.000Z', outcome: 'completed' }, 0)).toBe(
      'apply, completed in 5 h 12 min (ended 2026-01-01T05:12:00.000Z)',
    );
    expect(lastRunLine({ command: 'apply', startedAt: '2026-01-01T00:00:00.000Z', endedAt: null }, Date.parse('2026-01-01T00:00:40.000Z'))).toBe(
      'apply, started 40 s ago (2026-01-01T00:00:00.000Z), not ended',
    );
  });
});

describe('printed commands are shell words', () => {
  const awkward = ['plain.json', 'my plan.json', "it's.json", 'a"b.json', '$HOME', '*.mp4', 'new\nline', 'tab\there', '', '-dash', 'ünï', 'semi;colon', 'back\\slash', '`tick`'];

  it.each(awkward)('%j survives a POSIX shell as one word, unchanged', (word) => {
    const echoed = execFileSync('sh', ['-c', `printf '%s\\0' ${shellQuote(word)}`]).toString('utf8');
    expect(echoed).toBe(`${word}\0`);
  });

  it('formatCommand quotes only the words that need it', () => {
    expect(formatCommand(['tlmigrate', 'apply', 'my plan.json', '--state', 's.json'])).toBe("tlmigrate apply 'my plan.json' --state s.json");
    const words = execFileSync('sh', ['-c', `printf '%s\\0' ${formatCommand(awkward)}`]).toString('utf8').split('\0').slice(0, -1);
    expect(words).toEqual(awkward);
  });

  it('paths are relative inside the current folder, absolute outside it, never read as a flag', () => {
    expect(commandPath('plan.json', '/work/x')).toBe('plan.json');
    expect(commandPath('/work/x/sub/plan.json', '/work/x')).toBe('sub/plan.json');
    expect(commandPath('../y/plan.json', '/work/x')).toBe('/work/y/plan.json');
    expect(commandPath('-odd.json', '/work/x')).toBe('./-odd.json');
    expect(stateFlag('tlmigrate-state.json', undefined, '/w')).toEqual([]);
    expect(stateFlag('./tlmigrate-state.json', undefined, '/w')).toEqual([]);
    expect(stateFlag('my state.json', undefined, '/w')).toEqual(['--state', 'my state.json']);
    expect(stateFlag(undefined)).toEqual([]);
  });
});

describe('usage errors: one line, a did-you-mean, the command\'s own help', () => {
  const commands = ['plan', 'apply', 'migrate', 'status'];
  const applyOptions = ['help', 'version', 'log-level', 'state', 'concurrency', 'max-rpm', 'wait', 'retry-failed'];
  it.each([
    ['Unknown arguments: concurency, concurency', ['apply', 'p.json', '--concurency', '3'], 'Unknown flag --concurency: did you mean --concurrency? (see tlmigrate apply --help)'],
    ['Unknown arguments: max-rmp, maxRmp', ['apply', 'p.json', '--max-rmp=3'], 'Unknown flag --max-rmp: did you mean --max-rpm? (see tlmigrate apply --help)'],
    ['Unknown arguments: wiat, bogus', ['apply', 'p', '--wiat', '--bogus'], 'Unknown flags --wiat (did you mean --wait?), --bogus (see tlmigrate apply --help)'],
    ['Unknown argument: extra', ['apply', 'p', 'extra'], 'Unknown argument: extra (see tlmigrate apply --help)'],
    ['Invalid values:\n  Argument: via, Given: "nope", Choices: "tasks", "assets"', ['apply', 'p', '--via', 'nope'], 'Invalid values: Argument: via, Given: "nope", Choices: "tasks", "assets" (see tlmigrate apply --help)'],
    ['Missing required argument: state', ['apply', 'p', '--stat', 'x'], 'Missing required argument: state; --stat: did you mean --state? (see tlmigrate apply --help)'],
    ['Did you mean apply?', ['aply'], 'Did you mean apply? (see tlmigrate --help)'],
    ['Unknown argument: x', ['--log-level', 'warn', 'status', 'x'], 'Unknown argument: x (see tlmigrate status --help)'],
  ])('%j', (message, argv, expected) => expect(usageMessage(message, argv, commands, applyOptions)).toBe(expected));

  it('suggests only what reads as a typo', () => {
    expect(levenshtein('concurency', 'concurrency')).toBe(1);
    expect(nearest('concurency', ['state', 'concurrency', 'wait'])).toEqual(['concurrency']);
    expect(nearest('zzz', ['state', 'wait'])).toEqual([]);
    expect(nearest('videso/', ['photos/', 'videos/', 'music/'], { limit: 2, maxDistance: Infinity })[0]).toBe('videos/');
  });
});

describe('endpoints named in full', () => {
  it.each([
    ['localhost:9000', "--s3-endpoint 'localhost:9000' is not an http(s) URL: write it with its scheme, e.g. http://localhost:9000 (or https://localhost:9000)"],
    ['127.0.0.1:9000', "--s3-endpoint '127.0.0.1:9000' is not an http(s) URL: write it with its scheme, e.g. http://127.0.0.1:9000 (or https://127.0.0.1:9000)"],
    ['ftp://x', "--s3-endpoint 'ftp://x' is not an http(s) URL: write it with its scheme, e.g. https://s3.example.com or http://127.0.0.1:9000"],
  ])('--s3-endpoint %j is refused with one line', (endpoint, message) => {
    expect(() => resolveS3Settings({ endpoint }, {})).toThrow(message);
  });
  it('names the environment variable it came from', () => {
    expect(() => resolveS3Settings({}, { AWS_ENDPOINT_URL_S3: 'minio:9000' })).toThrow(/^AWS_ENDPOINT_URL_S3 'minio:9000' is not an http\(s\) URL/);
    expect(resolveS3Settings({}, { AWS_ENDPOINT_URL: 'http://127.0.0.1:9000' }).endpoint).toBe('http://127.0.0.1:9000');
  });
  it.each([
    ['https://api.twelvelabs.io/v1.3', true],
    ['http://127.0.0.1:8790/v1.3/', true],
    ['https://proxy.example.com/twelvelabs/v1', true],
    ['https://api.twelvelabs.io', false],
    ['http://127.0.0.1:8790/', false],
  ])('%s has a version path: %s', (url, expected) => expect(hasVersionPath(url)).toBe(expected));
});

describe('globs that match nothing are named, with the spelling that would have matched', () => {
  const keys = ['videos/a.mp4', 'videos/b.mp4', 'videos/misc/c.mp4', 'videos/notes.txt'];
  const check = (include: string[], exclude: string[]) => {
    const g = new GlobCheck(include, exclude, 'videos/');
    for (const key of keys) g.see(key);
    return g.warnings();
  };
  it('an include without the prefix', () => {
    expect(check(['*.mp4'], [])).toEqual([
      "--include '*.mp4' matched none of the 4 listed keys: globs match the whole key, prefix included; did you mean --include 'videos/*.mp4' (2 keys)?",
    ]);
  });
  it('an exclude without the prefix', () => {
    expect(check([], ['misc/**'])).toEqual(["--exclude 'misc/**' matched none of the 4 listed keys: globs match the whole key, prefix included; did you mean --exclude 'videos/misc/**' (1 keys)?"]);
  });
  it('globs that match say nothing; nothing listed says nothing either (the empty listing has its own warning)', () => {
    expect(check(['**/*.mp4'], ['videos/misc/**'])).toEqual([]);
    expect(new GlobCheck(['*.mp4'], [], '').warnings()).toEqual([]);
  });
  it('a glob that matches nothing at all, spelled any way', () => {
    expect(check(['**/*.mkv'], [])).toEqual(["--include '**/*.mkv' matched none of the 4 listed keys: globs match the whole key, prefix included"]);
  });
});

describe('--files-from: keys relative to the source prefix, or full URIs under it', () => {
  const spec = { bucket: 'b', prefix: 'videos/' };
  it.each([
    ['a.mp4', 'videos/a.mp4'],
    ['sub/a b.mp4', 'videos/sub/a b.mp4'],
    ['/a.mp4', 'videos/a.mp4'],
    ['a.mp4\r', 'videos/a.mp4'],
    ['s3://b/videos/x.mp4', 'videos/x.mp4'],
    ['', undefined],
    ['   ', undefined],
    ['# a comment', undefined],
  ])('%j names %j', (line, key) => expect(keyFromLine(line, spec, 'list.txt line 1')).toBe(key));
  it('a prefix without a trailing slash is a folder', () => expect(keyFromLine('a.mp4', { bucket: 'b', prefix: 'videos' }, 'x')).toBe('videos/a.mp4'));
  it('a full URI outside the source is refused with its line', () => {
    expect(() => keyFromLine('s3://other/videos/x.mp4', spec, '--files-from list.txt line 3')).toThrow('--files-from list.txt line 3: s3://other/videos/x.mp4 is not inside --source s3://b/videos/: list keys relative to the source, or full URIs under it');
  });

  async function* lines(...text: string[]) {
    yield* text;
  }
  const bucket = (keys: string[]) => {
    let inFlight = 0;
    let most = 0;
    const heads: string[] = [];
    return {
      heads,
      most: () => most,
      async head(key: string): Promise<SourceObject | undefined> {
        heads.push(key);
        inFlight += 1;
        most = Math.max(most, inFlight);
        await Promise.resolve();
        inFlight -= 1;
        return keys.includes(key) ? aSourceObject({ key }) : undefined;
      },
    };
  };
  const collect = async (it: AsyncIterable<SourceObject>) => {
    const out: string[] = [];
    for await (const o of it) out.push(o.key);
    return out;
  };

  it('HEADs each listed key once, in list order, a bounded window at a time, and reports the missing ones', async () => {
    const s3 = bucket(['videos/a.mp4', 'videos/c.mp4', 'videos/d.mp4']);
    const lister = new KeyListLister(s3, lines('a.mp4', 'b.mp4', 'a.mp4', '', 'c.mp4', 's3://b/videos/d.mp4', 'e.mp4'), { spec, name: 'list.txt', concurrency: 2, failOnMissing: false });
    expect(await collect(lister.list({ prefix: spec.prefix }))).toEqual(['videos/a.mp4', 'videos/c.mp4', 'videos/d.mp4']);
    expect(lister.missing).toEqual(['videos/b.mp4', 'videos/e.mp4']);
    expect(s3.heads).toEqual(['videos/a.mp4', 'videos/b.mp4', 'videos/c.mp4', 'videos/d.mp4', 'videos/e.mp4']);
    expect(s3.most()).toBeLessThanOrEqual(2);
  });

  it('with failOnMissing the listing ends with one line naming the missing keys', async () => {
    const lister = new KeyListLister(bucket(['videos/a.mp4']), lines('a.mp4', 'gone.mp4'), { spec, name: 'list.txt', concurrency: 4, failOnMissing: true });
    await expect(collect(lister.list({ prefix: spec.prefix }))).rejects.toThrow(
      '--files-from list.txt: 1 key is not in s3://b/: videos/gone.mp4: fix the list, or leave out --fail-on-missing to plan the others (no plan was written)',
    );
  });

  it('a HEAD that fails (not a 404) ends the listing with its error, and no later rejection goes unhandled', async () => {
    const failing = { head: async (key: string) => (key.endsWith('b.mp4') ? Promise.reject(new Error('access denied')) : aSourceObject({ key })) };
    const lister = new KeyListLister(failing, lines('a.mp4', 'b.mp4', 'c.mp4'), { spec, name: 'l', concurrency: 3, failOnMissing: false });
    await expect(collect(lister.list({ prefix: spec.prefix }))).rejects.toThrow('access denied');
  });
});
