import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** A fresh agent bearer token: 256 random bits, recognisable by its `avt_` prefix. */
export function generateAgentToken(): string {
  return `avt_${randomBytes(32).toString('base64url')}`;
}

/** A fresh node token (its daemons' credential), recognisable by its `vnt_` prefix. */
export function generateNodeToken(): string {
  return `vnt_${randomBytes(32).toString('base64url')}`;
}

export function isNodeToken(token: string): boolean {
  return token.startsWith('vnt_');
}

/** Tokens are high-entropy, so a plain SHA-256 is the right hash (no salt or stretching needed). */
export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export function sameSecret(a: string, b: string): boolean {
  const left = createHash('sha256').update(a).digest();
  const right = createHash('sha256').update(b).digest();
  return timingSafeEqual(left, right);
}
