import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { PrismaClient } from '../generated/prisma/client.js';
import type { Logger } from 'pino';
import { CONFIG, type Config } from '../config/config.js';
import { LOGGER } from '../logging/logger.js';
import { throttledErrorLog } from '../logging/throttled-error-log.js';

/**
 * The database: one pg pool, shared by the Prisma client (ordinary reads and writes) and by the few
 * hot paths (the tick, moves) that need a single hand-written statement.
 */
@Injectable()
export class DatabaseService implements OnApplicationShutdown {
  readonly pool: pg.Pool;
  readonly prisma: PrismaClient;

  constructor(@Inject(CONFIG) config: Config, @Inject(LOGGER) logger: Logger) {
    this.pool = new pg.Pool({ connectionString: config.DATABASE_URL, max: 20, application_name: 'village' });
    // A dropped idle connection must not crash the process; the next query reconnects.
    this.pool.on('error', throttledErrorLog(logger, 'postgres pool'));
    // The pool listens only to idle connections: one checked out (a transaction, a held advisory lock)
    // that drops between two queries would otherwise crash the process. Its next query fails instead,
    // and the pool discards it on release (the fault suite cuts the database to check this).
    const connectionError = throttledErrorLog(logger, 'postgres connection');
    this.pool.on('connect', (client) => client.on('error', connectionError));
    this.prisma = new PrismaClient({ adapter: new PrismaPg(this.pool) });
  }

  /** One statement; pass a `{ name, text, values }` config to have it prepared once per connection. */
  query<R extends pg.QueryResultRow>(text: string | pg.QueryConfig, values?: unknown[]) {
    return typeof text === 'string' ? this.pool.query<R>(text, values) : this.pool.query<R>(text);
  }

  /** Runs `work` in one transaction on one connection. */
  async transaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  async onApplicationShutdown() {
    await this.prisma.$disconnect().catch(() => undefined);
    await this.pool.end().catch(() => undefined);
  }
}
