import http from 'node:http';

/** Minimal keep-alive HTTP client for load generation (less overhead than fetch). */
export class LoadClient {
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 128 });
  constructor(private readonly base: URL) {}

  request(
    method: string,
    path: string,
    token?: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : JSON.stringify(body);
      const req = http.request(
        {
          host: this.base.hostname,
          port: this.base.port,
          method,
          path,
          agent: this.agent,
          headers: {
            ...headers,
            ...(token ? { authorization: `Bearer ${token}` } : {}),
            ...(payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
  }

  close() {
    this.agent.destroy();
  }
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** Closed loop: `concurrency` workers call `once` back to back for `ms`; returns requests per second. */
export async function throughput(once: () => Promise<unknown>, concurrency: number, ms: number): Promise<number> {
  const deadline = performance.now() + ms;
  let done = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        await once();
        done++;
      }
    }),
  );
  return done / (ms / 1000);
}

/**
 * Open loop: starts `rate` calls per second for `ms`, whatever the answers' pace (so slow answers
 * show up as latency, not as a lower rate). Returns each call's latency.
 */
export async function openLoop(
  rate: number,
  ms: number,
  call: (i: number) => Promise<unknown>,
): Promise<{ latencies: number[]; errors: number }> {
  const latencies: number[] = [];
  let errors = 0;
  const pending: Promise<unknown>[] = [];
  const started = performance.now();
  let sent = 0;
  while (performance.now() - started < ms) {
    const due = Math.floor(((performance.now() - started) / 1000) * rate);
    for (; sent < due; sent++) {
      const t0 = performance.now();
      pending.push(
        call(sent).then(
          () => latencies.push(performance.now() - t0),
          () => errors++, // counted and reported, never an unhandled rejection
        ),
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  await Promise.all(pending);
  return { latencies, errors };
}
