import type { NestExpressApplication } from '@nestjs/platform-express';
import express, { type NextFunction, type Request, type Response } from 'express';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

/** Where the console lives; its vite build uses the same base (admin/vite.config.ts). */
export const ADMIN_CONSOLE_PATH = '/admin';

/**
 * The moderators' and admins' console (`admin/dist`, a react-admin app) at `/admin/`. Its routes are in
 * the URL's hash, so only index.html and hashed assets are ever asked for; the data comes from `/api`.
 */
export function serveAdminConsole(app: NestExpressApplication, adminDist: string | undefined) {
  if (!adminDist || !existsSync(join(adminDist, 'index.html'))) return;
  const files = express.static(adminDist, {
    index: 'index.html',
    redirect: false,
    setHeaders: (response, path) =>
      // Asset names carry their content hash; the page itself must be checked each time.
      response.setHeader('Cache-Control', path.endsWith('.html') ? 'no-cache' : 'public, max-age=31536000, immutable'),
  });
  app.use(ADMIN_CONSOLE_PATH, (request: Request, response: Response, next: NextFunction) => {
    // Relative URLs in the page need the trailing slash.
    if (request.originalUrl === ADMIN_CONSOLE_PATH) return response.redirect(301, `${ADMIN_CONSOLE_PATH}/`);
    return files(request, response, next);
  });
}
