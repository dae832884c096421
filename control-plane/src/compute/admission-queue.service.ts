import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { QueueStats } from '../contract/index.js';
import { CONFIG, type Config } from '../config/config.js';
import { LOGGER } from '../logging/logger.js';
import { throttledErrorLog } from '../logging/throttled-error-log.js';
import { RedisService } from '../redis/redis.service.js';
import { GatewayLimits } from './gateway-limits.service.js';
import { LlmUpstreams } from './llm-upstreams.service.js';
import { OpenAiError } from './openai-errors.js';

interface AdmissionJob {
  requestId: string;
  tier: number;
  leaseMs: number;
  /** Epoch ms after which nobody waits for the answer any more. */
  deadline: number;
}

/** One model's waiting calls: a BullMQ queue and a worker that only ever takes a job when it has a slot for it. */
interface Lane {
  model: string;
  queue: Queue<AdmissionJob>;
  worker: Worker<AdmissionJob>;
  dispatching: Promise<void> | undefined;
  again: boolean;
}

/** BullMQ runs lower numbers first: tier 0 waits behind every higher tier. */
const LOWEST_PRIORITY = 1_000;
const WAITS_KEPT = 1_000;
/** How often a replica looks at a lane with waiting calls when no slot-freed message came. */
const POLL_MS = 100;

/**
 * When every upstream serving a model is at its concurrency limit, calls wait here: one BullMQ queue
 * per model, shared by replicas through Redis, ordered by tier (higher tiers first). Whenever a slot
 * may have freed (a message, or a poll), a replica takes the slot first and only then the most urgent
 * waiting call, so the order holds at the moment of each grant; the slot goes to the replica holding
 * the call through Redis pub/sub. Depth and wait times are in `stats()`.
 */
