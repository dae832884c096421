// The GPU reporter's loop: a sample on every wall-clock multiple of the period, queued and sent to the
// control plane in order. The sample's time is the multiple itself, so a sample sent twice (a retry
// after a lost answer, a restarted reporter, a second copy of the daemon) has the same key and is
// stored once. Nothing that goes wrong stops it: nvidia-smi hanging, failing or printing something
// unexpected costs that sample (said once, then once a minute while it lasts); an unreachable control
// plane delays the samples, which wait in a bounded queue.
import { VillageApiError, type GpuSample, type VillageClient } from '@ai-village/control-plane/contract';
import type { GpuSampler, SampleOutcome } from './gpu-sampler.js';

export interface GpuReporterOptions {
  client: Pick<VillageClient, 'reportGpuSamples'>;
  sampler: Pick<GpuSampler, 'take'>;
  /** How often a sample is taken (and the period each stands for). */
  periodMs?: number;
  /** Samples kept while the control plane is away (default: a day at the period); beyond it the oldest go. */
  queueLimit?: number;
  log?: (level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>) => void;
  /** Each sample's outcome, as taken (the benchmark counts them). */
  onSample?: (outcome: SampleOutcome, at: Date) => void;
}

const BATCH = 50;
/** How often a problem that goes on is said again. */
const REPEAT_MS = 60_000;

export interface ReporterStats {
  taken: number;
  failed: number;
  /** Multiples of the period passed while the previous sample was still being taken. */
  skipped: number;
  sent: number;
  /** Samples the control plane refused (4xx): dropped, never sent again. */
  refused: number;
  /** Samples dropped because the queue was full. */
  dropped: number;
}

export class GpuReporter {
  readonly periodMs: number;
  readonly stats: ReporterStats = { taken: 0, failed: 0, skipped: 0, sent: 0, refused: 0, dropped: 0 };
  private readonly queue: GpuSample[] = [];
  private readonly queueLimit: number;
  private readonly log: NonNullable<GpuReporterOptions['log']>;
  private timer: NodeJS.Timeout | undefined;
  private taking: Promise<void> | undefined;
  private sending: Promise<void> | undefined;
  private stopped = false;
  private lastDue = 0;
  private noDevices = false;
  private readonly said = new Map<string, { at: number; times: number }>();

  constructor(private readonly options: GpuReporterOptions) {
    this.periodMs = options.periodMs ?? 10_000;
    this.queueLimit = options.queueLimit ?? Math.ceil(86_400_000 / this.periodMs);
    this.log = options.log ?? (() => undefined);
  }

  start() {
    this.stopped = false;
    this.schedule();
  }

  /** Stops sampling, waits for the sample in progress and sends what is queued (once). */
  async stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.taking;
    await this.flush();
  }

  get queued() {
    return this.queue.length;
  }

  /** Takes the sample of the multiple `at` (the loop calls it; tests may too) and sends the queue. */
  async sampleAt(at: Date): Promise<void> {
    if (this.taking) {
      this.stats.skipped++;
      this.problem('busy', `the sample of ${at.toISOString()} was skipped: the one before is still being taken`);
      return;
    }
    this.taking = this.take(at).finally(() => (this.taking = undefined));
    await this.taking;
    await this.flush();
  }

  /** Sends the queue, oldest first, in batches; a failed send is tried again after the next sample. */
  flush(): Promise<void> {
    this.sending ??= this.send().finally(() => (this.sending = undefined));
    return this.sending;
  }

  private schedule() {
    if (this.stopped) return;
    // The multiple this sample is for is fixed now, so a late timer cannot stamp it with another one.
    // (And never the one before again, should a timer fire a moment early.)
    const now = Date.now();
    const due = Math.max(now - (now % this.periodMs) + this.periodMs, this.lastDue + this.periodMs);
    this.lastDue = due;
    this.timer = setTimeout(() => {
      this.schedule();
      void this.sampleAt(new Date(due));
    }, due - now);
  }

  private async take(at: Date) {
    let outcome: SampleOutcome;
    try {
      outcome = await this.options.sampler.take(at, this.periodMs);
    } catch (error) {
      outcome = { ok: false, failure: 'failed', message: `taking a sample failed: ${String(error)}` };
    }
    this.options.onSample?.(outcome, at);
    if (!outcome.ok) {
      this.stats.failed++;
      this.problem(
        `smi:${outcome.failure}`,
        `no GPU sample at ${at.toISOString()}: ${outcome.message}; trying again next period`,
        { failure: outcome.failure },
      );
      return;
    }
    this.stats.taken++;
    this.recovered('smi:');
    if ('noDevices' in outcome) {
      // Said once: a node without GPUs is not a problem that goes on.
      if (!this.noDevices) this.log('info', 'nvidia-smi sees no GPU on this node: nothing to report');
      this.noDevices = true;
      return;
    }
    this.noDevices = false;
    for (const problem of outcome.problems) this.problem(`sample:${problem.replace(/\d+/g, '#')}`, problem);
    // A sample without processes bills nothing: not sent.
    if (outcome.sample.processes.length === 0) return;
    this.queue.push(outcome.sample);
    if (this.queue.length > this.queueLimit) {
      const dropped = this.queue.splice(0, this.queue.length - this.queueLimit).length;
      this.stats.dropped += dropped;
      this.problem('queue-full', `the control plane was away too long: the ${dropped} oldest samples were dropped`, {
        dropped,
      });
    }
  }

  private async send() {
    while (this.queue.length > 0) {
      const batch = this.queue.slice(0, BATCH);
      try {
        const result = await this.options.client.reportGpuSamples(batch);
        this.stats.sent += batch.length;
        this.recovered('send');
        if (result.expired > 0) {
          this.problem('expired', `${result.expired} samples were too old for the control plane to bill`, {
            expired: result.expired,
          });
        }
      } catch (error) {
        if (
          error instanceof VillageApiError &&
          error.status >= 400 &&
          error.status < 500 &&
          ![408, 429].includes(error.status)
        ) {
          // The control plane will refuse the same samples every time: say it loudly and move on.
          this.stats.refused += batch.length;
          this.log('error', 'the control plane refused GPU samples; they are dropped', {
            status: error.status,
            error: error.body?.message ?? error.message,
            samples: batch.length,
            from: batch[0]!.sampledAt,
          });
        } else {
          this.problem('send', 'could not send GPU samples; will try again', {
            error: String(error),
            waiting: this.queue.length,
          });
          return;
        }
      }
      this.queue.splice(0, batch.length);
    }
  }

  /** Says a problem the first time, then at most once a minute while it goes on (with how often). */
  private problem(key: string, message: string, fields: Record<string, unknown> = {}) {
    const now = Date.now();
    const said = this.said.get(key);
    if (said && now - said.at < REPEAT_MS) {
      said.times++;
      return;
    }
    this.log('warn', message, { ...fields, ...(said ? { timesSinceLastSaid: said.times } : {}) });
    this.said.set(key, { at: now, times: 0 });
  }

  /** A problem that ended is said once more, as over. */
  private recovered(prefix: string) {
    for (const key of [...this.said.keys()]) {
      if (!key.startsWith(prefix)) continue;
      this.said.delete(key);
      this.log('info', `recovered: ${key}`);
    }
  }
}
