import { createHash } from 'node:crypto';

/**
 * Tamper evidence for the audit log. Every row carries `hash` = sha256 of `prevHash`, a
 * newline and the canonical text of its content, where `prevHash` is the hash of the
 * previous row of the same session in insertion (id) order ('' for the first). The
 * database computes both on insert (trigger `audit_log_chain`, migrations 0002 and 0005), under a
 * per-session lock, so no writer can store an unchained row. The canonical text is
 * jsonb's own rendering of `jsonb_build_array(CHAIN_VERSION, session_id, seq, entry_type,
 * kind, at in epoch ms, actor_id, actor_name, actor_role, command_id, payload)`: jsonb
 * renders one value one way (keys sorted, fixed spacing), so it needs no JSON library to
 * agree with. `id` and `recorded_at` are not covered: reordering shows as a break anyway.
 *
 * Changing, removing, inserting or reordering a row breaks the chain at that row or the
 * next one; `verifyChain` finds the first break. What a chain cannot show on its own is
 * rows cut off its end: keep the head hash that `verify` reports somewhere else.
 */

/** Version tag hashed into every row (the trigger writes the same literal). */
export const CHAIN_VERSION = 'cueroom-audit-1';

export function rowHash(prevHash: string, content: string): string {
  return createHash('sha256').update(prevHash).update('\n').update(content, 'utf8').digest('hex');
}

/** A row as the verifier reads it: position, canonical content text and stored hashes. */
export interface ChainRow {
  id: number;
  seq: number | null;
  content: string;
  prevHash: string | null;
  hash: string | null;
}

/** Why a row breaks the chain. */
export type ChainBreak =
  /** The row was written without hashes (before migration 0001, or not by the app). */
  | 'missing_hash'
  /** The row's content no longer matches its own hash: it was changed. */
  | 'content_altered'
  /** The row is intact but does not follow the row before it: a row was removed, inserted or moved. */
  | 'chain_broken'
  /** The chain holds, but event seqs 1…max are not all there (an event row was removed). */
  | 'events_missing';

export type VerifyResult =
  | {
      intact: true;
      /** Rows checked (events, commands and refusals). */
      rows: number;
      /** Highest event seq. */
      lastSeq: number;
      /** The hash of the last row: keep it elsewhere to detect rows cut off the end later. */
      headHash: string | null;
    }
  | {
      intact: false;
      /** Rows that checked out before the first broken one. */
      rows: number;
      /** Id of the first row that breaks the chain (null for events_missing). */
      firstBrokenId: number | null;
      /** Event seq held by that row (null for a command row), or the first missing seq. */
      firstBrokenSeq: number | null;
      reason: ChainBreak;
      message: string;
    };

const MESSAGES: Record<ChainBreak, string> = {
  missing_hash: 'The row has no hash: it was not written by Cueroom, or before the chain existed.',
  content_altered: 'The row was changed after it was written: its content no longer matches its hash.',
  chain_broken: 'The row does not follow the one before it: a row was removed, inserted or moved before it.',
  events_missing: 'An event of the session is missing from the log.',
};

/**
 * Walks a session's rows in id order and reports the first that breaks the chain. Reads
 * the rows once, keeping only the previous hash: memory stays flat however long the log.
 */
export async function verifyChain(rows: AsyncIterable<ChainRow>): Promise<VerifyResult & { eventRows: number }> {
  let previous = '';
  let count = 0;
  let eventRows = 0;
  let lastSeq = 0;
  for await (const row of rows) {
    const broken = (reason: ChainBreak) => chainBreak(reason, { rows: count, eventRows, id: row.id, seq: row.seq });
    if (row.hash === null || row.prevHash === null) return broken('missing_hash');
    if (rowHash(row.prevHash, row.content) !== row.hash) return broken('content_altered');
    if (row.prevHash !== previous) return broken('chain_broken');
    previous = row.hash;
    count++;
    if (row.seq !== null) {
      eventRows++;
      if (row.seq > lastSeq) lastSeq = row.seq;
    }
  }
  return { intact: true, rows: count, eventRows, lastSeq, headHash: count === 0 ? null : previous };
}

/** The result for the first row that breaks the chain, after `rows` rows that checked out. */
export function chainBreak(
  reason: ChainBreak,
  at: { rows: number; eventRows: number; id: number; seq: number | null },
): Extract<VerifyResult, { intact: false }> & { eventRows: number } {
  return {
    intact: false,
    rows: at.rows,
    eventRows: at.eventRows,
    firstBrokenId: at.id,
    firstBrokenSeq: at.seq,
    reason,
    message: MESSAGES[reason],
  };
}

/** The result for a chain that holds but whose event seqs have a hole at `missingSeq`. */
export function eventsMissing(rows: number, missingSeq: number): VerifyResult {
  return {
    intact: false,
    rows,
    firstBrokenId: null,
    firstBrokenSeq: missingSeq,
    reason: 'events_missing',
    message: MESSAGES.events_missing,
  };
}
