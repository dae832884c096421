import { Inject, Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { Counter, Gauge } from 'prom-client';
import type { Logger } from 'pino';
import type { WorldEvent } from '../contract/index.js';
import { AdmissionQueue } from '../compute/admission-queue.service.js';
import { CONFIG, type Config } from '../config/config.js';
import { DatabaseService } from '../database/database.service.js';
import { EventBus } from '../events/event-bus.service.js';
import { LOGGER } from '../logging/logger.js';
import { WorldClockState } from '../world/clock/world-clock.state.js';
import {
  eventsPublished,
  fleetActions,
  gpuCharged,
  gpuMemorySeconds,
  gpuSeconds,
  registry,
  tickAgentsMoved,
  tickDuration,
  toolCallDuration,
  toolCalls,
} from './instruments.js';

/** A scrape must answer even while PostgreSQL or Redis is away: each source gets this long. */
const SOURCE_TIMEOUT_MS = 1000;
/** The payments module's BullMQ queue (payments/webhook-queue.service.ts). */
const PAYMENT_QUEUE = 'paypal-webhooks';

/**
 * Reads what the village already knows into the instruments: events from this replica's bus as they
 * are published, and shared state (agents, queues, the clock) when Prometheus scrapes. Shared state is
 * the same on every replica, so dashboards take `max` of those gauges, and `sum` of the counters.
 */
@Injectable()
export class MetricsService implements OnModuleInit, OnApplicationShutdown {
  private unsubscribe: (() => void) | undefined;
  private paymentQueue: { redis: Redis; queue: Queue } | undefined;
  private collecting: Promise<void> | undefined;

  constructor(
    private readonly events: EventBus,
    private readonly database: DatabaseService,
    private readonly clock: WorldClockState,
    private readonly moduleRef: ModuleRef,
    @Inject(CONFIG) private readonly config: Config,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  onModuleInit() {
    this.unsubscribe = this.events.subscribe((events) => this.observe(events));
    scrapeSources.push(this);
  }

  async onApplicationShutdown() {
    this.unsubscribe?.();
    scrapeSources.splice(scrapeSources.indexOf(this) >>> 0, 1);
    if (this.paymentQueue) {
      await this.paymentQueue.queue.close().catch(() => undefined);
      this.paymentQueue.redis.disconnect();
    }
  }

  /** The text Prometheus reads. */
  scrape(): Promise<string> {
    return registry.metrics();
  }

  private observe(events: WorldEvent[]) {
    for (const event of events) {
      eventsPublished.inc({ type: event.type });
      if (event.type === 'world.tick') {
        tickDuration.observe(event.durationMs / 1000);
        tickAgentsMoved.inc(event.moved);
      } else if (event.type === 'agent.tool_call') {
        toolCalls.inc({ tool: event.tool, ok: String(event.ok) });
        toolCallDuration.observe({ tool: event.tool }, event.durationMs / 1000);
      } else if (event.type === 'fleet.agent_changed') {
        fleetActions.inc({ action: event.action, observed: event.observed });
      } else if (event.type === 'gpu.usage_billed') {
        gpuSeconds.inc(event.gpuSeconds);
        gpuMemorySeconds.inc(event.gpuMemoryGibSeconds);
        gpuCharged.inc(event.charged);
      }
    }
  }

  /**
   * Every scrape-time gauge's `collect` calls this: prom-client reads all metrics at once, so they
   * share one pass over the sources per scrape.
   */
  collectOnce(): Promise<void> {
    return (this.collecting ??= this.collect().finally(() => (this.collecting = undefined)));
  }

  /** Sets the scrape-time gauges; a source that fails or is slow is counted and skipped. */
  private async collect() {
    await Promise.all([
      this.source('postgres', async () => {
        const { rows } = await this.database.query<{ online: boolean; count: string }>(
          'SELECT online, count(*) AS count FROM agents GROUP BY online',
        );
        agents.reset();
        for (const row of rows) agents.set({ state: row.online ? 'online' : 'offline' }, Number(row.count));
      }),
      this.source('fleet', async () => {
        // Each agent's container as the reconcile loop last saw it, against what it should be.
        const { rows } = await this.database.query<{ node: string; observed: string; desired: string; count: string }>(
          `SELECT coalesce(node, '') AS node, observed, desired, count(*) AS count
             FROM fleet_agents GROUP BY 1, 2, 3`,
        );
        containers.reset();
        for (const { node, observed, desired, count } of rows)
          containers.set({ node, observed, desired }, Number(count));
      }),
      this.source('llm_queue', async () => {
        const stats = await this.moduleRef.get(AdmissionQueue, { strict: false }).stats();
        llmQueueDepth.reset();
        for (const [tier, count] of Object.entries(stats.byTier)) llmQueueDepth.set({ tier }, count);
        llmQueueRecentWait.set({ quantile: '0.5' }, stats.waitMs.p50 / 1000);
        llmQueueRecentWait.set({ quantile: '0.99' }, stats.waitMs.p99 / 1000);
        llmQueueRecentWait.set({ quantile: '1' }, stats.waitMs.max / 1000);
      }),
      this.source('payment_queue', async () => {
        const counts = await this.paymentQueueClient().getJobCounts('waiting', 'delayed', 'active', 'failed');
        for (const [state, count] of Object.entries(counts)) paymentQueueJobs.set({ state }, count);
      }),
    ]);
    worldTick.set(this.clock.tick);
    clockLeader.set(this.clock.isLeader ? 1 : 0);
  }

  private async source(name: string, read: () => Promise<void>) {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        read(),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer in ${SOURCE_TIMEOUT_MS} ms`)), SOURCE_TIMEOUT_MS);
        }),
      ]);
    } catch (error) {
      scrapeErrors.inc({ source: name });
      this.logger.debug({ err: error, source: name }, 'a metrics source failed');
    } finally {
      clearTimeout(timer);
    }
  }

  /** Counting jobs needs no worker: a queue handle on a connection of its own, made on first scrape. */
  private paymentQueueClient(): Queue {
    if (!this.paymentQueue) {
      const redis = new Redis(this.config.REDIS_URL, { maxRetriesPerRequest: 1, enableOfflineQueue: false });
      redis.on('error', () => undefined); // the scrape counts the failure
      const queue = new Queue(PAYMENT_QUEUE, { prefix: `${this.config.VILLAGE_REDIS_PREFIX}bull`, connection: redis });
      queue.on('error', () => undefined);
      this.paymentQueue = { redis, queue };
    }
    return this.paymentQueue.queue;
  }
}

/** The app whose state the scrape-time gauges read (tests may run several apps in one process: the newest). */
const scrapeSources: MetricsService[] = [];
const collectScrapeTime = () => scrapeSources.at(-1)?.collectOnce();

const agents = new Gauge({
  name: 'village_agents',
  help: 'Agents of the village by presence (online: called the API recently); the same on every replica',
  labelNames: ['state'] as const,
  registers: [registry],
  collect: collectScrapeTime,
});

const containers = new Gauge({
  name: 'village_containers',
  help: "Agents' containers by node and state as the fleet last observed it, and the state it wants (desired)",
  labelNames: ['node', 'observed', 'desired'] as const,
  registers: [registry],
  collect: collectScrapeTime,
});

const llmQueueDepth = new Gauge({
  name: 'village_llm_queue_depth',
  help: 'LLM calls waiting for an upstream slot, by tier, across all replicas',
  labelNames: ['tier'] as const,
  registers: [registry],
  collect: collectScrapeTime,
});

const llmQueueRecentWait = new Gauge({
  name: 'village_llm_queue_recent_wait_seconds',
  help: 'Wait before admission of the most recent LLM calls across all replicas, by quantile',
  labelNames: ['quantile'] as const,
  registers: [registry],
  collect: collectScrapeTime,
});

const paymentQueueJobs = new Gauge({
  name: 'village_payment_queue_jobs',
  help: 'PayPal webhook deliveries in the BullMQ queue, by state, across all replicas',
  labelNames: ['state'] as const,
  registers: [registry],
  collect: collectScrapeTime,
});

const worldTick = new Gauge({
  name: 'village_world_tick',
  help: 'The latest world tick this replica saw (its rate is the tick rate; flat means the clock stopped)',
  registers: [registry],
  collect: collectScrapeTime,
});

const clockLeader = new Gauge({
  name: 'village_clock_leader',
  help: '1 when this replica holds the world clock lease',
  registers: [registry],
  collect: collectScrapeTime,
});

const scrapeErrors = new Counter({
  name: 'village_metrics_source_errors_total',
  help: 'Scrapes in which a source (postgres, fleet, llm_queue, payment_queue) failed or took over 1 s',
  labelNames: ['source'] as const,
  registers: [registry],
});
