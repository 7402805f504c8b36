import { SignJWT, errors as joseErrors, jwtVerify } from 'jose';
import { ErrorCode } from '../shared/errors.js';
import { tokenClaimsSchema, type TokenClaims } from '../shared/protocol.js';
import { CueroomError } from './errors.js';

const ISSUER = 'cueroom';
/** Verified tokens remembered (see TokenService.verified). */
const VERIFIED_TOKENS_KEPT = 10_000;

/**
 * Signed, expiring invite tokens (HS256 JWTs). A token names one session, one role and one
 * person; the role is fixed for the life of a connection made with it.
 */
export class TokenService {
  private readonly key: Uint8Array;
  /**
   * Tokens that verified, with their claims, until they expire: an agent or a chat bot
   * sends the same token with every request, and checking a signature (a WebCrypto key
   * import and an HMAC) costs more than the rest of a small request. Bounded, oldest out.
   */
  private readonly verified = new Map<string, { claims: TokenClaims; expiresAt: number }>();

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
    const known = this.verified.get(token);
    if (known) {
      // Past its expiry it goes through jwtVerify again, which says so.
      if (known.expiresAt > Date.now()) return known.claims;
      this.verified.delete(token);
    }
    try {
      const { payload } = await jwtVerify(token, this.key, { issuer: ISSUER, algorithms: ['HS256'] });
      const parsed = tokenClaimsSchema.safeParse(payload);
      if (!parsed.success) throw new CueroomError(ErrorCode.Unauthorized, 'The token does not name a session, role and person.');
      if (typeof payload.exp === 'number') {
        if (this.verified.size >= VERIFIED_TOKENS_KEPT) this.verified.delete(this.verified.keys().next().value!);
        this.verified.set(token, { claims: parsed.data, expiresAt: payload.exp * 1000 });
      }
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
