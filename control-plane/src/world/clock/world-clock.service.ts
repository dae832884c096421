import { Inject, Injectable, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import type { Logger } from 'pino';
import type { NewWorldEvent } from '../../contract/index.js';
import { CONFIG, type Config } from '../../config/config.js';
import { DatabaseService } from '../../database/database.service.js';
import { EventBus } from '../../events/event-bus.service.js';
import { LOGGER } from '../../logging/logger.js';
import { RedisService } from '../../redis/redis.service.js';
import { PresenceService } from '../../auth/presence.service.js';
import { VILLAGE_MAP } from '../world-map.provider.js';
import type { VillageMap } from '../village-map.js';
import { LeaderLease } from './leader-lease.js';
import { WorldClockState } from './world-clock.state.js';

export interface TickReport {
  tick: number;
  moved: number;
  durationMs: number;
}

/**
 * The world clock. Every replica runs this loop, but only the holder of the Redis lease ticks;
 * if it dies, another replica takes the lease within a few seconds (VILLAGE_TICK_MS × 3, ≥ 3 s).
 * A tick is one PostgreSQL transaction that is fenced on `world_clock.ticked_at`, so even two
 * replicas that both believe they lead cannot advance the world twice in one tick period.
 */
@Injectable()
export class WorldClock implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private readonly lease: LeaderLease;

  constructor(
    @Inject(CONFIG) private readonly config: Config,
    private readonly database: DatabaseService,
    private readonly redis: RedisService,
    private readonly events: EventBus,
    private readonly presence: PresenceService,
    readonly state: WorldClockState,
    @Inject(VILLAGE_MAP) private readonly map: VillageMap,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {
    const ttl = Math.max(3 * config.VILLAGE_TICK_MS, 3000);
    this.lease = new LeaderLease(redis.commands, redis.key('clock:leader'), config.VILLAGE_REPLICA_ID, ttl);
  }

  async onApplicationBootstrap() {
    const { rows } = await this.database.query<{ tick: string }>('SELECT tick FROM world_clock WHERE id = 1');
    this.state.observe(Number(rows[0]?.tick ?? 0));
    this.schedule(0);
  }

  private schedule(delay: number) {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.beat().finally(() => {
        this.running = undefined;
        // Aim at the next tick boundary, so the rhythm does not drift by the tick's own duration.
        this.schedule(this.config.VILLAGE_TICK_MS - (Date.now() % this.config.VILLAGE_TICK_MS));
      });
    }, delay);
    this.timer.unref();
  }

  private async beat() {
    try {
      const leading = await this.lease.hold();
      if (leading !== this.state.isLeader) {
        this.state.isLeader = leading;
        this.logger.info(
          { leader: leading },
          leading ? 'this replica now runs the world clock' : 'this replica no longer runs the world clock',
        );
      }
      if (leading) {
        await this.tick();
      } else {
        const tick = await this.redis.commands.get(this.redis.key('clock:tick'));
        if (tick) this.state.observe(Number(tick));
      }
    } catch (error) {
      this.logger.error({ err: error }, 'world clock beat failed; retrying next beat');
    }
  }

  /** One tick: walk every walking agent one tile, mark silent agents offline, publish the events. */
  async tick(): Promise<TickReport | undefined> {
    const started = performance.now();
    const fence = this.config.VILLAGE_TICK_MS / 2;
    const outcome = await this.database.transaction(async (client) => {
      const clock = await client.query<{ tick: string }>(
        `UPDATE world_clock SET tick = tick + 1, ticked_at = now()
          WHERE id = 1 AND ticked_at <= now() - make_interval(secs => $1::double precision / 1000)
          RETURNING tick`,
        [fence],
      );
      if (!clock.rows[0]) return undefined;
      const stepped = await client.query<{
        id: string;
        x: number;
        y: number;
        version: string;
        remaining: number;
        landmark: string | null;
      }>(
        `UPDATE agents SET x = path[1] % $1, y = path[1] / $1, path = path[2:], version = version + 1, updated_at = now()
          WHERE cardinality(path) > 0
          RETURNING id, x, y, version, cardinality(path) AS remaining, destination_landmark AS landmark`,
        [this.map.width],
      );
      return { tick: Number(clock.rows[0].tick), stepped: stepped.rows };
    });
    if (!outcome) return undefined;
    this.state.observe(outcome.tick);
    const events: NewWorldEvent[] = [];
    for (const row of outcome.stepped) {
      const position = { x: row.x, y: row.y };
      events.push({
        type: 'agent.moved',
        agentId: row.id,
        position,
        version: Number(row.version),
        remaining: row.remaining,
        landmark: this.map.landmarkAt(position.x, position.y)?.id ?? null,
      });
      if (row.remaining === 0)
        events.push({ type: 'agent.arrived', agentId: row.id, position, landmark: row.landmark });
    }
    events.push(...(await this.presence.markSilentAgentsOffline(this.config.VILLAGE_OFFLINE_AFTER_MS)));
    const durationMs = Math.round((performance.now() - started) * 100) / 100;
    events.push({ type: 'world.tick', moved: outcome.stepped.length, durationMs });
    await this.events.publish(events, { tick: outcome.tick });
    // Followers stamp their events with this; if Redis is down they keep their last known tick.
    await this.redis.commands
      .set(this.redis.key('clock:tick'), String(outcome.tick))
      .catch((error: unknown) => this.logger.warn({ err: error }, 'could not share the tick number'));
    return { tick: outcome.tick, moved: outcome.stepped.length, durationMs };
  }

  async beforeApplicationShutdown() {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
    if (this.state.isLeader) await this.lease.release().catch(() => undefined);
    this.state.isLeader = false;
  }
}
