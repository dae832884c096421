import { Inject, Injectable, Module, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { Express, Request, Response } from 'express';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Logger } from 'pino';
import { CONFIG, type Config } from '../config/config.js';
import { LOGGER } from '../logging/logger.js';
import { registry } from './instruments.js';
import { MetricsService } from './metrics.service.js';

/** Where Prometheus scrapes each replica: outside `/api`, where scrapers look by default. */
export const METRICS_PATH = '/metrics';

/**
 * `GET /metrics` in Prometheus's text format. Not a Nest route: it is outside the API (no global
 * prefix, no AuthGuard, no rate limits) and guarded by its own token, VILLAGE_METRICS_TOKEN, when set.
 * Registered while modules initialise, after Nest's routes and before its 404 handler.
 */
@Injectable()
class MetricsEndpoint implements OnModuleInit {
  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly metrics: MetricsService,
    @Inject(CONFIG) private readonly config: Config,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  onModuleInit() {
    const app = this.adapterHost.httpAdapter.getInstance<Express>();
    const expected = this.config.VILLAGE_METRICS_TOKEN;
    app.get(METRICS_PATH, (request: Request, response: Response) => {
      if (expected && !bearerMatches(request.headers.authorization, expected)) {
        response.status(401).setHeader('WWW-Authenticate', 'Bearer').json({
          statusCode: 401,
          error: 'Unauthorized',
          message: 'send VILLAGE_METRICS_TOKEN as a bearer token to read the metrics',
        });
        return;
      }
      this.metrics.scrape().then(
        (text) => response.setHeader('Content-Type', registry.contentType).send(text),
        (error: unknown) => {
          this.logger.error({ err: error }, 'could not render the metrics');
          response.status(500).type('text/plain').send('could not render the metrics; see the server log\n');
        },
      );
    });
  }
}

function bearerMatches(header: string | undefined, expected: string): boolean {
  const given = /^Bearer (.+)$/.exec(header ?? '')?.[1] ?? '';
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

@Module({ providers: [MetricsService, MetricsEndpoint], exports: [MetricsService] })
export class MetricsModule {}
