import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

interface StoredSecrets {
  tokenSecret: string;
  adminToken: string;
}

/**
 * Secrets not given in the environment: generated once and kept in DATA_DIR (mode 0600),
 * so invite links and the admin token survive a restart of an embedded Cueroom.
 */
export async function resolveSecrets(
  dataDir: string,
  given: { tokenSecret: string | null; adminToken: string | null },
): Promise<StoredSecrets & { generatedAdminToken: boolean }> {
  if (given.tokenSecret && given.adminToken) {
    return { tokenSecret: given.tokenSecret, adminToken: given.adminToken, generatedAdminToken: false };
  }
  const file = path.join(dataDir, 'secrets.json');
  let stored: Partial<StoredSecrets> = {};
  try {
    stored = JSON.parse(await readFile(file, 'utf8')) as Partial<StoredSecrets>;
  } catch {
    // First start: nothing stored yet.
  }
  const next: StoredSecrets = {
    tokenSecret: stored.tokenSecret ?? randomBytes(32).toString('base64url'),
    adminToken: stored.adminToken ?? randomBytes(18).toString('base64url'),
  };
  if (next.tokenSecret !== stored.tokenSecret || next.adminToken !== stored.adminToken) {
    await mkdir(dataDir, { recursive: true });
    await writeFile(file, JSON.stringify(next, null, 2), { mode: 0o600 });
  }
  return {
    tokenSecret: given.tokenSecret ?? next.tokenSecret,
    adminToken: given.adminToken ?? next.adminToken,
    generatedAdminToken: !given.adminToken,
  };
}
