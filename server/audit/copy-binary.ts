/**
 * Reads the binary COPY format (`COPY … TO STDOUT (FORMAT binary)`) of a query with one text
 * column and gives the column's bytes, row after row, without decoding them: for a column
 * that is a whole line of text, the output is the lines' UTF-8 as Postgres wrote it.
 *
 * The format (https://www.postgresql.org/docs/current/sql-copy.html#id-1.9.3.55.9.4): an
 * 11-byte signature, an int32 of flags and an int32 header-extension length (then that
 * many bytes); per tuple an int16 field count (-1: the end), then per field an int32 length
 * (-1: NULL) and that many bytes.
 */

const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
const HEADER_BYTES = SIGNATURE.length + 8;

/** Thrown for input that is not the binary COPY output of one column. */
export class CopyFormatError extends Error {
  constructor(message: string) {
    super(`binary COPY: ${message}`);
    this.name = 'CopyFormatError';
  }
}

/**
 * The values of the single column, concatenated, from the COPY output's chunks however
 * they are cut: each chunk out holds whole values only (a value cut across chunks comes
 * out whole with the next one), so text split at chunk ends never splits a character.
 * NULL values are skipped (as `string_agg` skips them). Memory: one chunk in, one out, and
 * the value being assembled.
 */
export async function* copyBinaryValues(chunks: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  // Bytes of a header, tuple count or field length cut by a chunk end, completed by the next.
  let pending: Buffer | null = null;
  let headerDone = false;
  let extensionLeft = 0;
  // The value being read: its buffer (when cut across chunks) and how much of it is missing.
  let partial: Buffer | null = null;
  let partialFilled = 0;
  let ended = false;
  for await (const input of chunks) {
    const chunk: Buffer = pending ? Buffer.concat([pending, input]) : input;
    pending = null;
    let at = 0;
    const length = chunk.length;
    const out = Buffer.allocUnsafe(length + (partial ? partial.length : 0));
    let written = 0;
    if (partial) {
      const n = Math.min(partial.length - partialFilled, length);
      chunk.copy(partial, partialFilled, 0, n);
      partialFilled += n;
      at = n;
      if (partialFilled < partial.length) continue;
      written += partial.copy(out, 0);
      partial = null;
    }
    if (!headerDone) {
      if (length - at < HEADER_BYTES) {
        pending = chunk.subarray(at);
        continue;
      }
      if (!chunk.subarray(at, at + SIGNATURE.length).equals(SIGNATURE)) throw new CopyFormatError('no signature');
      extensionLeft = chunk.readUInt32BE(at + SIGNATURE.length + 4);
      at += HEADER_BYTES;
      headerDone = true;
    }
    if (extensionLeft > 0) {
      const n = Math.min(extensionLeft, length - at);
      extensionLeft -= n;
      at += n;
    }
    while (at < length && extensionLeft === 0) {
      if (ended) throw new CopyFormatError('bytes after the end marker');
      // A tuple: its field count and its one field's length, in one piece.
      if (length - at < 2) break;
      const fields = chunk.readInt16BE(at);
      if (fields === -1) {
        ended = true;
        at += 2;
        continue;
      }
      if (fields !== 1) throw new CopyFormatError(`a tuple of ${fields} fields, not 1`);
      if (length - at < 6) break;
      const size = chunk.readInt32BE(at + 2);
      at += 6;
      if (size === -1) continue;
      if (size < 0) throw new CopyFormatError(`a field of ${size} bytes`);
      if (length - at >= size) {
        written += chunk.copy(out, written, at, at + size);
        at += size;
      } else {
        partial = Buffer.allocUnsafe(size);
        partialFilled = chunk.copy(partial, 0, at);
        at = length;
      }
    }
    if (at < length) pending = Buffer.from(chunk.subarray(at));
    if (written > 0) yield out.subarray(0, written);
  }
  if (!ended || pending !== null || partial !== null) throw new CopyFormatError('the output ended early');
}
