import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { MAX_METADATA_TOTAL_BYTES, MAX_METADATA_VALUE_BYTES, checkMetadataSize, parseDuration, parseMetadataJson, parseMetadataPairs } from '../../src/executor/metadata.js';
import type { MetadataValue } from '../../src/twelvelabs/types.js';

/** The error a call throws, for asserting its class and code. */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

describe('parseMetadataPairs: type inference', () => {
  it.each<[string, MetadataValue]>([
    ['n=42', 42],
    ['n=0', 0],
    ['n=-7', -7],
    ['n=3.14', 3.14],
    ['n=-0.5', -0.5],
    ['n=007', '007'],
    ['n=1e5', '1e5'],
    ['n=1.', '1.'],
    ['n=.5', '.5'],
    ['n=1234567890123456', '1234567890123456'],
    ['n=123456789012345', 123456789012345],
    ['n=0x1F', '0x1F'],
    ['n= 42', ' 42'],
    ['b=true', true],
    ['b=false', false],
    ['b=True', 'True'],
    ['b=yes', 'yes'],
    ['s=archive', 'archive'],
    ['s=', ''],
    ['s=a=b=c', 'a=b=c'],
    ['s=two words', 'two words'],
    ['s=Infinity', 'Infinity'],
    ['s=NaN', 'NaN'],
  ])('%s', (pair, value) => {
    const key = pair.slice(0, pair.indexOf('='));
    expect(parseMetadataPairs([pair])).toEqual({ [key]: value });
  });

  it('collects several pairs, the last of a key winning, keys trimmed', () => {
    expect(parseMetadataPairs(['project=archive', ' season =2', 'project=news'])).toEqual({ project: 'news', season: 2 });
  });

  it.each(['novalue', '=value', ' =value'])('refuses %j as not KEY=VALUE', (pair) => {
    const error = thrown(() => parseMetadataPairs([pair]));
    expect(error).toBeInstanceOf(ConfigError);
    expect(error).toMatchObject({ code: 'metadata_invalid' });
  });
});

describe('reserved metadata keys', () => {
  it.each(['duration', 'filename', 'fps', 'width', 'height', 'size', 'tlm_source', 'tlm_etag', 'tlm_run', 'tlm_'])('refuses %s', (key) => {
    for (const parse of [() => parseMetadataPairs([`${key}=1`]), () => parseMetadataJson(JSON.stringify({ [key]: 1 }), 'meta.json')]) {
      const error = thrown(parse);
      expect(error).toBeInstanceOf(ConfigError);
      expect(error).toMatchObject({ code: 'metadata_reserved' });
      expect((error as Error).message).toContain(`'${key}'`);
    }
  });

  it.each(['my_duration', 'tlm', 'TLMX', 'file_name'])('accepts %s', (key) => {
    expect(parseMetadataPairs([`${key}=1`])).toEqual({ [key]: 1 });
  });
});

describe('parseMetadataJson', () => {
  it('keeps exact scalar types', () => {
    expect(parseMetadataJson('{"project":"archive","season":2,"rating":4.5,"public":false,"code":"007"}', 'meta.json')).toEqual({
      project: 'archive',
      season: 2,
      rating: 4.5,
      public: false,
      code: '007',
    });
  });

  it.each<[string, string, RegExp]>([
    ['a nested object', '{"a":{"b":1}}', /'a' holds object/],
    ['an array value', '{"a":[1,2]}', /'a' holds an array/],
    ['a null value', '{"a":null}', /'a' holds null/],
    ['a number too large', '{"a":1e400}', /'a' holds number/],
    ['a top-level array', '[1,2]', /must hold one JSON object/],
    ['a top-level string', '"x"', /must hold one JSON object/],
    ['top-level null', 'null', /must hold one JSON object/],
    ['not JSON', '{project: archive}', /is not valid JSON/],
    ['an empty key', '{"":1}', /empty key/],
  ])('refuses %s', (_case, text, message) => {
    const error = thrown(() => parseMetadataJson(text, 'meta.json'));
    expect(error).toBeInstanceOf(ConfigError);
    expect(error).toMatchObject({ code: 'metadata_invalid' });
    expect((error as Error).message).toMatch(message);
  });
});

describe('parseDuration', () => {
  it.each<[string, number]>([
    ['90s', 90],
    ['30m', 1_800],
    ['6h', 21_600],
    ['7d', 604_800],
    ['45', 45],
    ['1.5h', 5_400],
    ['2H', 7_200],
    [' 10 m ', 600],
    ['0s', 0],
  ])('%j -> %i s', (text, seconds) => {
    expect(parseDuration(text, '--older-than')).toBe(seconds);
  });

  it.each(['', 'abc', '-5m', '5w', '1h30m', 'm', '1.h'])('refuses %j', (text) => {
    const error = thrown(() => parseDuration(text, '--older-than'));
    expect(error).toBeInstanceOf(ConfigError);
    expect(error).toMatchObject({ code: 'duration_invalid' });
    expect((error as Error).message).toContain('--older-than');
  });
});

describe('checkMetadataSize: 1 KiB per value, 16 KiB in all', () => {
  it('accepts values up to the limit, counted in UTF-8 bytes', () => {
    expect(() => checkMetadataSize({ a: 'x'.repeat(MAX_METADATA_VALUE_BYTES), b: 12345, c: true })).not.toThrow();
    expect(() => checkMetadataSize({ a: 'é'.repeat(MAX_METADATA_VALUE_BYTES / 2) })).not.toThrow();
  });

  it.each<[string, Record<string, MetadataValue>, RegExp]>([
    ['one value a byte over', { note: 'x'.repeat(MAX_METADATA_VALUE_BYTES + 1) }, /^--metadata value of 'note' is 1025 bytes, over the limit of 1024 bytes per value: shorten it$/],
    ['a 5 MB value', { note: 'x'.repeat(5_000_000) }, /'note' is 5000000 bytes/],
    ['multi-byte characters over the limit', { note: 'é'.repeat(513) }, /'note' is 1026 bytes/],
    ['many values, each small', Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, 'x'.repeat(1000)])), /come to \d+ bytes as JSON, over the limit of 16384 bytes in all: send fewer or shorter values$/],
  ])('refuses %s', (_case, metadata, message) => {
    const error = thrown(() => checkMetadataSize(metadata));
    expect(error).toBeInstanceOf(ConfigError);
    expect(error).toMatchObject({ code: 'metadata_too_large' });
    expect((error as Error).message).toMatch(message);
  });

  it('has the total limit it documents', () => {
    expect(MAX_METADATA_TOTAL_BYTES).toBe(16 * 1024);
  });
});
