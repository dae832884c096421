import {
  HttpException,
  HttpStatus,
  Inject,
  Injectable,
  type CallHandler,
  type ExecutionContext,
  type NestInterceptor,
  type OnModuleDestroy,
} from '@nestjs/common';
import type { Response } from 'express';
import type { Logger } from 'pino';
import { LOGGER } from '../logging/logger.js';
import { throttledErrorLog } from '../logging/throttled-error-log.js';
import { from, mergeMap, type Observable } from 'rxjs';
import type { Principal } from '../auth/principal.js';
import { EventBus } from '../events/event-bus.service.js';
import { RedisService, type RedisScript } from '../redis/redis.service.js';
import { TiersService } from './tiers.service.js';

/**
 * One fixed window a minute per agent, counted in Redis with Redis's own clock: every replica counts
 * into the same key, so N replicas together never allow more than the tier's requests/min. A replica
 * takes a lease of several requests at a time (ARGV[1] at most) and serves them from memory, so most
 * requests need no round trip. Leases shrink as the window fills (an eighth of what is left, at least
 * one), so the last requests of a window are counted one by one and an agent whose requests land on
 * several replicas still gets its whole minute. KEYS: the agent's cached limit, the prefix of its
 * counters. Returns [requests granted (0: refused, -1: limit not cached), ms until the window ends,
 * the limit, the window].
 */
const LEASE_REQUESTS = `
local limit = tonumber(redis.call('GET', KEYS[1]))
if not limit then return {-1, 0, 0, 0} end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local window = math.floor(now / 60000)
local key = KEYS[2] .. window
local left = (window + 1) * 60000 - now
local used = tonumber(redis.call('GET', key) or '0')
-- Refused requests are not counted: an agent whose tier rises mid-minute gets the difference at once.
if used >= limit then return {0, left, limit, window} end
local grant = math.max(1, math.min(tonumber(ARGV[1]), math.floor((limit - used) / 8)))
if redis.call('INCRBY', key, grant) == grant then redis.call('PEXPIRE', key, 61000) end
return {grant, left, limit, window}`;

/** Gives back the unused part of a lease (when its window still runs). KEYS: the window's counter. */
const RETURN_REQUESTS = `
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('DECRBY', KEYS[1], ARGV[1]) end
return 0`;

/** The most requests one lease holds. */
const LEASE_MAX = 16;
/** A lease ends this long before its window, so that it never serves a request of the next one. */
const LEASE_MARGIN_MS = 250;
/** Leases kept at most (one per agent that called this replica this minute). */
const LEASES_KEPT = 100_000;

interface Lease {
  window: number;
  /** `performance.now()` after which the lease no longer serves. */
  until: number;
  remaining: number;
}

/** An agent's request refused by its tier's rate: how long to wait, and the limit. */
export interface RateRefusal {
  retryAfterS: number;
  limit: number;
}

type LeaseReply = [granted: number, leftMs: number, limit: number, window: number];

/**
 * Counts an agent's requests against its tier's requests/min. The agent API and the LLM gateway
 * count into the same window: it is one budget of requests.
 */
@Injectable()
export class AgentRequestLimiter implements OnModuleDestroy {
  private readonly logUncounted: (error: unknown) => void;
  private readonly leases = new Map<string, Lease>();
  private readonly unsubscribe: () => void;
  private readonly leaseRequests: RedisScript<LeaseReply>;
  private readonly returnRequests: RedisScript<number>;

  constructor(
    private readonly redis: RedisService,
    private readonly tiers: TiersService,
    events: EventBus,
    @Inject(LOGGER) logger: Logger,
  ) {
    this.logUncounted = throttledErrorLog(logger, 'agent rate limit not counted (Redis)');
    this.leaseRequests = redis.script<LeaseReply>('villageLeaseRequests', LEASE_REQUESTS);
    this.returnRequests = redis.script<number>('villageReturnRequests', RETURN_REQUESTS);
    // A new tier applies from the next request: what this replica holds under the old one goes back.
    this.unsubscribe = events.subscribe((batch) => {
      for (const event of batch) if (event.type === 'agent.tier_changed') void this.giveBack(event.agentId);
    });
  }

