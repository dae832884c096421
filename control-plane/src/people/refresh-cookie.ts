import type { CookieOptions, Request, Response } from 'express';
import type { Config } from '../config/config.js';

export const REFRESH_COOKIE = 'village_refresh';

/**
 * The browser's refresh token: httpOnly (the page's script never sees it), SameSite=Strict (never
 * sent by another site's request, which is what makes a cookie safe from CSRF here) and scoped to
 * /api/auth, so no other request carries it.
 */
function cookieOptions(config: Config, request: Request, maxAgeMs: number): CookieOptions {
  const secure = config.VILLAGE_COOKIE_SECURE === 'auto' ? request.secure : config.VILLAGE_COOKIE_SECURE === 'true';
  return { httpOnly: true, sameSite: 'strict', path: '/api/auth', secure, maxAge: maxAgeMs };
}

export function setRefreshCookie(config: Config, request: Request, response: Response, token: string) {
  response.cookie(REFRESH_COOKIE, token, cookieOptions(config, request, config.VILLAGE_SESSION_DAYS * 86_400_000));
}

export function clearRefreshCookie(config: Config, request: Request, response: Response) {
  const { maxAge: _ignored, ...options } = cookieOptions(config, request, 0);
  response.clearCookie(REFRESH_COOKIE, options);
}

export function readRefreshCookie(request: Request): string | undefined {
  for (const part of (request.headers.cookie ?? '').split(';')) {
    const [name, ...value] = part.trim().split('=');
    if (name === REFRESH_COOKIE) return decodeURIComponent(value.join('='));
  }
  return undefined;
}
