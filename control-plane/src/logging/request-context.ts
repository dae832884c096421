import { AsyncLocalStorage } from 'node:async_hooks';
import type { NextFunction, Request, Response } from 'express';

/**
 * The request a piece of work belongs to. Every log line written while serving a request carries its
 * id (the logger's mixin reads it), so one request can be followed across modules and, since a
 * reverse proxy's `X-Request-Id` is kept, across the proxy and the replicas.
 */
export const requestContext = new AsyncLocalStorage<{ requestId: string }>();

/**
 * Express middleware; installed after the body parsers, because their stream callbacks run outside
 * the context of whoever called them.
 */
export function withRequestContext(request: Request & { id?: string }, _response: Response, next: NextFunction) {
  if (!request.id) return next();
  requestContext.run({ requestId: request.id }, next);
}

/** The logger's mixin: `{ requestId }` inside a request, nothing outside. */
export function requestLogFields(): { requestId?: string } {
  return requestContext.getStore() ?? {};
}
