import { describe, expect, it } from 'vitest';
import { rowHash, verifyChain, type ChainRow } from '../../server/audit/audit-chain.js';

/** A chain of rows built the way the database trigger builds it. */
function chain(count: number): ChainRow[] {
  const rows: ChainRow[] = [];
  let previous = '';
  for (let i = 1; i <= count; i++) {
    const content = `["cueroom-audit-1", "s1", ${i}, "event", "cue.sent"]`;
    const hash = rowHash(previous, content);
    rows.push({ id: i * 10, seq: i, content, prevHash: previous, hash });
    previous = hash;
  }
  return rows;
}

async function* iterate(rows: ChainRow[]): AsyncIterable<ChainRow> {
  yield* rows;
}

describe('verifyChain', () => {
  it('reports an intact chain with its head, and an empty one', async () => {
    const rows = chain(4);
    expect(await verifyChain(iterate(rows))).toMatchObject({
      intact: true,
      rows: 4,
      lastSeq: 4,
      headHash: rows[3]!.hash,
    });
    expect(await verifyChain(iterate([]))).toMatchObject({ intact: true, rows: 0, headHash: null });
  });

  it('names the first broken row and why', async () => {
    const altered = chain(4);
    altered[2] = { ...altered[2]!, content: altered[2]!.content.replace('cue.sent', 'cue.acknowledged') };
    expect(await verifyChain(iterate(altered))).toMatchObject({
      intact: false,
      reason: 'content_altered',
      firstBrokenId: 30,
      firstBrokenSeq: 3,
      rows: 2,
    });

    const removed = chain(4).filter((row) => row.seq !== 2);
    expect(await verifyChain(iterate(removed))).toMatchObject({
      intact: false,
      reason: 'chain_broken',
      firstBrokenId: 30,
    });

    const unhashed = chain(3);
    unhashed[0] = { ...unhashed[0]!, hash: null };
    expect(await verifyChain(iterate(unhashed))).toMatchObject({
      intact: false,
      reason: 'missing_hash',
      firstBrokenId: 10,
    });
  });
});
