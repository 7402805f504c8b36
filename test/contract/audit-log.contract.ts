import { afterAll, beforeAll, expect, it } from 'vitest';
import { sessionEventSchema, type SessionEvent } from '../../shared/events.js';
import type { ErrorBody } from '../../shared/protocol.js';
import { InvalidAuditRecordError, MAX_AUDIT_PAGE, type AuditLog, type AuditRow } from '../../server/audit/audit-log.js';
import type { AuditRecord } from '../../server/store/session-store.js';
import {
  commandRecord,
  commandWithEvents,
  eventRecords,
  opsActor,
  refusedRecord,
  sampleEvents,
} from '../support/audit-records.js';
import { uniqueName } from '../support/services.js';

export interface AuditLogUnderTest {
  log: AuditLog;
  /** Closes the log and removes what the factory made (schema, data folder). */
  dispose(): Promise<void>;
}

/** The events of `eventPages`, in order; every page it yields holds at least one. */
async function eventsOf(log: AuditLog, sessionId: string): Promise<SessionEvent[]> {
  const out: SessionEvent[] = [];
  for await (const page of log.eventPages(sessionId)) {
    expect(page.length).toBeGreaterThan(0);
    out.push(...page);
  }
  return out;
}

async function readAll(
  log: AuditLog,
  sessionId: string,
  filter: { entryType?: AuditRow['entryType']; kind?: string } = {},
  limit = 7,
) {
  const rows: AuditRow[] = [];
  let afterId: number | undefined;
  for (;;) {
    const page = await log.read(sessionId, { ...filter, limit, ...(afterId === undefined ? {} : { afterId }) });
    rows.push(...page);
    if (page.length < limit) return rows;
    afterId = page.at(-1)!.id;
  }
}

/**
 * The AuditLog contract: every implementation runs this suite unchanged. The factory is
 * called once per suite; tests isolate themselves by session id.
 */
