import type { EgressRequestReport, VillageClient } from '@ai-village/control-plane/contract';

const BATCH = 200;
const FLUSH_MS = 1_000;
/** Entries kept while the control plane is away; beyond it the oldest go, counted and said loudly. */
const BUFFER_LIMIT = 20_000;

/**
 * Sends the proxy's request log to the control plane in batches, off the request path: a slow or absent
 * control plane delays the log, never an agent's request. Kept in memory while it cannot be sent.
 */
export class EgressReporter {
  private buffer: EgressRequestReport[] = [];
  private dropped = 0;
  private flushing: Promise<void> | undefined;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly client: Pick<VillageClient, 'reportEgressRequests'>,
    private readonly onProblem: (message: string, fields: Record<string, unknown>) => void,
  ) {
    this.timer = setInterval(() => void this.flush(), FLUSH_MS);
    this.timer.unref();
  }

  report(entry: EgressRequestReport) {
    this.buffer.push(entry);
    if (this.buffer.length > BUFFER_LIMIT) {
      this.dropped += this.buffer.length - BUFFER_LIMIT;
      this.buffer.splice(0, this.buffer.length - BUFFER_LIMIT);
    }
    if (this.buffer.length >= BATCH) void this.flush();
  }

  /** Sends everything buffered (one batch at a time); resolves when done or when sending failed. */
  flush(): Promise<void> {
    this.flushing ??= this.send().finally(() => (this.flushing = undefined));
    return this.flushing;
  }

  async close() {
    clearInterval(this.timer);
    await this.flush();
  }

  private async send() {
    if (this.dropped > 0) {
      this.onProblem('egress log entries dropped: the control plane was away too long', { dropped: this.dropped });
      this.dropped = 0;
    }
    while (this.buffer.length > 0) {
      const batch = this.buffer.slice(0, BATCH);
      try {
        await this.client.reportEgressRequests(batch);
      } catch (error) {
        this.onProblem('could not send the egress log; will retry', {
          error: String(error),
          waiting: this.buffer.length,
        });
        return;
      }
      this.buffer.splice(0, batch.length);
    }
  }
}
