import { Inject, Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { NewWorldEvent, WorldEvent } from '../contract/index.js';
import { LOGGER } from '../logging/logger.js';
import { RedisService } from '../redis/redis.service.js';
import { WorldClockState } from '../world/clock/world-clock.state.js';

export type WorldEventListener = (events: WorldEvent[]) => void;

/** How many events the Redis stream keeps (approximately) for late consumers. */
const STREAM_LENGTH = 100_000;
/** How far back `recent` looks (ticks and moves are most of the stream). */
const RECENT_SCAN = 2_000;

/**
 * The single stream of domain events. Every state change publishes here once, after it is
 * committed: the events go to the Redis stream `<prefix>events` (read by audit and Node-RED
 * consumers on any replica) and to this replica's listeners (the viewer broadcaster, which fans
 * out to every replica's viewers through socket.io's Redis adapter).
 */
@Injectable()
export class EventBus {
  private readonly listeners = new Set<WorldEventListener>();

  constructor(
    private readonly redis: RedisService,
    private readonly clock: WorldClockState,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  get streamKey() {
    return this.redis.key('events');
  }

  subscribe(listener: WorldEventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The latest events of the given types from the stream, oldest first. */
  async recent(types: readonly WorldEvent['type'][], count: number): Promise<WorldEvent[]> {
    const wanted = new Set<string>(types);
    const entries = await this.redis.commands.xrevrange(this.streamKey, '+', '-', 'COUNT', RECENT_SCAN);
    const events: WorldEvent[] = [];
    for (const [, fields] of entries) {
      // Fields are [type, <type>, event, <json>]; skip the JSON of events nobody asked for.
      if (!wanted.has(fields[1] ?? '')) continue;
      events.push(JSON.parse(fields[3] ?? 'null') as WorldEvent);
      if (events.length === count) break;
    }
    return events.reverse();
  }

  /** Stamps events with id, time and tick, and publishes them in order. */
  async publish(newEvents: NewWorldEvent[], tick = this.clock.tick): Promise<WorldEvent[]> {
    if (newEvents.length === 0) return [];
    const at = new Date().toISOString();
    const events = newEvents.map((event) => ({ ...event, id: randomUUID(), at, tick }) as WorldEvent);
    for (const listener of this.listeners) listener(events);
    try {
      const pipeline = this.redis.commands.pipeline();
      for (const event of events) {
        pipeline.xadd(
          this.streamKey,
          'MAXLEN',
          '~',
          STREAM_LENGTH,
          '*',
          'type',
          event.type,
          'event',
          JSON.stringify(event),
        );
      }
      // exec() reports each command's failure in its result rather than throwing.
      const failure = (await pipeline.exec())?.find(([error]) => error)?.[0];
      if (failure) throw failure;
    } catch (error) {
      // The state change is already committed; losing the stream copy must be loud, not fatal.
      this.logger.error({ err: error, count: events.length }, 'could not append events to the Redis stream');
    }
    return events;
  }
}
