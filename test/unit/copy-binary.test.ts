import pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyBinaryValues, CopyFormatError } from '../../server/audit/copy-binary.js';
import { serviceAvailable, TEST_DATABASE_URL } from '../support/services.js';

const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');

/** The binary COPY output of one text column holding these values (null: NULL). */
function copyOutput(values: Array<string | null>, extension = Buffer.alloc(0)): Buffer {
  const parts: Buffer[] = [SIGNATURE, int32(0), int32(extension.length), extension];
  for (const value of values) {
    parts.push(int16(1));
    if (value === null) parts.push(int32(-1));
    else {
      const bytes = Buffer.from(value, 'utf8');
      parts.push(int32(bytes.length), bytes);
    }
  }
  parts.push(int16(-1));
  return Buffer.concat(parts);
}

function int16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeInt16BE(n);
  return b;
}

function int32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
}

async function* chunked(...chunks: Buffer[]): AsyncIterable<Buffer> {
  for (const chunk of chunks) yield chunk;
}

async function values(input: AsyncIterable<Buffer>): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for await (const chunk of copyBinaryValues(input)) out.push(chunk);
  return out;
}

/** Every way to cut `bytes` in two, and in 1-byte chunks: the output is the same bytes, in chunks of whole values. */
async function expectEveryCut(bytes: Buffer, lines: string[]): Promise<void> {
  const expected = Buffer.from(lines.join(''), 'utf8');
  const cuts: Buffer[][] = [[bytes], [...bytes].map((byte) => Buffer.from([byte]))];
  for (let at = 0; at <= bytes.length; at++) cuts.push([bytes.subarray(0, at), bytes.subarray(at)]);
  for (const chunks of cuts) {
    const out = await values(chunked(...chunks));
    expect(Buffer.concat(out).equals(expected)).toBe(true);
    // Whole values only: each chunk out decodes on its own and ends where a line does.
    let rest = lines.join('');
    for (const chunk of out) {
      const text = chunk.toString('utf8');
      expect(rest.startsWith(text)).toBe(true);
      rest = rest.slice(text.length);
      expect(text.endsWith('\n')).toBe(true);
    }
    expect(rest).toBe('');
  }
}

const AWKWARD = [
  'plain,line\n',
  '"quoted ""twice""",a\\b\\\\c\n',
  'Ødegaard 🎥 ünïcödé, 日本語\r\n',
  '{"multi":"line\\nescaped","real":"x\ny"}\n',
  '\n',
];

describe('copyBinaryValues (the binary COPY framing taken off, bytes never decoded)', () => {
  it('gives the values of a binary COPY however its bytes are cut: at every offset, and byte by byte', async () => {
    await expectEveryCut(copyOutput(AWKWARD), AWKWARD);
  });

  it('skips NULL values and a header extension, and gives nothing for no rows', async () => {
    const withNulls = copyOutput([null, 'a\n', null, 'b\n', null], Buffer.from('ext-bytes'));
    await expectEveryCut(withNulls, ['a\n', 'b\n']);
    expect(await values(chunked(copyOutput([])))).toEqual([]);
    expect(await values(chunked(copyOutput([null, null])))).toEqual([]);
  });

  it('refuses what is not a complete one-column binary COPY', async () => {
    const whole = copyOutput(['a\n', 'b\n']);
    await expect(values(chunked(whole.subarray(0, whole.length - 1)))).rejects.toThrow(CopyFormatError);
    await expect(values(chunked(whole.subarray(0, 25)))).rejects.toThrow(/ended early/);
    await expect(values(chunked(Buffer.from('COPY!!!!!!!!!!!!!!!!!!!!!!')))).rejects.toThrow(/signature/);
    const twoColumns = Buffer.concat([SIGNATURE, int32(0), int32(0), int16(2), int32(1), Buffer.from('a')]);
    await expect(values(chunked(twoColumns))).rejects.toThrow(/2 fields/);
    await expect(values(chunked(Buffer.concat([whole, Buffer.from([0])])))).rejects.toThrow(/after the end/);
  });
});

const postgresUp = await serviceAvailable('postgres');

describe.skipIf(!postgresUp)('copyBinaryValues over the real COPY output of Postgres', () => {
  let pool: pg.Pool;
  beforeAll(() => {
    pool = new pg.Pool({ connectionString: TEST_DATABASE_URL, max: 1 });
    pool.on('error', () => {});
  });
  afterAll(async () => {
    await pool?.end();
  });

  it("strips the framing of Postgres's own bytes cut at every offset", async () => {
    const client = await pool.connect();
    const raw: Buffer[] = [];
    try {
      // The values as literals (COPY takes no parameters), in order, with a NULL among them.
      const rows = [...AWKWARD.map((line) => client.escapeLiteral(line)), 'null']
        .map((literal, i) => `(${i}, ${literal}::text)`)
        .join(', ');
      const stream = client.query(
        copyTo(`copy (select v from (values ${rows}) t(i, v) order by i) to stdout (format binary)`),
      );
      for await (const chunk of stream) raw.push(chunk as Buffer);
    } finally {
      client.release();
    }
    const bytes = Buffer.concat(raw);
    expect(bytes.subarray(0, SIGNATURE.length).equals(SIGNATURE)).toBe(true);
    await expectEveryCut(bytes, AWKWARD);
  });
});
