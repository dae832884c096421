import { Controller, Get, Inject, Res } from '@nestjs/common';
import type { Response } from 'express';
import type { Health } from '../contract/index.js';
import { CONFIG, type Config } from '../config/config.js';
import { DatabaseService } from '../database/database.service.js';
import { RedisService } from '../redis/redis.service.js';

const CHECK_TIMEOUT_MS = 2000;

@Controller('health')
export class HealthController {
  constructor(
    @Inject(CONFIG) private readonly config: Config,
    private readonly database: DatabaseService,
    private readonly redis: RedisService,
  ) {}

  /** Liveness: the process answers HTTP (no dependency is checked). Also the benchmark's no-op route. */
  @Get('live')
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  /** 200 when PostgreSQL and Redis answer, 503 (with which one failed) otherwise. */
  @Get()
  async health(@Res({ passthrough: true }) response: Response): Promise<Health> {
    const [postgres, redis] = await Promise.all([
      check(() => this.database.query('SELECT 1')),
      check(() => this.redis.commands.ping()),
    ]);
    const ok = postgres.ok && redis.ok;
    response.status(ok ? 200 : 503);
    return { status: ok ? 'ok' : 'degraded', replica: this.config.VILLAGE_REPLICA_ID, checks: { postgres, redis } };
  }
}

async function check(probe: () => Promise<unknown>) {
  const started = performance.now();
  try {
    await Promise.race([
      probe(),
      new Promise((_, reject) =>
        setTimeout(() => reject(new Error(`no answer in ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS).unref(),
      ),
    ]);
    return { ok: true, latencyMs: round(performance.now() - started) };
  } catch (error) {
    return { ok: false, latencyMs: round(performance.now() - started), error: (error as Error).message };
  }
}

const round = (ms: number) => Math.round(ms * 100) / 100;
