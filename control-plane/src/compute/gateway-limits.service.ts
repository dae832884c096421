import { Injectable } from '@nestjs/common';
import { RedisService } from '../redis/redis.service.js';
import { OpenAiError } from './openai-errors.js';

// Every limit is counted in Redis with Redis's own clock, so N replicas together allow exactly the
// configured numbers. Concurrency is a sorted set of leases scored by their expiry: a replica that
// dies leaves leases that lapse on their own instead of slots lost for ever.

const NOW = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)`;

/**
 * takeSlot(first key, lease id, lease ms, first limit): KEYS[first..] are candidate upstreams' leases,
 * ARGV[first limit..] their limits. Takes a slot on the least loaded (in-flight / limit) candidate with
 * room; returns its index among the candidates (1-based), or 0 when every one is full.
 */
const TAKE_SLOT = `
local function takeSlot(k0, leaseId, leaseMs, l0)
  local best, bestLoad = 0, 2
  for i = k0, #KEYS do
    redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now)
    local load = redis.call('ZCARD', KEYS[i]) / tonumber(ARGV[l0 + i - k0])
    if load < 1 and load < bestLoad then best, bestLoad = i, load end
  end
  if best == 0 then return 0 end
  redis.call('ZADD', KEYS[best], now + leaseMs, leaseId)
  redis.call('PEXPIRE', KEYS[best], leaseMs + 60000)
  return best - k0 + 1
end`;

/**
 * One round trip admits a call. KEYS: tokens-per-hour counter prefix, the agent's call leases,
 * commons counter prefix, then the candidate upstreams' leases. ARGV: tokens asked, tokens/hour,
 * concurrent calls, lease id, lease ms, commons tokens/hour, then each candidate's limit.
 * Returns {status, retry ms, hour, commons, upstream}: status 1 admitted (upstream: the candidate
 * whose slot it took, 0 when all are full), 2 over tokens/hour, 3 no free call slot.
 */
const ADMIT = `${NOW}${TAKE_SLOT}
local hour = math.floor(now / 3600000)
local asked = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
-- A call ends when it ends (its lease only bounds a dead replica's), so come back in a second.
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[3]) then return {3, 1000, hour, 0, 0} end
local tokensKey = KEYS[1] .. hour
local used = tonumber(redis.call('GET', tokensKey) or '0')
if used + asked > tonumber(ARGV[2]) then return {2, (hour + 1) * 3600000 - now, hour, 0, 0} end
redis.call('INCRBY', tokensKey, asked)
redis.call('PEXPIRE', tokensKey, 3700000)
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[5]), ARGV[4])
redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[5]) + 60000)
local commons = 0
local commonsKey = KEYS[3] .. hour
if tonumber(redis.call('GET', commonsKey) or '0') + asked <= tonumber(ARGV[6]) then
  redis.call('INCRBY', commonsKey, asked)
  redis.call('PEXPIRE', commonsKey, 3700000)
  commons = 1
end
local upstream = 0
if #KEYS > 3 then upstream = takeSlot(4, ARGV[4], tonumber(ARGV[5]), 7) end
return {1, 0, hour, commons, upstream}`;

/**
 * One round trip ends a call. KEYS: tokens counter prefix, leases, commons counter prefix, and the
 * upstream's leases when it holds a slot. ARGV: lease id, hour of admission, tokens used minus tokens
 * asked, 1 if the call was under the commons, the slot-freed channel, the upstream's name. Ends the
 * leases, tells waiting replicas a slot is free, and puts back what was asked but not used (only
 * within the same hour: a new hour starts from zero anyway).
 */
const RELEASE = `${NOW}
redis.call('ZREM', KEYS[2], ARGV[1])
if math.floor(now / 3600000) == tonumber(ARGV[2]) then
  local delta = tonumber(ARGV[3])
  local tokensKey = KEYS[1] .. ARGV[2]
  if redis.call('EXISTS', tokensKey) == 1 then redis.call('INCRBY', tokensKey, delta) end
  if ARGV[4] == '1' and redis.call('EXISTS', KEYS[3] .. ARGV[2]) == 1 then redis.call('INCRBY', KEYS[3] .. ARGV[2], delta) end
end
if KEYS[4] then
  redis.call('ZREM', KEYS[4], ARGV[1])
  redis.call('PUBLISH', ARGV[5], ARGV[6])
end
return 1`;

/** KEYS: each candidate upstream's leases. ARGV: lease id, lease ms, then each candidate's limit. */
const ACQUIRE_UPSTREAM = `${NOW}${TAKE_SLOT}
return takeSlot(1, ARGV[1], tonumber(ARGV[2]), 3)`;

/** KEYS: an upstream's leases. ARGV: the lease to end, the lease to start, its ms. */
const HAND_OVER = `${NOW}
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[2])
return 1`;

/** KEYS: lease sets. ARGV: lease id, lease ms. Pushes the lease's expiry on (a long stream). */
const RENEW = `${NOW}
for _, key in ipairs(KEYS) do
  redis.call('ZADD', key, 'XX', now + tonumber(ARGV[2]), ARGV[1])
  redis.call('PEXPIRE', key, tonumber(ARGV[2]) + 60000)
