import { Inject, Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { Queue, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { CONFIG, type Config } from '../config/config.js';
import { DatabaseService } from '../database/database.service.js';
import { LOGGER } from '../logging/logger.js';
import { throttledErrorLog } from '../logging/throttled-error-log.js';
import { PaypalWebhooks } from './paypal-webhooks.service.js';

interface WebhookJob {
  webhookEventId: number;
}

const QUEUE = 'paypal-webhooks';
/** About 8½ minutes of retries (1 s, doubling) before a delivery is marked failed for an admin. */
const ATTEMPTS = 10;
const BACKOFF_MS = 1000;
/** Deliveries stored but not queued (Redis was away) are queued again after this long. */
const SWEEP_MS = 30_000;
const STUCK_AFTER = '1 minute';

/**
 * Verifies and processes stored webhook deliveries from a BullMQ queue shared by every replica,
 * with retries. The delivery's id is the job id, so queuing it twice runs it once; a sweep queues
 * deliveries whose queuing failed.
 */
@Injectable()
export class WebhookQueue implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly connections: Redis[] = [];
  private readonly logError: (error: unknown) => void;
  private queue: Queue<WebhookJob> | undefined;
  private worker: Worker<WebhookJob> | undefined;
  private sweeper: NodeJS.Timeout | undefined;

  constructor(
    private readonly webhooks: PaypalWebhooks,
    private readonly database: DatabaseService,
    @Inject(CONFIG) private readonly config: Config,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {
    this.logError = throttledErrorLog(logger, 'PayPal webhook queue');
  }

  onApplicationBootstrap() {
    const connection = () => {
      const redis = new Redis(this.config.REDIS_URL, { maxRetriesPerRequest: null });
      redis.on('error', this.logError);
      this.connections.push(redis);
      return redis;
    };
    const options = { prefix: `${this.config.VILLAGE_REDIS_PREFIX}bull` };
    this.queue = new Queue<WebhookJob>(QUEUE, { ...options, connection: connection() });
    this.queue.on('error', this.logError);
    this.worker = new Worker<WebhookJob>(QUEUE, (job) => this.run(job), {
      ...options,
      connection: connection(),
      concurrency: 4,
    });
    this.worker.on('error', this.logError);
    this.worker.on('failed', (job, error) => {
      if (!job || job.attemptsMade < (job.opts.attempts ?? 1)) return;
      void this.webhooks.fail(job.data.webhookEventId, error.message).catch(this.logError);
    });
    this.sweeper = setInterval(() => void this.sweep().catch(this.logError), SWEEP_MS);
    this.sweeper.unref();
  }

  /** Queues a stored delivery; a failure is logged (the sweep queues it later). */
  async enqueue(webhookEventId: number): Promise<void> {
    await this.queue!.add(
      'verify-and-process',
      { webhookEventId },
      {
        jobId: `paypal-event-${webhookEventId}`,
        attempts: ATTEMPTS,
        backoff: { type: 'exponential', delay: BACKOFF_MS },
        removeOnComplete: true,
        removeOnFail: true,
      },
    );
  }

  private async run(job: Job<WebhookJob>) {
    try {
      await this.webhooks.handle(job.data.webhookEventId);
    } catch (error) {
      await this.webhooks.noteError(job.data.webhookEventId, (error as Error).message).catch(this.logError);
      throw error;
    }
  }

  private async sweep() {
    const { rows } = await this.database.query<{ id: string }>(
      `SELECT id FROM payment_webhook_events
        WHERE status IN ('received', 'verified') AND updated_at < now() - interval '${STUCK_AFTER}'
        ORDER BY id LIMIT 100`,
    );
    for (const { id } of rows) await this.enqueue(Number(id));
  }

  async onApplicationShutdown() {
    clearInterval(this.sweeper);
    await this.worker?.close().catch(() => undefined);
    await this.queue?.close().catch(() => undefined);
    for (const connection of this.connections) connection.disconnect();
  }
}
