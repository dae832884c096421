/**
 * Open loop like load.ts's `openLoop` (calls start at `rate` per second whatever the answers' pace,
 * so slowness shows as latency), but with at most `maxInFlight` calls outstanding: a route far
 * slower than the rate then cannot pile up thousands of requests; the calls not started are counted.
 */
export async function steadyLoad(
  rate: number,
  ms: number,
  call: (i: number) => Promise<unknown>,
  maxInFlight = 32,
): Promise<{ latencies: number[]; errors: number; notStarted: number }> {
  const latencies: number[] = [];
  let errors = 0;
  let notStarted = 0;
  let inFlight = 0;
  const pending: Promise<unknown>[] = [];
  const started = performance.now();
  let sent = 0;
  while (performance.now() - started < ms) {
    const due = Math.floor(((performance.now() - started) / 1000) * rate);
    for (; sent < due; sent++) {
      if (inFlight >= maxInFlight) {
        notStarted++;
        continue;
      }
      inFlight++;
      const t0 = performance.now();
      pending.push(
        call(sent)
          .then(
            () => latencies.push(performance.now() - t0),
            () => errors++, // counted and reported, never an unhandled rejection
          )
          .finally(() => inFlight--),
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  await Promise.all(pending);
  return { latencies, errors, notStarted };
}
