import { afterEach, describe, expect, it, vi } from 'vitest';
import { TokenService, isExpiredTokenError } from '../../server/tokens.js';

const SECRET = 'unit-test-token-secret-0123456789-0123456789';
const claims = { sid: 's-1', role: 'tech', sub: 'p-1', name: 'Tess' } as const;

describe('TokenService', () => {
  afterEach(() => vi.useRealTimers());

  it('verifies a token it issued, again and again, with the same claims', async () => {
    const tokens = new TokenService(SECRET, 3600);
    const { token } = await tokens.issue(claims);
    expect(await tokens.verify(token)).toEqual(claims);
    expect(await tokens.verify(token)).toEqual(claims);
  });

  it('refuses a token once it expired, even one it verified before', async () => {
    vi.useFakeTimers({ now: new Date('2026-11-23T12:00:00Z'), toFake: ['Date'] });
    const tokens = new TokenService(SECRET, 60);
    const { token } = await tokens.issue(claims);
    expect(await tokens.verify(token)).toEqual(claims);

    vi.setSystemTime(new Date('2026-11-23T12:01:01Z'));
    const refusal = await tokens.verify(token).catch((error: unknown) => error);
    expect(refusal).toMatchObject({ code: 'unauthorized' });
    expect(isExpiredTokenError(refusal)).toBe(true);
  });

  it('refuses a token signed with another secret or altered, even after verifying the real one', async () => {
    const tokens = new TokenService(SECRET, 3600);
    const { token } = await tokens.issue(claims);
    await tokens.verify(token);
    const [header, , signature] = token.split('.');
    const forged = `${header}.${Buffer.from(JSON.stringify({ ...claims, role: 'ops', iss: 'cueroom', exp: 4e9 })).toString('base64url')}.${signature}`;
    await expect(tokens.verify(forged)).rejects.toMatchObject({ code: 'unauthorized' });
    const other = await new TokenService(`${SECRET}-other`, 3600).issue(claims);
    await expect(tokens.verify(other.token)).rejects.toMatchObject({ code: 'unauthorized' });
  });
});
