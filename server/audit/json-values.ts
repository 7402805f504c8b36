/**
 * Parses JSON values as Postgres writes them in bulk (`v1,v2,…,vn,`: UTF-8, each value
 * followed by a comma) without decoding the bytes as UTF-8 first.
 *
 * Why: a page of audit events is tens of megabytes, and viewer questions put a few
 * non-ASCII characters (a dash, curly quotes, an emoji) in most pages. One such character
 * makes the UTF-8 decoder take its slow path over the whole page and makes V8 hold the page
 * as a two-byte string, which JSON.parse reads at half speed: together, most of the time
 * the review spent reading a long session. Decoded as Latin-1 instead (a byte is a
 * character, at memory speed), the text parses as JSON just the same, because every byte
 * of JSON's syntax is ASCII and every byte of a UTF-8 multi-byte character is not: only the
 * strings holding such bytes come out wrong, and each is mended on its own by reading its
 * characters back as the bytes they were.
 *
 * The one input this cannot mend is a `\u` escape of a character above U+007F next to raw
 * UTF-8 (the escape's character would be taken for a byte). Postgres never writes one (its
 * JSON output escapes only control characters), and text that holds one is parsed the
 * ordinary way.
 */

/** A character that stands for a byte of a UTF-8 multi-byte character. */
const HIGH_BYTE = /[\x80-\xff]/;
/**
 * A `\u` escape that is not of an ASCII character. It may also match an escaped backslash
 * followed by the letter u, which only sends that text the ordinary way.
 */
const ESCAPE_ABOVE_ASCII = /\\u(?!00[0-7])/;

/** The values of `bytes`, which hold JSON values each followed by a comma (nothing: none). */
export function parseJsonValues(bytes: Buffer): unknown[] {
  if (bytes.length === 0) return [];
  if (bytes[bytes.length - 1] !== 0x2c) throw new SyntaxError('JSON values: the last value is not followed by a comma');
  const text = bytes.toString('latin1', 0, bytes.length - 1);
  if (!HIGH_BYTE.test(text)) return JSON.parse(`[${text}]`) as unknown[];
  if (ESCAPE_ABOVE_ASCII.test(text)) return JSON.parse(`[${bytes.toString('utf8', 0, bytes.length - 1)}]`) as unknown[];
  return mend(JSON.parse(`[${text}]`)) as unknown[];
}

/** A string read as Latin-1, read again as the UTF-8 its characters' bytes spell. */
function mendString(text: string): string {
  return HIGH_BYTE.test(text) ? Buffer.from(text, 'latin1').toString('utf8') : text;
}

/** `value` with every string and key mended, in place where it can be. */
function mend(value: unknown): unknown {
  if (typeof value === 'string') return mendString(value);
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = mend(value[i]);
    return value;
  }
  const object = value as Record<string, unknown>;
  let keysToMend = false;
  for (const key in object) {
    object[key] = mend(object[key]);
    if (HIGH_BYTE.test(key)) keysToMend = true;
  }
  if (!keysToMend) return object;
  // Rebuilt in the same key order; fromEntries defines own properties, so a key spelled
  // `__proto__` stays a key, as JSON.parse made it.
  return Object.fromEntries(Object.entries(object).map(([key, item]) => [mendString(key), item]));
}
