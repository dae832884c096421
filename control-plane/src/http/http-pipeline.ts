import type { NestExpressApplication } from '@nestjs/platform-express';
import express, { type NextFunction, type Request, type Response } from 'express';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { serveAdminConsole } from './admin-console.js';
import { errorBodyFor } from './api-error.js';
import { withRequestContext } from '../logging/request-context.js';
import { recordHttpRequest } from '../metrics/instruments.js';
import { PAYPAL_WEBHOOK_PATH, paypalWebhookBody } from '../payments/raw-body.js';

const BODY_LIMIT = '100kb';
const LLM_BODY_LIMIT = '4mb';

/**
 * The Express layers in front of Nest, in order: request id and access log, JSON body parsing with
 * clear errors, CORS for the console (exposing Content-Range), and the map page at `/`.
 */
export function installHttpPipeline(
  app: NestExpressApplication,
  logger: Logger,
  mapDist: string | undefined,
  adminDist?: string,
) {
  app.use(requestLog(logger));
  // PayPal signs the exact bytes it sends: its webhook keeps them, unparsed (payments/raw-body.ts).
  app.use(PAYPAL_WEBHOOK_PATH, paypalWebhookBody);
  app.use(jsonOnly);
  // LLM prompts are larger than anything else the village takes.
  app.use('/v1', express.json({ limit: LLM_BODY_LIMIT }));
  app.use(express.json({ limit: BODY_LIMIT, strict: false }));
  app.use(bodyErrors);
  app.use(withRequestContext);
  // Bearer tokens need no credentials mode, and the refresh cookie is same-site only, so no other
  // origin's page may make credentialed calls.
  app.enableCors({
    origin: true,
    credentials: false,
    exposedHeaders: ['Content-Range', 'X-Request-Id', 'Retry-After'],
    allowedHeaders: ['Authorization', 'Content-Type', 'Range', 'X-Request-Id', 'Idempotency-Key'],
  });
  serveAdminConsole(app, adminDist);
  if (mapDist && existsSync(join(mapDist, 'index.html'))) {
    const serveMap = express.static(mapDist, { index: 'index.html', maxAge: '1h', setHeaders: noCacheForHtml });
    // Keep the file system out of API calls' way (a stat per request otherwise).
    app.use((request: Request, response: Response, next: NextFunction) =>
      request.path.startsWith('/api/') || request.path.startsWith('/v1/') ? next() : serveMap(request, response, next),
    );
  }
}

function requestLog(logger: Logger) {
  return (request: Request & { id?: string }, response: Response, next: NextFunction) => {
    const incoming = request.headers['x-request-id'];
    request.id = typeof incoming === 'string' && /^[\w.-]{1,100}$/.test(incoming) ? incoming : randomUUID();
    response.setHeader('X-Request-Id', request.id);
    const started = performance.now();
    response.on('finish', () => {
      const ms = Math.round((performance.now() - started) * 100) / 100;
      const entry = {
        requestId: request.id,
        method: request.method,
        url: request.originalUrl,
        status: response.statusCode,
        ms,
      };
      recordHttpRequest(request, response.statusCode, ms);
      if (response.statusCode >= 500) logger.error(entry, 'request');
      else logger.debug(entry, 'request');
    });
    next();
  };
}

/** body-parser's errors, as the same ApiError JSON every other error uses. */
function bodyErrors(error: unknown, request: Request & { id?: string }, response: Response, next: NextFunction) {
  if (!error || typeof error !== 'object' || !('type' in error)) return next(error);
  const type = String((error as { type: unknown }).type);
  const status = Number((error as { status?: unknown }).status ?? 400);
  const message =
    type === 'entity.parse.failed'
      ? `malformed JSON body: ${String((error as { message?: unknown }).message)}`
      : type === 'entity.too.large'
        ? `the request body is larger than ${request.path.startsWith('/v1/') ? LLM_BODY_LIMIT : BODY_LIMIT}`
        : `unreadable request body (${type})`;
  response.status(status).json(errorBodyFor(request.path, status, message, request.id));
}

/** A body in any other format would reach validation as "missing"; say what is wrong instead. */
function jsonOnly(request: Request & { id?: string }, response: Response, next: NextFunction) {
  const hasBody =
    Number(request.headers['content-length'] ?? 0) > 0 || request.headers['transfer-encoding'] !== undefined;
  if (!hasBody || request.is(['application/json', 'application/*+json'])) return next();
  const message = `send the body as JSON with "Content-Type: application/json" (got ${request.headers['content-type'] ?? 'none'})`;
  response.status(415).json(errorBodyFor(request.path, 415, message, request.id));
}

function noCacheForHtml(response: Response, path: string) {
  if (path.endsWith('.html')) response.setHeader('Cache-Control', 'no-cache');
}