export function auditLogContract(make: () => Promise<AuditLogUnderTest>): void {
  let subject: AuditLogUnderTest;
  let log: AuditLog;
  const session = () => uniqueName('session');

  beforeAll(async () => {
    subject = await make();
    log = subject.log;
  });
  afterAll(async () => {
    await subject?.dispose();
  });

  it('answers ping', async () => {
    await expect(log.ping()).resolves.toBeUndefined();
  });

  it('gives back exactly the SessionEvents appended, in seq order', async () => {
    const id = session();
    const events = sampleEvents(id, 1, 12);
    // The fixtures are real events: the round trip is checked on what the server sends.
    for (const event of events) expect(sessionEventSchema.safeParse(event).success).toBe(true);
    await log.append(eventRecords(id, events.slice(6)));
    await log.append(eventRecords(id, events.slice(0, 6)));
    const back = await eventsOf(log, id);
    // Strict: no key added, none lost, no undefined where there was nothing.
    expect(back).toStrictEqual(events);
  });

  it('stores each row once however often a batch is appended', async () => {
    const id = session();
    const batch = [...commandWithEvents(id, 1, 3), refusedRecord(id, 'cmd-refused-1', { kind: 'incident.raise' })];
    await log.append(batch);
    await log.append(batch);
    // Overlapping, and with a row repeated inside one batch.
    const more = commandWithEvents(id, 4, 2);
    await log.append([...batch.slice(2), ...more, more[1]!]);
    const rows = await readAll(log, id);
    expect(rows.map((row) => [row.entryType, row.seq, row.commandId])).toEqual([
      ['command', null, `cmd-${id}-1`],
      ['event', 1, `cmd-${id}-1`],
      ['event', 2, `cmd-${id}-1`],
      ['event', 3, `cmd-${id}-1`],
      ['refused', null, 'cmd-refused-1'],
      ['command', null, `cmd-${id}-4`],
      ['event', 4, `cmd-${id}-4`],
      ['event', 5, `cmd-${id}-4`],
    ]);
    expect(await eventsOf(log, id)).toHaveLength(5);
  });

  it('keeps a command row and a refused row of one command id apart, and sessions apart', async () => {
    const id = session();
    const other = session();
    await log.append([
      commandRecord(id, 'cmd-shared-0001', 1),
      refusedRecord(id, 'cmd-shared-0001', { kind: 'cue.send' }),
    ]);
    await log.append([commandRecord(other, 'cmd-shared-0001', 1)]);
    expect((await readAll(log, id)).map((row) => row.entryType)).toEqual(['command', 'refused']);
    expect((await readAll(log, other)).map((row) => row.entryType)).toEqual(['command']);
  });

  it('maps every column of event, command and refused rows', async () => {
    const id = session();
    const [event] = sampleEvents(id, 2, 1);
    await log.append([commandRecord(id, 'cmd-columns-1', 2), ...eventRecords(id, [event!])]);
    const [command, row] = await log.read(id, { limit: 10 });
    expect(command).toMatchObject({
      sessionId: id,
      seq: null,
      entryType: 'command',
      kind: 'session.set_target_bitrate',
      actorId: opsActor.id,
      actorName: opsActor.name,
      actorRole: opsActor.role,
      commandId: 'cmd-columns-1',
      payload: {
        command: { kind: 'session.set_target_bitrate', targetBitrateKbps: 4500 },
        result: { ok: true, seq: 2, lastSeq: 2 },
      },
    });
    expect(command!.at).toBeInstanceOf(Date);
    expect(row).toMatchObject({ seq: 2, entryType: 'event', kind: 'incident.raised', commandId: event!.commandId });
    expect(row!.at.getTime()).toBe(event!.at);
    expect(typeof row!.id).toBe('number');
    expect(row!.id).toBeGreaterThan(command!.id);
  });

  it('stores refused commands, parsed or not, with their error', async () => {
    const id = session();
    const error: ErrorBody = {
      code: 'invalid_command',
      message: 'bad',
      details: [{ path: ['severity'], message: 'Invalid option' }],
    };
    await log.append([
      refusedRecord(id, 'cmd-refused-parsed', { kind: 'incident.raise', severity: 'sev9' }, error),
      refusedRecord(id, 'cmd-refused-raw01', 'not even an object'),
      refusedRecord(id, 'cmd-refused-made-up', { kind: 'drop.table', x: 1 }),
      // What Postgres cannot hold as such (NUL, a lone surrogate, deep nesting) must still
      // land: one such row would otherwise block every batch behind it.
      refusedRecord(id, 'cmd-refused-nasty', { kind: 'x\u0000y', text: 'a\uD800b', deep: nest(200) }),
    ]);
    const rows = await log.read(id, { limit: 10, entryType: 'refused' });
    expect(rows.map((row) => [row.commandId, row.kind])).toEqual([
      ['cmd-refused-parsed', 'incident.raise'],
      ['cmd-refused-raw01', 'unknown'],
      ['cmd-refused-made-up', 'unknown'],
      ['cmd-refused-nasty', 'unknown'],
    ]);
    expect(rows[0]!.payload).toEqual({ command: { kind: 'incident.raise', severity: 'sev9' }, error });
    expect(rows[1]!.payload).toEqual({
      command: 'not even an object',
      error: { code: 'forbidden', message: 'ops may not do that' },
    });
    expect(rows[3]!.payload).toMatchObject({ command: { kind: 'x\uFFFDy', text: 'a\uFFFDb' } });
    expect(await log.highestSeq(id)).toBe(0);
  });

  it('refuses a record that can never be stored, before writing any of the batch', async () => {
    const id = session();
    const good = eventRecords(id, sampleEvents(id, 1, 600));
    const [bad] = eventRecords(id, sampleEvents(id, 601, 1));
    const badAt = {
      ...bad!,
      event: { ...(bad as Extract<AuditRecord, { type: 'event' }>).event, at: Number.NaN },
    } as AuditRecord;
    await expect(log.append([...good, badAt])).rejects.toBeInstanceOf(InvalidAuditRecordError);
    const badSeq = {
      ...bad!,
      event: { ...(bad as Extract<AuditRecord, { type: 'event' }>).event, seq: 0 },
    } as AuditRecord;
    await expect(log.append([badSeq])).rejects.toBeInstanceOf(InvalidAuditRecordError);
    expect(await log.read(id, { limit: 10 })).toEqual([]);
  });

  it('pages by id with entry type and kind filters', async () => {
    const id = session();
    const records: AuditRecord[] = [];
    for (let seq = 1; seq <= 30; seq += 3) records.push(...commandWithEvents(id, seq, 3));
    records.push(refusedRecord(id, 'cmd-refused-page', { kind: 'cue.send' }));
    await log.append(records);
    await log.append(commandWithEvents(session(), 1, 5)); // another session, interleaved ids

    const all = await readAll(log, id);
    expect(all).toHaveLength(41);
    expect(all.every((row) => row.sessionId === id)).toBe(true);
    expect(all.map((row) => row.id)).toEqual([...all.map((row) => row.id)].sort((a, b) => a - b));
    expect(new Set(all.map((row) => row.id)).size).toBe(41);

    const events = await readAll(log, id, { entryType: 'event' }, 4);
    expect(events.map((row) => row.seq)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    expect(await readAll(log, id, { entryType: 'command' }, 3)).toHaveLength(10);
    expect((await readAll(log, id, { entryType: 'refused' })).map((row) => row.commandId)).toEqual([
      'cmd-refused-page',
    ]);

    const cues = await readAll(log, id, { kind: 'cue.sent' }, 2);
    expect(cues.length).toBeGreaterThan(0);
    expect(cues.every((row) => row.kind === 'cue.sent' && row.entryType === 'event')).toBe(true);
    expect(await readAll(log, id, { kind: 'cue.sent', entryType: 'command' })).toEqual([]);

    const page = await log.read(id, { limit: 5, afterId: all[9]!.id });
    expect(page).toEqual(all.slice(10, 15));
    expect(await log.read(id, { limit: 5, afterId: all.at(-1)!.id })).toEqual([]);
    expect(await log.read(session(), { limit: 5 })).toEqual([]);
  });

  it('caps a page at MAX_AUDIT_PAGE rows', async () => {
    const id = session();
    await log.append(eventRecords(id, sampleEvents(id, 1, MAX_AUDIT_PAGE + 5)));
    expect(await log.read(id, { limit: MAX_AUDIT_PAGE * 10 })).toHaveLength(MAX_AUDIT_PAGE);
  });

  it('knows the highest event seq of each session', async () => {
    const id = session();
    expect(await log.highestSeq(id)).toBe(0);
    await log.append(eventRecords(id, sampleEvents(id, 6, 5)));
    expect(await log.highestSeq(id)).toBe(10);
    await log.append(eventRecords(id, sampleEvents(id, 1, 5)));
    await log.append([refusedRecord(id, 'cmd-refused-hs', { kind: 'cue.send' })]);
    expect(await log.highestSeq(id)).toBe(10);
    expect(await log.highestSeq(session())).toBe(0);
  });

  it('lists the ids of every session with rows', async () => {
    const a = session();
    const b = session();
    await log.append([...commandWithEvents(a, 1, 1), refusedRecord(b, 'cmd-refused-ids', 'raw')]);
    const ids = await log.sessionIds();
    expect(ids).toEqual(expect.arrayContaining([a, b]));
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('takes a 2000-row batch in one call, and again without duplicates', async () => {
    const id = session();
    const events = sampleEvents(id, 1, 2000);
    const batch = [commandRecord(id, 'cmd-big-batch', 1, 2000), ...eventRecords(id, events)];
    await log.append(batch);
    await log.append(batch);
    expect(await log.highestSeq(id)).toBe(2000);
    const back = await eventsOf(log, id);
    expect(back).toHaveLength(2000);
    expect(back).toEqual(events);
    expect(await readAll(log, id, {}, MAX_AUDIT_PAGE)).toHaveLength(2001);
  });
}

function nest(depth: number): unknown {
  let value: unknown = 'bottom';
  for (let i = 0; i < depth; i++) value = [value];
  return value;
}
