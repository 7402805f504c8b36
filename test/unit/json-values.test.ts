import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseJsonValues } from '../../server/audit/json-values.js';

/** The values as Postgres writes them in bulk: UTF-8, each followed by a comma. */
function bulk(texts: string[]): Buffer {
  return Buffer.from(texts.map((text) => `${text},`).join(''), 'utf8');
}

describe('parseJsonValues (JSON values read as Latin-1, their strings mended)', () => {
  it('gives back any JSON values, whatever characters their strings and keys hold', () => {
    fc.assert(
      fc.property(fc.array(fc.jsonValue({ stringUnit: 'binary' }), { maxLength: 8 }), (values) => {
        const texts = values.map((value) => JSON.stringify(value));
        expect(parseJsonValues(bulk(texts))).toEqual(texts.map((text) => JSON.parse(text) as unknown));
      }),
      { numRuns: 500 },
    );
  });

  it('mends strings and keys holding characters of every UTF-8 length, in place and in order', () => {
    const value = {
      ascii: 'plain',
      two: 'Ødegaard – ünïcödé',
      three: '日本語 “quoted”',
      four: 'camera 🎥 and 👍🏽',
      'clé 🔑': ['à', { ß: 'ẞ' }],
      last: 1,
    };
    const [parsed] = parseJsonValues(bulk([JSON.stringify(value)]));
    expect(parsed).toEqual(value);
    expect(Object.keys(parsed as object)).toEqual(Object.keys(value));
  });

  it('keeps a `__proto__` key a key when its object is rebuilt', () => {
    const [parsed] = parseJsonValues(bulk(['{"__proto__":{"polluted":"ja"},"schlüssel":"wert"}'])) as [
      Record<string, unknown>,
    ];
    expect(Object.getPrototypeOf(parsed)).toBe(Object.prototype);
    expect(Object.keys(parsed)).toEqual(['__proto__', 'schlüssel']);
    expect(Object.getOwnPropertyDescriptor(parsed, '__proto__')?.value).toEqual({ polluted: 'ja' });
  });

  it('reads an escape of a character above U+007F right, next to raw UTF-8 (the ordinary way)', () => {
    const texts = ['{"a":"caf\\u00e9 and café","b":"\\ud83c\\udfa5 🎥"}', '"\\\\u00e9 is not an escape: é"'];
    expect(parseJsonValues(bulk(texts))).toEqual([{ a: 'café and café', b: '🎥 🎥' }, '\\u00e9 is not an escape: é']);
  });

  it('reads control-character escapes, quotes and backslashes as they are', () => {
    const value = { text: 'line\nbreak\ttab \u0001 "quoted" \\ back — dash' };
    expect(parseJsonValues(bulk([JSON.stringify(value)]))).toEqual([value]);
  });

  it('gives nothing for no bytes, and refuses values not ended by a comma', () => {
    expect(parseJsonValues(Buffer.alloc(0))).toEqual([]);
    expect(() => parseJsonValues(Buffer.from('{"a":1}'))).toThrow(/not followed by a comma/);
    expect(() => parseJsonValues(Buffer.from('{"a":,'))).toThrow(SyntaxError);
  });
});
