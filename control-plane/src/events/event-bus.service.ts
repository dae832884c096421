import { Inject, Injectable, ServiceUnavailableException } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { FEED_EVENT_TYPES, type NewWorldEvent, type WorldEvent } from '../contract/index.js';
import { LOGGER } from '../logging/logger.js';
import { RedisService } from '../redis/redis.service.js';
import { WorldClockState } from '../world/clock/world-clock.state.js';

export type WorldEventListener = (events: WorldEvent[]) => void;

/** How many events the Redis stream keeps (approximately) for late consumers. */
const STREAM_LENGTH = 100_000;
/** How many feed events (said, arrived, online, offline) the feed stream keeps for new viewers. */
const FEED_LENGTH = 1_000;
const FEED_TYPES = new Set<string>(FEED_EVENT_TYPES);

export interface PublishOptions {
  /** The tick to stamp; this replica's latest known tick by default. */
  tick?: number;
  /**
   * For events that are the only record of what happened (an agent said something): the stream
   * append must succeed before anyone sees them, else the request fails with 503. Events of
   * changes committed in PostgreSQL are published best-effort: the state is already safe.
   */
  durable?: boolean;
}

/**
 * The single stream of domain events. Every state change publishes here once: the events go to
 * the Redis stream `<prefix>events` (read by audit and Node-RED consumers on any replica; feed
 * events also to the short `<prefix>feed`) and to this replica's listeners (the viewer gateway,
 * which fans out to every replica's viewers through socket.io's Redis adapter).
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

  private get feedKey() {
    return this.redis.key('feed');
  }

  subscribe(listener: WorldEventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The latest feed events (FEED_EVENT_TYPES), oldest first. */
  async recentFeed(count: number): Promise<WorldEvent[]> {
    const entries = await this.redis.commands.xrevrange(this.feedKey, '+', '-', 'COUNT', count);
    return entries.map(([, fields]) => JSON.parse(fields[1] ?? 'null') as WorldEvent).reverse();
  }

  /** Stamps events with id, time and tick, and publishes them in order. */
  async publish(newEvents: NewWorldEvent[], options: PublishOptions = {}): Promise<WorldEvent[]> {
    if (newEvents.length === 0) return [];
    const at = new Date().toISOString();
    const tick = options.tick ?? this.clock.tick;
    const events = newEvents.map((event) => ({ ...event, id: randomUUID(), at, tick }) as WorldEvent);
    if (options.durable) {
      await this.append(events).catch((error: unknown) => {
        this.logger.error({ err: error }, 'could not record events in the Redis stream; refusing the request');
        throw new ServiceUnavailableException('the village could not record this just now; try again');
      });
      this.notify(events);
    } else {
      this.notify(events);
      await this.append(events).catch((error: unknown) =>
        // The state change is committed; losing the stream copy must be loud, not fatal.
        this.logger.error({ err: error, count: events.length }, 'could not append events to the Redis stream'),
      );
    }
    return events;
  }

  private notify(events: WorldEvent[]) {
    for (const listener of this.listeners) listener(events);
  }

  private async append(events: WorldEvent[]) {
    const pipeline = this.redis.commands.pipeline();
    for (const event of events) {
      const json = JSON.stringify(event);
      pipeline.xadd(this.streamKey, 'MAXLEN', '~', STREAM_LENGTH, '*', 'type', event.type, 'event', json);
      if (FEED_TYPES.has(event.type)) pipeline.xadd(this.feedKey, 'MAXLEN', '~', FEED_LENGTH, '*', 'event', json);
    }
    // exec() reports each command's failure in its result rather than throwing.
    const failure = (await pipeline.exec())?.find(([error]) => error)?.[0];
    if (failure) throw failure;
  }
}
