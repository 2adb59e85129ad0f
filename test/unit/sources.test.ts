import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import type { ProbeResult } from '../../src/planner/index.js';
import { parseCsvLine } from '../../src/sources/inventory.js';
import { ffprobeUrl, parseFfprobe } from '../../src/sources/probe.js';
import { objectUri, parseS3Uri } from '../../src/sources/uri.js';

describe('parseCsvLine', () => {
  it.each<[string, string[]]>([
    ['"bucket","videos/a.mp4","1024"', ['bucket', 'videos/a.mp4', '1024']],
    ['bucket,videos/a.mp4,1024', ['bucket', 'videos/a.mp4', '1024']],
    ['"b","a, b, c.mp4","1"', ['b', 'a, b, c.mp4', '1']],
    ['"b","say ""hi"".mp4","1"', ['b', 'say "hi".mp4', '1']],
    ['"""quoted"""', ['"quoted"']],
    ['"a,""b"",c"', ['a,"b",c']],
    ['"b","","1"', ['b', '', '1']],
    ['b,,1', ['b', '', '1']],
    ['"b",', ['b', '']],
    [',', ['', '']],
    ['', ['']],
    ['"b","x",""', ['b', 'x', '']],
    ['"unterminated', ['unterminated']],
    ['"b","\u00e9t\u00e9 2024/clip.mp4"', ['b', '\u00e9t\u00e9 2024/clip.mp4']],
  ])('%s', (line, fields) => {
    expect(parseCsvLine(line)).toEqual(fields);
  });
});

describe('parseS3Uri', () => {
  it.each<[string, { bucket: string; prefix: string }]>([
    ['s3://media-archive', { bucket: 'media-archive', prefix: '' }],
    ['s3://media-archive/', { bucket: 'media-archive', prefix: '' }],
    ['s3://media-archive/videos/2024/', { bucket: 'media-archive', prefix: 'videos/2024/' }],
    ['s3://media-archive/videos/clip', { bucket: 'media-archive', prefix: 'videos/clip' }],
    ['s3://my.bucket.name/a b/c', { bucket: 'my.bucket.name', prefix: 'a b/c' }],
    ['s3://abc', { bucket: 'abc', prefix: '' }],
    [`s3://${'a'.repeat(63)}`, { bucket: 'a'.repeat(63), prefix: '' }],
  ])('%s', (uri, spec) => {
    expect(parseS3Uri(uri)).toEqual(spec);
  });

  it.each<[string, string]>([
    ['media-archive', 'not an S3 URI'],
    ['s3:/media-archive', 'not an S3 URI'],
    ['s3://', 'not an S3 URI'],
    ['s3:///videos', 'not an S3 URI'],
    ['https://media-archive.s3.amazonaws.com/videos', 'not an S3 URI'],
    ['S3://media-archive', 'not an S3 URI'],
    ['s3://Media-Archive', 'not a valid S3 bucket name'],
    ['s3://media_archive', 'not a valid S3 bucket name'],
    ['s3://ab', 'not a valid S3 bucket name'],
    [`s3://${'a'.repeat(64)}`, 'not a valid S3 bucket name'],
    ['s3://-media', 'not a valid S3 bucket name'],
    ['s3://media-', 'not a valid S3 bucket name'],
    ['s3://media..archive', 'not a valid S3 bucket name'],
    ['s3://media-archive?versionId=1', 'not a valid S3 bucket name'],
  ])('refuses %s', (uri, message) => {
    let error: unknown;
    try {
      parseS3Uri(uri, '--source');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect(error).toMatchObject({ code: 'source_malformed' });
    expect((error as Error).message).toContain(message);
    expect((error as Error).message).toContain('--source');
  });

  it('builds object URIs the planner and executor agree on', () => {
    expect(objectUri('media-archive', 'videos/a b.mp4')).toBe('s3://media-archive/videos/a b.mp4');
  });
});

describe('parseFfprobe', () => {
  const stream = (extra: Record<string, unknown>) => ({ codec_type: 'video', width: 1920, height: 1080, ...extra });
  it.each<[string, unknown, ProbeResult]>([
    ['landscape', { format: { duration: '61.5' }, streams: [stream({})] }, { durationSeconds: 61.5, width: 1920, height: 1080 }],
    ['rotate tag 90 swaps', { format: { duration: '10' }, streams: [stream({ tags: { rotate: '90' } })] }, { durationSeconds: 10, width: 1080, height: 1920 }],
    ['rotate tag 270 swaps', { format: { duration: '10' }, streams: [stream({ tags: { rotate: '270' } })] }, { durationSeconds: 10, width: 1080, height: 1920 }],
    ['rotate tag 180 keeps', { format: { duration: '10' }, streams: [stream({ tags: { rotate: '180' } })] }, { durationSeconds: 10, width: 1920, height: 1080 }],
    ['side data -90 swaps', { format: { duration: '10' }, streams: [stream({ side_data_list: [{ displaymatrix: 'x' }, { rotation: -90 }] })] }, { durationSeconds: 10, width: 1080, height: 1920 }],
    ['duration from the stream', { format: {}, streams: [stream({ duration: '12.5' })] }, { durationSeconds: 12.5, width: 1920, height: 1080 }],
    ['no duration', { streams: [stream({})] }, { durationSeconds: undefined, width: 1920, height: 1080 }],
    ['audio first, video second', { format: { duration: '5' }, streams: [{ codec_type: 'audio' }, stream({})] }, { durationSeconds: 5, width: 1920, height: 1080 }],
    ['audio only', { format: { duration: '5' }, streams: [{ codec_type: 'audio' }] }, { durationSeconds: 5, error: 'no video stream' }],
  ])('%s', (_case, json, expected) => {
    expect(parseFfprobe(JSON.stringify(json))).toEqual(expected);
  });

  it('reports output that is not JSON', () => {
    expect(parseFfprobe('moov atom not found')).toEqual({ error: 'ffprobe printed no JSON' });
  });
});

describe('ffprobeUrl', () => {
  it('probes a dozen URLs at once under one stop signal without a MaxListenersExceededWarning', async () => {
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(`${warning.name}: ${warning.message}`);
    process.on('warning', onWarning);
    try {
      const stop = new AbortController().signal;
      // A closed port: each ffprobe fails fast; what matters is the dozen children alive together.
      const results = await Promise.all(Array.from({ length: 12 }, (_, i) => ffprobeUrl(`http://127.0.0.1:9/v${i}.mp4`, { signal: stop })));
      expect(results).toHaveLength(12);
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings.filter((w) => w.startsWith('MaxListenersExceededWarning'))).toEqual([]);
  });
});
