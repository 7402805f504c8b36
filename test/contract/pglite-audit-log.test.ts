import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createPgliteAuditLog } from '../../server/audit/drizzle-audit-log.js';
import { commandWithEvents } from '../support/audit-records.js';
import { auditLogContract } from './audit-log.contract.js';

const folders: string[] = [];
async function tempFolder(): Promise<string> {
  const folder = await mkdtemp(path.join(tmpdir(), 'cueroom-pglite-'));
  folders.push(folder);
  return folder;
}

afterAll(async () => {
  for (const folder of folders) await rm(folder, { recursive: true, force: true });
});

describe('AuditLog on PGlite', () => {
  describe('contract', () => {
    auditLogContract(async () => {
      const log = await createPgliteAuditLog(path.join(await tempFolder(), 'audit'));
      return { log, dispose: () => log.close() };
    });
  });

  it('migrates again on reopen without harm, and keeps what it held (an embedded restart)', async () => {
    const dataDir = path.join(await tempFolder(), 'nested', 'audit');
    const first = await createPgliteAuditLog(dataDir);
    await first.append(commandWithEvents('s-restart', 1, 4));
    await first.close();

    const second = await createPgliteAuditLog(dataDir);
    try {
      expect(await second.highestSeq('s-restart')).toBe(4);
      expect(await second.sessionIds()).toEqual(['s-restart']);
      await second.append(commandWithEvents('s-restart', 5, 1));
      expect(await second.highestSeq('s-restart')).toBe(5);
    } finally {
      await second.close();
    }
  });

  it('runs in memory when given no folder', async () => {
    const log = await createPgliteAuditLog(undefined);
    try {
      await log.append(commandWithEvents('s-memory', 1, 2));
      expect(await log.highestSeq('s-memory')).toBe(2);
    } finally {
      await log.close();
    }
  });
});
