import { SignJWT, errors as joseErrors, jwtVerify } from 'jose';
import { ErrorCode } from '../shared/errors.js';
import { tokenClaimsSchema, type TokenClaims } from '../shared/protocol.js';
import { CueroomError } from './errors.js';

const ISSUER = 'cueroom';

/**
 * Signed, expiring invite tokens (HS256 JWTs). A token names one session, one role and one
 * person; the role is fixed for the life of a connection made with it.
 */
export class TokenService {
  private readonly key: Uint8Array;

  constructor(
    secret: string,
    /** Default lifetime in seconds of issued tokens. */
    private readonly ttlSeconds: number,
  ) {
    this.key = new TextEncoder().encode(secret);
  }

  async issue(claims: TokenClaims, ttlSeconds = this.ttlSeconds): Promise<{ token: string; expiresAt: number }> {
    const expiresAt = Math.floor(Date.now() / 1000) + ttlSeconds;
    const token = await new SignJWT({ sid: claims.sid, role: claims.role, name: claims.name })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(claims.sub)
      .setIssuer(ISSUER)
      .setIssuedAt()
      .setExpirationTime(expiresAt)
      .sign(this.key);
    return { token, expiresAt: expiresAt * 1000 };
  }

  /** Throws CueroomError `unauthorized`; `expired: true` in the cause tells an expired token from a bad one. */
  async verify(token: string): Promise<TokenClaims> {
    try {
      const { payload } = await jwtVerify(token, this.key, { issuer: ISSUER, algorithms: ['HS256'] });
      const parsed = tokenClaimsSchema.safeParse(payload);
      if (!parsed.success) throw new CueroomError(ErrorCode.Unauthorized, 'The token does not name a session, role and person.');
      return parsed.data;
    } catch (error) {
      if (error instanceof CueroomError) throw error;
      if (error instanceof joseErrors.JWTExpired) {
        throw new CueroomError(ErrorCode.Unauthorized, 'The invite token has expired; ask the ops lead for a new invite link.', {
          cause: new TokenExpiredError(),
        });
      }
      throw new CueroomError(ErrorCode.Unauthorized, 'The token is not valid for this server; check the invite link.', { cause: error });
    }
  }
}

export class TokenExpiredError extends Error {
  constructor() {
    super('token expired');
  }
}

export function isExpiredTokenError(error: unknown): boolean {
  return error instanceof CueroomError && error.cause instanceof TokenExpiredError;
}
