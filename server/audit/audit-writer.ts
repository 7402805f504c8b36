import { CueroomError } from '../errors.js';
import type { AuditRecord } from '../store/session-store.js';
import { InvalidAuditRecordError, type AuditLog } from './audit-log.js';

export interface AuditWriterOptions {
  /** Delay before the first retry of a failed batch; doubles on each further failure. Default 50 ms. */
  retryBaseMs?: number;
  /** Longest delay between two attempts. Default 5000 ms. */
  retryMaxMs?: number;
  /**
   * Most records in one batch. Writes are never split, so one larger write goes out alone;
   * the log cuts a batch into INSERTs of 500 rows itself. Default 5000.
   */
  maxBatchRecords?: number;
  /** Told of every failed attempt, for the log and metrics. Default: nothing. */
  onError?: (error: unknown, info: { attempt: number; records: number; retryInMs: number }) => void;
}

export interface AuditWriterCloseOptions {
  /**
   * How long to wait for the backlog to land. Past it the writer stops retrying and
   * rejects the writes still waiting (their commands were never acknowledged). Default:
   * no limit, wait as long as the database stays away.
   */
  timeoutMs?: number;
}

interface PendingWrite {
  records: readonly AuditRecord[];
  resolve: () => void;
  reject: (error: unknown) => void;
  settled?: boolean;
}

/**
 * Group commit in front of an AuditLog. Every write made in one tick, or while a batch is
 * in flight, goes out with the others as one append; a failed batch is retried, the same
 * batch in the same order, with capped exponential backoff until it lands (appends are
 * idempotent, so a batch that landed but whose answer was lost is harmless to resend).
 * Batches go out one at a time in write order: nothing is reordered, nothing dropped.
 *
 * Embedded mode acknowledges a command only once `write` resolved, so everything
 * acknowledged is in PGlite. A retry can only happen if an attempt ends: give the pg pool
 * a `connectionTimeoutMillis` and a `query_timeout`, or an attempt may hang on a dead host.
 */
export class AuditWriter {
  readonly #log: AuditLog;
  readonly #retryBaseMs: number;
  readonly #retryMaxMs: number;
  readonly #maxBatchRecords: number;
  readonly #onError: AuditWriterOptions['onError'];

  #queue: PendingWrite[] = [];
  #queuedRecords = 0;
  #inFlightRecords = 0;
  #inFlight: PendingWrite[] = [];
  #running = false;
  #closed = false;
  #aborted = false;
  #wake: (() => void) | undefined;
  /** Writes accepted and writes settled so far: flush() waits for the count of the moment. */
  #accepted = 0;
  #settled = 0;
  #flushWaiters: Array<{ target: number; resolve: () => void }> = [];

  constructor(log: AuditLog, options: AuditWriterOptions = {}) {
    this.#log = log;
    this.#retryBaseMs = options.retryBaseMs ?? 50;
    this.#retryMaxMs = options.retryMaxMs ?? 5000;
    this.#maxBatchRecords = options.maxBatchRecords ?? 5000;
    this.#onError = options.onError;
  }

