import { Inject, Injectable } from '@nestjs/common';
import { errors, jwtVerify, SignJWT } from 'jose';
import { CONFIG, type Config } from '../config/config.js';

const ISSUER = 'ai-village';
const AUDIENCE = 'ai-village/api';

export interface AccessClaims {
  userId: string;
  sessionId: string;
}

/**
 * A person's access token: a short-lived HS256 JWT that names the user and the session. It carries
 * no role: the role, bans and sign-out are read from the session (cached, invalidated across
 * replicas), so they take effect at once rather than when the token expires.
 */
@Injectable()
export class AccessTokens {
  private readonly secret: Uint8Array;

  constructor(@Inject(CONFIG) private readonly config: Config) {
    this.secret = new TextEncoder().encode(config.VILLAGE_JWT_SECRET);
  }

  get lifetimeMs() {
    return this.config.VILLAGE_ACCESS_TOKEN_TTL_S * 1000;
  }

  async issue(claims: AccessClaims): Promise<{ token: string; expiresAt: Date }> {
    const expiresAt = new Date(Date.now() + this.lifetimeMs);
    const token = await new SignJWT({ sid: claims.sessionId })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(claims.userId)
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setIssuedAt()
      .setExpirationTime(Math.floor(expiresAt.getTime() / 1000))
      .sign(this.secret);
    return { token, expiresAt };
  }

  /** The claims of a valid token; `expired` for one past its time; undefined for anything else. */
  async verify(token: string): Promise<AccessClaims | 'expired' | undefined> {
    try {
      const { payload } = await jwtVerify(token, this.secret, {
        issuer: ISSUER,
        audience: AUDIENCE,
        algorithms: ['HS256'],
      });
      if (typeof payload.sub !== 'string' || typeof payload.sid !== 'string') return undefined;
      return { userId: payload.sub, sessionId: payload.sid };
    } catch (error) {
      return error instanceof errors.JWTExpired ? 'expired' : undefined;
    }
  }
}

/** Access tokens are JWTs (three dot-separated parts); agent and admin tokens never contain a dot. */
export function looksLikeJwt(token: string): boolean {
  return token.split('.').length === 3;
}
