import {
  HttpException,
  HttpStatus,
  Injectable,
  ServiceUnavailableException,
  type CallHandler,
  type ExecutionContext,
  type NestInterceptor,
} from '@nestjs/common';
import type { Response } from 'express';
import { from, mergeMap, type Observable } from 'rxjs';
import type { Principal } from '../auth/principal.js';
import { RedisService } from '../redis/redis.service.js';
import { TiersService } from './tiers.service.js';

/**
 * One fixed window a minute per agent, counted in Redis with Redis's own clock: every replica counts
 * into the same key, so N replicas together allow exactly the tier's requests/min. Returns
 * [allowed (1/0), ms until the window ends].
 */
const COUNT_REQUEST = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local window = math.floor(now / 60000)
local key = KEYS[1] .. window
local left = (window + 1) * 60000 - now
-- Refused requests are not counted: an agent whose tier rises mid-minute gets the difference at once.
if tonumber(redis.call('GET', key) or '0') >= tonumber(ARGV[1]) then return {0, left} end
if redis.call('INCR', key) == 1 then redis.call('PEXPIRE', key, 61000) end
return {1, left}`;

/**
 * The agent API's requests/min by tier (429 with Retry-After beyond it). Runs after the guards, so the
 * caller is known; people and the admin token are limited elsewhere (sign-in) or not at all.
 */
@Injectable()
export class AgentRateLimitInterceptor implements NestInterceptor {
  constructor(
    private readonly redis: RedisService,
    private readonly tiers: TiersService,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const http = context.switchToHttp();
    const principal = http.getRequest<{ principal?: Principal }>().principal;
    if (principal?.kind !== 'agent') return next.handle();
    return from(this.take(principal.agentId, http.getResponse<Response>())).pipe(mergeMap(() => next.handle()));
  }

  private async take(agentId: string, response: Response) {
    let allowed: number;
    let leftMs: number;
    let limit: number;
    try {
      limit = await this.tiers.requestsPerMinute(agentId);
      [allowed, leftMs] = (await this.redis.commands.eval(
        COUNT_REQUEST,
        1,
        this.redis.key(`rpm:${agentId}:`),
        limit,
      )) as [number, number];
    } catch (error) {
      if (error instanceof HttpException) throw error;
      // The limit is what an agent paid for: without Redis it cannot be counted, so refuse.
      throw new ServiceUnavailableException('the village cannot count requests just now; try again shortly');
    }
    if (allowed) return;
    const seconds = Math.max(1, Math.ceil(leftMs / 1000));
    response.setHeader('Retry-After', String(seconds));
    throw new HttpException(
      `agent ${agentId} is over its tier's ${limit} requests a minute; try again in ${seconds} s`,
      HttpStatus.TOO_MANY_REQUESTS,
    );
  }
}