end
return 1`;

/**
 * Limits that cannot be counted refuse the call (503): they guard money and shared GPUs, so unlike
 * the agent API's request rate they fail closed.
 */
async function uncountedIsUnavailable<T>(counting: Promise<T>): Promise<T> {
  try {
    return await counting;
  } catch (error) {
    throw new OpenAiError(
      503,
      'gateway_unavailable',
      `the gateway cannot count its limits just now (${error instanceof Error ? error.message : String(error)}); try again shortly`,
      5,
    );
  }
}

export type AgentAdmission<U> =
  | { admitted: true; hour: number; commons: boolean; upstream: U | undefined }
  | { admitted: false; reason: 'tokens' | 'concurrency'; retryAfterMs: number };

type Candidate = { name: string; maxConcurrency: number };

/** The gateway's counters in Redis: an agent's tokens/hour, calls in flight and commons; upstreams' slots. */
@Injectable()
export class GatewayLimits {
  private readonly scripts;

  constructor(private readonly redis: RedisService) {
    this.scripts = {
      ADMIT: redis.script('gatewayAdmit', ADMIT),
      RELEASE: redis.script('gatewayRelease', RELEASE),
      ACQUIRE_UPSTREAM: redis.script('gatewayAcquireUpstream', ACQUIRE_UPSTREAM),
      HAND_OVER: redis.script('gatewayHandOver', HAND_OVER),
      RENEW: redis.script('gatewayRenew', RENEW),
    };
  }

  private agentKeys(agentId: string) {
    return [
      this.redis.key(`llm:tokens:${agentId}:`),
      this.redis.key(`llm:calls:${agentId}`),
      this.redis.key(`llm:commons:${agentId}:`),
    ];
  }

  upstreamKey(name: string) {
    return this.redis.key(`llm:upstream:${name}`);
  }

  get slotFreedChannel() {
    return this.redis.key('llm:slot-freed');
  }

  /**
   * Counts a call against the agent's tokens/hour and concurrent calls and, if it is admitted, takes
   * a slot on the least loaded candidate upstream with room (none when all are full).
   */
  async admit<U extends Candidate>(
    agentId: string,
    request: {
      tokens: number;
      tokensPerHour: number;
      concurrentCalls: number;
      leaseId: string;
      leaseMs: number;
      commonsPerHour: number;
    },
    candidates: U[],
  ): Promise<AgentAdmission<U>> {
    const keys = [...this.agentKeys(agentId), ...candidates.map((candidate) => this.upstreamKey(candidate.name))];
    const [status, retryMs, hour, commons, upstream] = (await uncountedIsUnavailable(
      this.scripts.ADMIT(
        keys.length,
        ...keys,
        request.tokens,
        request.tokensPerHour,
        request.concurrentCalls,
        request.leaseId,
        request.leaseMs,
        request.commonsPerHour,
        ...candidates.map((candidate) => candidate.maxConcurrency),
      ),
    )) as [number, number, number, number, number];
    if (status === 1) return { admitted: true, hour, commons: commons === 1, upstream: candidates[upstream - 1] };
    return { admitted: false, reason: status === 2 ? 'tokens' : 'concurrency', retryAfterMs: retryMs };
  }

  /**
   * Ends a call's leases: its call slot and, when it holds one, its upstream's slot; puts back the
   * tokens it was counted for but did not use.
   */
  async release(
    agentId: string,
    call: { leaseId: string; hour: number; unusedTokens: number; commons: boolean; upstream?: string },
  ) {
    const keys = [...this.agentKeys(agentId), ...(call.upstream ? [this.upstreamKey(call.upstream)] : [])];
    await this.scripts.RELEASE(
      keys.length,
      ...keys,
      call.leaseId,
      call.hour,
      -call.unusedTokens,
      call.commons ? '1' : '0',
      this.slotFreedChannel,
      call.upstream ?? '',
    );
  }

  /** A slot on the least loaded upstream with room, or undefined when all are full. */
  async acquireUpstream<U extends Candidate>(candidates: U[], leaseId: string, leaseMs: number) {
    if (candidates.length === 0) return undefined;
    const index = (await uncountedIsUnavailable(
      this.scripts.ACQUIRE_UPSTREAM(
        candidates.length,
        ...candidates.map((candidate) => this.upstreamKey(candidate.name)),
        leaseId,
        leaseMs,
        ...candidates.map((candidate) => candidate.maxConcurrency),
      ),
    )) as number;
    return index > 0 ? candidates[index - 1] : undefined;
  }

  /** Gives a slot taken under one lease id to another (the admission queue takes a slot before a call). */
  async handOver(name: string, from: string, to: string, leaseMs: number) {
    await this.scripts.HAND_OVER(1, this.upstreamKey(name), from, to, leaseMs);
  }

  async releaseUpstream(name: string, leaseId: string) {
    await this.redis.commands.zrem(this.upstreamKey(name), leaseId);
    await this.redis.commands.publish(this.slotFreedChannel, name);
  }

  async renew(agentId: string, upstream: string | undefined, leaseId: string, leaseMs: number) {
    const keys = [this.agentKeys(agentId)[1]!, ...(upstream ? [this.upstreamKey(upstream)] : [])];
    await this.scripts.RENEW(keys.length, ...keys, leaseId, leaseMs);
  }

  /** Calls in flight on an upstream now (expired leases not counted). */
  async inFlight(name: string): Promise<number> {
    const now = Date.now();
    return this.redis.commands.zcount(this.upstreamKey(name), now, '+inf');
  }
}
