// Sends what the runtime records (tool calls, episodes) to the control plane in batches, never in the
// way of the work that produced it: `add` only queues; a timer sends one batch at a time; a failure
// that may pass (network, 5xx, 429) is retried with back-off; a bounded buffer drops the oldest when
// the control plane stays away, and says so. `flush` sends what is left, for a clean stop.
import { VillageApiError } from '@ai-village/control-plane/contract';
import type { StructuredLog } from './structured-log.js';

export interface BatchReporterOptions<T> {
  /** For log lines: "tool calls", "episodes". */
  what: string;
  send(items: T[]): Promise<unknown>;
  log: StructuredLog;
  /** Items waiting at most, and their JSON characters at most; beyond either the oldest go first. */
  capacity?: number;
  capacityChars?: number;
  batchItems?: number;
  /** JSON characters of one batch at most (the control plane's body limit is 100 kB). */
  batchChars?: number;
  /** How long an item may wait for company before a batch goes. */
  delayMs?: number;
  /** Items with the same key replace each other while waiting (an episode counted up). */
  keyOf?: (item: T) => string;
  maxRetryMs?: number;
}

const DEFAULTS = {
  capacity: 10_000,
  capacityChars: 8_000_000,
  batchItems: 100,
  batchChars: 60_000,
  delayMs: 1000,
  maxRetryMs: 30_000,
};

export class BatchReporter<T> {
  private pending: { item: T; chars: number; key?: string }[] = [];
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;
  private failures = 0;
  private pendingChars = 0;
  private droppedSinceSaid = 0;
  private readonly options: Required<Omit<BatchReporterOptions<T>, 'keyOf'>> & Pick<BatchReporterOptions<T>, 'keyOf'>;
  /** Counters, for the log and the benchmark. */
  readonly stats = { sent: 0, dropped: 0, batches: 0, failedAttempts: 0 };

  constructor(options: BatchReporterOptions<T>) {
    this.options = { ...DEFAULTS, ...options };
  }

  get waiting(): number {
    return this.pending.length;
  }

  add(item: T): void {
    const key = this.options.keyOf?.(item);
    const chars = JSON.stringify(item).length;
    if (key !== undefined) {
      const at = this.pending.findIndex((entry) => entry.key === key);
      if (at >= 0) {
        this.pendingChars += chars - this.pending[at]!.chars;
        this.pending[at] = { item, chars, key };
        this.schedule(this.options.delayMs);
        return;
      }
    }
    this.pending.push({ item, chars, ...(key === undefined ? {} : { key }) });
    this.pendingChars += chars;
    let dropped = 0;
    while (
      this.pending.length > 1 &&
      (this.pending.length > this.options.capacity || this.pendingChars > this.options.capacityChars)
    ) {
      this.pendingChars -= this.pending.shift()!.chars;
      dropped++;
    }
    if (dropped > 0) {
      this.stats.dropped += dropped;
      if (this.droppedSinceSaid === 0) {
        this.options.log.warn(
          'reflect',
          `the control plane is not taking ${this.options.what} fast enough: dropping the oldest (keeping ${this.pending.length})`,
        );
      }
      this.droppedSinceSaid += dropped;
    }
    this.schedule(this.options.delayMs);
  }

  /** Sends everything waiting, batch after batch, until done, a failure, or `deadlineMs`. */
  async flush(deadlineMs = 5000): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const until = Date.now() + deadlineMs;
    while (Date.now() < until) {
      if (this.inFlight) {
        await this.inFlight;
        continue;
      }
      if (this.pending.length === 0) return;
      if (!(await this.sendBatch())) return;
    }
  }

  /** Stops the timer (what is waiting stays waiting). */
  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(delayMs: number): void {
    if (this.timer || this.inFlight) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.sendBatch().then((sent) => {
        if (this.pending.length === 0) return;
        this.schedule(sent ? 0 : this.retryMs());
      });
    }, delayMs);
    this.timer.unref();
  }

  /** Sends one batch; true when it went (or was refused for good and dropped). */
  private async sendBatch(): Promise<boolean> {
    if (this.inFlight || this.pending.length === 0) return true;
    const batch = this.take();
    let done!: () => void;
    this.inFlight = new Promise((resolve) => (done = resolve));
    try {
      await this.options.send(batch.map((entry) => entry.item));
      this.stats.sent += batch.length;
      this.stats.batches++;
      this.remove(batch);
      if (this.failures > 0 || this.droppedSinceSaid > 0) {
        this.options.log.info('reflect', {
          message: `${this.options.what} reach the control plane again`,
          failures: this.failures,
          dropped: this.droppedSinceSaid,
        });
      }
      this.failures = 0;
      this.droppedSinceSaid = 0;
      return true;
    } catch (error) {
      this.stats.failedAttempts++;
      if (
        error instanceof VillageApiError &&
        error.status >= 400 &&
        error.status < 500 &&
        ![408, 429].includes(error.status)
      ) {
        // Refused for good (a bug, or a revoked token): retrying cannot help.
        this.remove(batch);
        this.stats.dropped += batch.length;
        this.options.log.error(
          'reflect',
          `the control plane refused ${batch.length} ${this.options.what}: ${error.message}`,
        );
        return true;
      }
      this.failures++;
      // An outage is already loud in the loop's own lines; here it is only "waiting", said once.
      if (this.failures === 1) {
        this.options.log.info('reflect', {
          message: `could not send ${this.options.what}; will retry`,
          error: String(error),
          waiting: this.pending.length,
        });
      }
      return false;
    } finally {
      this.inFlight = undefined;
      done();
    }
  }

  private take() {
    const batch: typeof this.pending = [];
    let chars = 0;
    for (const entry of this.pending) {
      if (batch.length >= this.options.batchItems) break;
      if (batch.length > 0 && chars + entry.chars > this.options.batchChars) break;
      batch.push(entry);
      chars += entry.chars;
    }
    return batch;
  }

  private remove(batch: typeof this.pending): void {
    const sent = new Set(batch);
    // One pass, whatever the buffer's length (an entry replaced by key meanwhile is a new entry, kept).
    this.pending = this.pending.filter((entry) => {
      if (!sent.has(entry)) return true;
      this.pendingChars -= entry.chars;
      return false;
    });
  }

  private retryMs(): number {
    return Math.min(this.options.maxRetryMs, 1000 * 2 ** Math.min(10, this.failures - 1));
  }
}