  /** Counts one request; a refusal when the agent is over its rate (refusals are not counted). */
  async take(agentId: string): Promise<RateRefusal | undefined> {
    const held = this.leases.get(agentId);
    if (held && held.remaining > 0 && performance.now() < held.until) {
      held.remaining--;
      return undefined;
    }
    try {
      let [granted, leftMs, limit, window] = await this.lease(agentId);
      if (granted === -1) {
        await this.tiers.cacheRequestsPerMinute(agentId);
        [granted, leftMs, limit, window] = await this.lease(agentId);
      }
      if (granted === 0) return { retryAfterS: Math.max(1, Math.ceil(leftMs / 1000)), limit };
      this.keep(agentId, { window, until: performance.now() + leftMs - LEASE_MARGIN_MS, remaining: granted - 1 });
      return undefined;
    } catch (error) {
      // Fails open: the world keeps moving while Redis is away (PostgreSQL holds the truth), and an
      // outage of seconds lets an agent exceed its rate by at most what it sends meanwhile.
      this.logUncounted(error);
      return undefined;
    }
  }

  /** At shutdown (a rolling restart), what this replica holds goes back to the other replicas. */
  async onModuleDestroy() {
    this.unsubscribe();
    await Promise.all([...this.leases.keys()].map((agentId) => this.giveBack(agentId)));
  }

  private lease(agentId: string): Promise<LeaseReply> {
    return this.leaseRequests(2, this.tiers.limitKey(agentId), this.counterPrefix(agentId), LEASE_MAX);
  }

  private keep(agentId: string, lease: Lease) {
    const held = this.leases.get(agentId);
    // Concurrent requests may each have taken a lease: what they hold together is kept, not lost.
    if (held && held.window === lease.window && performance.now() < held.until) lease.remaining += held.remaining;
    else if (held) void this.giveBack(agentId);
    this.leases.delete(agentId);
    if (this.leases.size >= LEASES_KEPT) this.dropExpired();
    this.leases.set(agentId, lease);
  }

  private async giveBack(agentId: string) {
    const held = this.leases.get(agentId);
    this.leases.delete(agentId);
    if (!held || held.remaining <= 0 || performance.now() >= held.until) return;
    await this.returnRequests(1, `${this.counterPrefix(agentId)}${held.window}`, held.remaining).catch(
      (error: unknown) => this.logUncounted(error),
    );
  }

  private dropExpired() {
    const now = performance.now();
    for (const [agentId, lease] of this.leases) if (now >= lease.until) this.leases.delete(agentId);
    // Still full: the oldest go (their unused requests stay counted until their window ends).
    for (const agentId of this.leases.keys()) {
      if (this.leases.size < LEASES_KEPT) break;
      this.leases.delete(agentId);
    }
  }

  private counterPrefix(agentId: string) {
    return this.redis.key(`rpm:${agentId}:`);
  }
}

export function rateRefusalMessage(agentId: string, refusal: RateRefusal) {
  return `agent ${agentId} is over its tier's ${refusal.limit} requests a minute; try again in ${refusal.retryAfterS} s`;
}

/**
 * The agent API's requests/min by tier (429 with Retry-After beyond it). Runs after the guards, so the
 * caller is known; people and the admin token are not limited by it. The LLM gateway (`/v1`) counts
 * its requests itself, after checking the model (its errors have OpenAI's shape).
 */
@Injectable()
export class AgentRateLimitInterceptor implements NestInterceptor {
  constructor(private readonly limiter: AgentRequestLimiter) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const http = context.switchToHttp();
    const request = http.getRequest<{ principal?: Principal; path: string }>();
    const principal = request.principal;
    if (principal?.kind !== 'agent' || request.path.startsWith('/v1/')) return next.handle();
    return from(this.take(principal.agentId, http.getResponse<Response>())).pipe(mergeMap(() => next.handle()));
  }

  private async take(agentId: string, response: Response) {
    const refusal = await this.limiter.take(agentId);
    if (!refusal) return;
    response.setHeader('Retry-After', String(refusal.retryAfterS));
    throw new HttpException(rateRefusalMessage(agentId, refusal), HttpStatus.TOO_MANY_REQUESTS);
  }
}
