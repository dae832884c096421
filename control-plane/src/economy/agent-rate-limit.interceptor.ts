import {
  HttpException,
  HttpStatus,
  Inject,
  Injectable,
  type CallHandler,
  type ExecutionContext,
  type NestInterceptor,
} from '@nestjs/common';
import type { Response } from 'express';
import type { Logger } from 'pino';
import { LOGGER } from '../logging/logger.js';
import { throttledErrorLog } from '../logging/throttled-error-log.js';
import { from, mergeMap, type Observable } from 'rxjs';
import type { Principal } from '../auth/principal.js';
import { RedisService } from '../redis/redis.service.js';
import { TiersService } from './tiers.service.js';

/**
 * One fixed window a minute per agent, counted in Redis with Redis's own clock: every replica counts
 * into the same key, so N replicas together allow exactly the tier's requests/min. KEYS: the agent's
 * cached limit, the prefix of its counters. Returns [1 allowed | 0 refused | -1 limit not cached,
 * ms until the window ends, the limit]: one round trip in the usual case.
 */
const COUNT_REQUEST = `
local limit = tonumber(redis.call('GET', KEYS[1]))
if not limit then return {-1, 0, 0} end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local window = math.floor(now / 60000)
local key = KEYS[2] .. window
local left = (window + 1) * 60000 - now
-- Refused requests are not counted: an agent whose tier rises mid-minute gets the difference at once.
if tonumber(redis.call('GET', key) or '0') >= limit then return {0, left, limit} end
if redis.call('INCR', key) == 1 then redis.call('PEXPIRE', key, 61000) end
return {1, left, limit}`;

/** An agent's request refused by its tier's rate: how long to wait, and the limit. */
export interface RateRefusal {
  retryAfterS: number;
  limit: number;
}

/**
 * Counts an agent's requests against its tier's requests/min. The agent API and the LLM gateway
 * count into the same window: it is one budget of requests.
 */
@Injectable()
export class AgentRequestLimiter {
  private readonly logUncounted: (error: unknown) => void;

  constructor(
    private readonly redis: RedisService,
    private readonly tiers: TiersService,
    @Inject(LOGGER) logger: Logger,
  ) {
    this.logUncounted = throttledErrorLog(logger, 'agent rate limit not counted (Redis)');
    // Sent by its SHA (EVALSHA) after the first call, not as the whole script on every request.
    redis.commands.defineCommand('villageCountRequest', { numberOfKeys: 2, lua: COUNT_REQUEST });
  }

  private countRequest(limitKey: string, counterPrefix: string): Promise<[number, number, number]> {
    const commands = this.redis.commands as unknown as {
      villageCountRequest(limitKey: string, counterPrefix: string): Promise<[number, number, number]>;
    };
    return commands.villageCountRequest(limitKey, counterPrefix);
  }

  /** Counts one request; a refusal when the agent is over its rate (refusals are not counted). */
  async take(agentId: string): Promise<RateRefusal | undefined> {
    try {
      const count = () => this.countRequest(this.tiers.limitKey(agentId), this.redis.key(`rpm:${agentId}:`));
      let [allowed, leftMs, limit] = await count();
      if (allowed === -1) {
        await this.tiers.cacheRequestsPerMinute(agentId);
        [allowed, leftMs, limit] = await count();
      }
      if (allowed !== 0) return undefined;
      return { retryAfterS: Math.max(1, Math.ceil(leftMs / 1000)), limit };
    } catch (error) {
      // Fails open: the world keeps moving while Redis is away (PostgreSQL holds the truth), and an
      // outage of seconds lets an agent exceed its rate by at most what it sends meanwhile.
      this.logUncounted(error);
      return undefined;
    }
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
