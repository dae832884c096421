import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { Server } from 'node:http';
import type { NestExpressApplication } from '@nestjs/platform-express';
import pg from 'pg';
import type { Logger } from 'pino';
import { AppModule } from './app.module.js';
import type { Config } from './config/config.js';
import { applyMigrations } from './database/migrator.js';
import { installHttpPipeline } from './http/http-pipeline.js';
import { NestPinoLogger } from './logging/logger.js';
import { PATHS } from './paths.js';

/**
 * Builds the control plane exactly as production runs it: migrations, middleware, validation,
 * guards, filters, realtime. `main.ts`, the launcher, the tests and the benchmark all use this.
 */
export async function createApp(config: Config, logger: Logger): Promise<NestExpressApplication> {
  if (config.VILLAGE_MIGRATE) await migrate(config, logger);
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config, logger), {
    bodyParser: false,
    logger: new NestPinoLogger(logger),
    abortOnError: false,
  });
  // The OpenAI-compatible gateway keeps OpenAI's paths (`/v1/...`), so any OpenAI client works.
  app.setGlobalPrefix('api', { exclude: ['v1/{*path}'] });
  if (config.VILLAGE_TRUST_PROXY) app.set('trust proxy', trustProxy(config.VILLAGE_TRUST_PROXY));
  if (config.jwtSecretGenerated) {
    logger.warn(
      'VILLAGE_JWT_SECRET is not set: made one up for this process, so sign-ins end when it stops and do not carry across replicas',
    );
  }
  installHttpPipeline(
    app,
    logger,
    config.VILLAGE_MAP_DIST ?? PATHS.mapPage,
    config.VILLAGE_ADMIN_DIST ?? PATHS.adminConsole,
  );
  await app.init();
  // Idle keep-alive connections outlive a load balancer's (typically 60 s), so the server never
  // closes one just as a client reuses it (the client would see ECONNRESET).
  const server = app.getHttpServer() as Server;
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  return app;
}

async function migrate(config: Config, logger: Logger) {
  const pool = new pg.Pool({ connectionString: config.DATABASE_URL, max: 1 });
  try {
    const applied = await applyMigrations(pool);
    if (applied.length) logger.info({ applied }, 'applied database migrations');
  } finally {
    await pool.end();
  }
}

/** Express's `trust proxy`: a hop count, true/false, or addresses and subnets. */
function trustProxy(value: string): number | boolean | string {
  if (/^\d+$/.test(value)) return Number(value);
  if (value === 'true' || value === 'false') return value === 'true';
  return value;
}
