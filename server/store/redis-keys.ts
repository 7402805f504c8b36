/**
 * Every Redis key Cueroom uses, built in this one module.
 *
 * Keys of one session share the hash tag `{s:ID}`, so a Lua script may touch all of them
 * and Redis Cluster keeps them on one slot. Keys that span sessions (the registry, the
 * audit's active set) live outside any session slot and are never touched by the same
 * script as a session key.
 *
 * Layout (prefix `cueroom` by default):
 *
 * | key                              | type   | holds                                                        |
 * | -------------------------------- | ------ | ------------------------------------------------------------ |
 * | `P:{s:ID}:meta`                  | hash   | `seq`, `rn` (refused entries at this seq), `title`, `status`, `createdAt`, `trimFloor`, `auditFloor` |
 * | `P:{s:ID}:events`                | stream | one entry per command: `records` (AuditRecord[] JSON), `ts`    |
 * | `P:{s:ID}:snapshot`              | hash   | `seq`, `state` (SessionState JSON)                             |
 * | `P:{s:ID}:cmd:<commandId>`       | string | CommandResult JSON, EX 86400                                  |
 * | `P:{s:ID}:presence`              | hash   | reserved for presence                                         |
 * | `P:sessions`                     | zset   | session ids scored by createdAt                               |
 * | `P:audit:active`                 | set    | session ids whose streams the audit shipper reads             |
 */
export class RedisKeys {
  /** @param prefix Namespace of every key; default `cueroom`. Tests use a random one. */
  constructor(readonly prefix: string = 'cueroom') {
    if (/[{}\s]/.test(prefix))
      throw new Error(`Redis key prefix must not hold braces or spaces: ${JSON.stringify(prefix)}`);
  }

  /** The hash tag shared by every key of one session. */
  tag(sessionId: string): string {
    return `{s:${sessionId}}`;
  }

  private session(sessionId: string, name: string): string {
    return `${this.prefix}:${this.tag(sessionId)}:${name}`;
  }

  meta(sessionId: string): string {
    return this.session(sessionId, 'meta');
  }

  events(sessionId: string): string {
    return this.session(sessionId, 'events');
  }

  snapshot(sessionId: string): string {
    return this.session(sessionId, 'snapshot');
  }

  command(sessionId: string, commandId: string): string {
    return this.session(sessionId, `cmd:${commandId}`);
  }

  presence(sessionId: string): string {
    return this.session(sessionId, 'presence');
  }

  /** The session id back from a key of {@link events} (feeds and the shipper read many streams at once). */
  sessionOfEvents(key: string): string | null {
    const head = `${this.prefix}:{s:`;
    const tail = '}:events';
    if (!key.startsWith(head) || !key.endsWith(tail)) return null;
    return key.slice(head.length, key.length - tail.length);
  }

  /** Every session ever created, scored by createdAt (ms), for `list()`. */
  registry(): string {
    return `${this.prefix}:sessions`;
  }

  /** Sessions whose streams the audit shipper reads. */
  auditActive(): string {
    return `${this.prefix}:audit:active`;
  }

  /** Name of the consumer group of the audit shipper on every session stream. */
  readonly auditGroup = 'audit';
}

/** Command results are remembered for a day, then a retry is a new command. */
export const COMMAND_RESULT_TTL_SECONDS = 86_400;

/** A stream entry id `<seq>-<k>` split into its two numbers (seqs stay far below 2^53). */
export function parseEntryId(id: string): { seq: number; k: number } {
  const dash = id.indexOf('-');
  return { seq: Number(id.slice(0, dash)), k: Number(id.slice(dash + 1)) };
}

/**
 * The XREAD / XRANGE-exclusive id that stands just before every entry that may hold an
 * event with seq > afterSeq: entries holding events are `<lastSeq>-0`, so any entry with
 * an event above afterSeq has an id ≥ `<afterSeq+1>-0`, and refused entries `<afterSeq>-n`
 * are skipped.
 */
export function idBeforeSeq(afterSeq: number): string {
  return `${afterSeq}-18446744073709551615`;
}