  /**
   * Resolves once the records are in the audit log. Rejects only with an
   * InvalidAuditRecordError (a record no database could take; the other writes of its
   * batch still land) or when the writer is closed.
   */
  write(records: readonly AuditRecord[]): Promise<void> {
    if (this.#closed) return Promise.reject(new CueroomError('unavailable', 'The audit writer is closed.'));
    if (records.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ records, resolve, reject });
      this.#queuedRecords += records.length;
      this.#accepted += 1;
      if (!this.#running) {
        this.#running = true;
        // The batch leaves on the next turn of the event loop: whatever else is written
        // in this one joins it.
        setImmediate(() => void this.#drain());
      }
    });
  }

  /** Records written but not yet in the log (the audit backlog of /metrics). */
  pending(): number {
    return this.#queuedRecords + this.#inFlightRecords;
  }

  /** Resolves when every write made before this call has landed (or was rejected). */
  flush(): Promise<void> {
    const target = this.#accepted;
    if (this.#settled >= target) return Promise.resolve();
    return new Promise((resolve) => this.#flushWaiters.push({ target, resolve }));
  }

  /**
   * Takes no more writes and waits for the backlog to land (see timeoutMs). Resolves with
   * the number of records given up, 0 unless the timeout passed. Does not close the log.
   */
  async close(options: AuditWriterCloseOptions = {}): Promise<number> {
    this.#closed = true;
    const flushed = this.flush();
    if (options.timeoutMs === undefined) {
      await flushed;
      return 0;
    }
    let timer: NodeJS.Timeout | undefined;
    const landed = await Promise.race([
      flushed.then(() => true),
      new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), options.timeoutMs))),
    ]);
    clearTimeout(timer);
    if (landed) return 0;
    return this.#abort();
  }

  #abort(): number {
    this.#aborted = true;
    const abandoned = [...this.#inFlight, ...this.#queue];
    const records = this.pending();
    this.#queue = [];
    this.#queuedRecords = 0;
    this.#inFlight = [];
    this.#inFlightRecords = 0;
    const error = new CueroomError('unavailable', 'The audit log did not answer before shutdown.');
    // #aborted is set: #settle leaves the (zeroed) counts alone.
    for (const write of abandoned) this.#settle(write, error);
    this.#wake?.();
    return records;
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0 && !this.#aborted) {
      const batch = this.#take();
      await this.#land(batch);
      this.#inFlight = [];
    }
    this.#running = false;
  }

  #take(): PendingWrite[] {
    const batch: PendingWrite[] = [];
    let size = 0;
    while (this.#queue.length > 0) {
      const next = this.#queue[0]!;
      if (batch.length > 0 && size + next.records.length > this.#maxBatchRecords) break;
      this.#queue.shift();
      batch.push(next);
      size += next.records.length;
    }
    this.#queuedRecords -= size;
    this.#inFlightRecords += size;
    this.#inFlight = batch;
    return batch;
  }

  async #land(batch: PendingWrite[]): Promise<void> {
    const records: AuditRecord[] = [];
    for (const write of batch) for (const record of write.records) records.push(record);
    for (let attempt = 1; ; attempt++) {
      if (this.#aborted) return;
      try {
        await this.#log.append(records);
        break;
      } catch (error) {
        if (this.#aborted) return;
        if (error instanceof InvalidAuditRecordError) {
          // No retry can store it. Find the write that carried it by landing the writes
          // one by one, in order; only that one is rejected.
          if (batch.length === 1) {
            this.#settle(batch[0]!, error);
            return;
          }
          for (const write of batch) await this.#land([write]);
          return;
        }
        const retryInMs = this.#backoff(attempt);
        try {
          this.#onError?.(error, { attempt, records: records.length, retryInMs });
        } catch {
          // A failing reporter must not stop the retries.
        }
        await this.#sleep(retryInMs);
      }
    }
    // Aborted meanwhile: the writes were already rejected; that they landed after all is
    // harmless (their commands were not acknowledged, and a retry finds them).
    if (this.#aborted) return;
    for (const write of batch) this.#settle(write);
  }

  #settle(write: PendingWrite, error?: unknown): void {
    // A write of a split batch may settle before an abort sweeps the whole batch.
    if (write.settled) return;
    write.settled = true;
    if (!this.#aborted) this.#inFlightRecords -= write.records.length;
    this.#settled += 1;
    if (error === undefined) write.resolve();
    else write.reject(error);
    if (this.#flushWaiters.length > 0) {
      const waiting = this.#flushWaiters;
      this.#flushWaiters = waiting.filter((waiter) => waiter.target > this.#settled);
      for (const waiter of waiting) if (waiter.target <= this.#settled) waiter.resolve();
    }
  }

  #backoff(attempt: number): number {
    const ceiling = Math.min(this.#retryMaxMs, this.#retryBaseMs * 2 ** Math.min(attempt - 1, 30));
    // Half fixed, half random: instances that lost the database together do not all
    // come back in the same millisecond.
    return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#wake = undefined;
        resolve();
      }, ms);
      this.#wake = () => {
        clearTimeout(timer);
        this.#wake = undefined;
        resolve();
      };
    });
  }
}