@Injectable()
export class AdmissionQueue implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly lanes = new Map<string, Lane>();
  private readonly connections: Redis[] = [];
  private readonly waiting = new Map<string, (upstream: string) => void>();
  private readonly logError: (error: unknown) => void;
  private readonly token = randomUUID();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly redis: RedisService,
    private readonly limits: GatewayLimits,
    private readonly upstreams: LlmUpstreams,
    @Inject(CONFIG) private readonly config: Config,
    @Inject(LOGGER) logger: Logger,
  ) {
    this.logError = throttledErrorLog(logger, 'LLM admission queue');
  }

  private get grantedChannel() {
    return this.redis.key('llm:granted');
  }

  private get lanesKey() {
    return this.redis.key('llm:lanes');
  }

  private get waitsKey() {
    return this.redis.key('llm:queue-waits');
  }

  async onApplicationBootstrap() {
    await this.redis.subscriber.subscribe(this.grantedChannel, this.limits.slotFreedChannel);
    this.redis.subscriber.on('message', (channel: string, message: string) => {
      if (channel === this.grantedChannel) {
        const { requestId, upstream } = JSON.parse(message) as { requestId: string; upstream: string };
        this.waiting.get(requestId)?.(upstream);
      } else if (channel === this.limits.slotFreedChannel) {
        for (const lane of this.lanes.values()) this.dispatch(lane);
      }
    });
    this.timer = setInterval(() => {
      for (const lane of this.lanes.values()) this.dispatch(lane);
    }, POLL_MS);
    this.timer.unref();
  }

  async onApplicationShutdown() {
    this.stopped = true;
    clearInterval(this.timer);
    for (const lane of this.lanes.values()) {
      await lane.dispatching;
      await lane.worker.close(true).catch(() => undefined);
      await lane.queue.close().catch(() => undefined);
    }
    for (const connection of this.connections) connection.disconnect();
  }

  /** Waits for a slot on an upstream of the model, in tier order; the upstream granted, or 503 after the queue timeout. */
  async wait(request: { requestId: string; model: string; tier: number; leaseMs: number }): Promise<string> {
    const timeoutMs = this.config.VILLAGE_LLM_QUEUE_TIMEOUT_MS;
    const lane = this.lane(request.model);
    let timer: NodeJS.Timeout | undefined;
    const granted = new Promise<string>((resolve, reject) => {
      this.waiting.set(request.requestId, resolve);
      timer = setTimeout(
        () =>
          reject(
            new OpenAiError(
              503,
              'queue_timeout',
              `every upstream serving "${request.model}" stayed busy for ${Math.round(timeoutMs / 1000)} s; try again later`,
              5,
            ),
          ),
        timeoutMs,
      );
    });
    try {
      await lane.queue.add(
        'admit',
        {
          requestId: request.requestId,
          tier: request.tier,
          leaseMs: request.leaseMs,
          deadline: Date.now() + timeoutMs,
        },
        {
          jobId: request.requestId,
          priority: Math.max(1, LOWEST_PRIORITY - request.tier),
          removeOnComplete: true,
          removeOnFail: true,
        },
      );
      this.dispatch(lane);
      return await granted;
    } catch (error) {
      // Nobody waits any more: take the call out of the queue and give back a slot granted meanwhile.
      await lane.queue.remove(request.requestId).catch(() => undefined);
      await Promise.all(
        this.upstreams
          .candidatesFor(request.model)
          .map((upstream) => this.limits.releaseUpstream(upstream.name, request.requestId)),
      );
      throw error;
    } finally {
      clearTimeout(timer);
      this.waiting.delete(request.requestId);
    }
  }

  async stats(): Promise<QueueStats> {
    const byTier: Record<string, number> = {};
    let waiting = 0;
    // Every model any replica ever queued for, not only this replica's.
    for (const model of await this.redis.commands.smembers(this.lanesKey)) this.lane(model);
    for (const lane of this.lanes.values()) {
      for (const job of await lane.queue.getJobs(['prioritized', 'waiting'], 0, 999)) {
        if (!job) continue;
        waiting++;
        byTier[String(job.data.tier)] = (byTier[String(job.data.tier)] ?? 0) + 1;
      }
    }
    const waits = (await this.redis.commands.lrange(this.waitsKey, 0, WAITS_KEPT - 1))
      .map(Number)
      .sort((a, b) => a - b);
    const at = (q: number) => (waits.length ? waits[Math.min(waits.length - 1, Math.floor(q * waits.length))]! : 0);
    return { waiting, byTier, waitMs: { samples: waits.length, p50: at(0.5), p99: at(0.99), max: waits.at(-1) ?? 0 } };
  }

  private lane(model: string): Lane {
    let lane = this.lanes.get(model);
    if (lane) return lane;
    const connection = () => {
      const redis = new Redis(this.config.REDIS_URL, { maxRetriesPerRequest: null });
      redis.on('error', this.logError);
      this.connections.push(redis);
      return redis;
    };
    const options = { prefix: `${this.config.VILLAGE_REDIS_PREFIX}bull` };
    const name = `llm-admission-${Buffer.from(model).toString('base64url')}`;
    const queue = new Queue<AdmissionJob>(name, { ...options, connection: connection() });
    queue.on('error', this.logError);
    // A worker with no processor: jobs are taken by hand, one slot at a time (see dispatch).
    const worker = new Worker<AdmissionJob>(name, null, { ...options, connection: connection() });
    worker.on('error', this.logError);
    lane = { model, queue, worker, dispatching: undefined, again: false };
    this.lanes.set(model, lane);
    void this.redis.commands.sadd(this.lanesKey, model).catch(this.logError);
    return lane;
  }

  /** Runs one dispatch of the lane at a time; a call while one runs makes it run once more. */
  private dispatch(lane: Lane) {
    if (this.stopped) return;
    if (lane.dispatching) {
      lane.again = true;
      return;
    }
    lane.dispatching = this.grantWhileFree(lane)
      .catch(this.logError)
      .finally(() => {
        lane.dispatching = undefined;
        if (lane.again) {
          lane.again = false;
          this.dispatch(lane);
        }
      });
  }

  /** Slot first, then the most urgent waiting call: as long as there are both. */
  private async grantWhileFree(lane: Lane) {
    if ((await lane.queue.getPrioritizedCount()) + (await lane.queue.getWaitingCount()) === 0) return;
    const candidates = this.upstreams.candidatesFor(lane.model);
    for (;;) {
      const placeholder = `dispatch:${randomUUID()}`;
      const upstream = await this.limits.acquireUpstream(candidates, placeholder, 60_000);
      if (!upstream) return;
      let granted = false;
      try {
        for (;;) {
          const job = await lane.worker.getNextJob(this.token, { block: false });
          if (!job) return;
          if (job.data.deadline < Date.now()) {
            await job.moveToCompleted('expired', this.token, false);
            continue;
          }
          await this.limits.handOver(upstream.name, placeholder, job.data.requestId, job.data.leaseMs);
          granted = true;
          await this.redis.commands.publish(
            this.grantedChannel,
            JSON.stringify({ requestId: job.data.requestId, upstream: upstream.name }),
          );
          await this.redis.commands
            .multi()
            .lpush(this.waitsKey, Date.now() - job.timestamp)
            .ltrim(this.waitsKey, 0, WAITS_KEPT - 1)
            .exec();
          await job.moveToCompleted('granted', this.token, false);
          break;
        }
      } finally {
        if (!granted) await this.limits.releaseUpstream(upstream.name, placeholder);
      }
    }
  }
}
