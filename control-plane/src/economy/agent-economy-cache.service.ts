import { Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import type { AgentEconomy, WorldEvent } from '../contract/index.js';
import { EventBus } from '../events/event-bus.service.js';
import { RedisService } from '../redis/redis.service.js';
import { TiersService, type AgentStanding } from './tiers.service.js';

/**
 * How long a replica trusts an agent's cached tier and pause, should a change's message be lost (a
 * replica that died between a commit and its announcement). The policy is applied at each read.
 */
const CACHE_MS = 60_000;
/** Events after which an agent's tier, entitlements or pause may differ. */
const CHANGES = new Set<WorldEvent['type']>(['agent.tier_changed', 'agent.compute_paused', 'agent.compute_resumed']);

/**
 * Agents' tiers, entitlements and pauses as the LLM gateway reads them on every call: kept per
 * replica and dropped on every replica as soon as one of them announces a change (a Redis channel),
 * so a call sees a pause or a new tier at once; the policy's entitlements are applied at each read
 * (a new policy is seen as soon as the policy cache is). The balance in an entry can be old: the
 * ledger's own hold checks the money, so only wording may use it.
 */
@Injectable()
export class AgentEconomyCache implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly entries = new Map<string, { standing: Promise<AgentStanding>; until: number }>();
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly tiers: TiersService,
    private readonly events: EventBus,
    private readonly redis: RedisService,
  ) {}

  private get changedChannel() {
    return this.redis.key('economy:changed');
  }

  async onApplicationBootstrap() {
    await this.redis.subscriber.subscribe(this.changedChannel);
    this.redis.subscriber.on('message', (channel: string, agentId: string) => {
      if (channel === this.changedChannel) this.entries.delete(agentId);
    });
    // Messages sent while the subscriber was away are lost: start afresh when it is back.
    this.redis.subscriber.on('ready', () => this.entries.clear());
    this.unsubscribe = this.events.subscribe((events) => {
      for (const event of events) {
        if (!CHANGES.has(event.type) || !('agentId' in event)) continue;
        this.entries.delete(event.agentId);
        void this.redis.publisher.publish(this.changedChannel, event.agentId).catch(() => undefined);
      }
    });
  }

  onModuleDestroy() {
    this.unsubscribe?.();
  }

  async economyOf(agentId: string): Promise<AgentEconomy> {
    const now = Date.now();
    let cached = this.entries.get(agentId);
    if (!cached || cached.until <= now) {
      const standing = this.tiers.standingOf(agentId);
      cached = { standing, until: now + CACHE_MS };
      this.entries.set(agentId, cached);
      // A failed read (an unknown agent, the database away) is not kept.
      standing.catch(() => {
        if (this.entries.get(agentId)?.standing === standing) this.entries.delete(agentId);
      });
    }
    return this.tiers.economyFrom(await cached.standing);
  }
}
