// Exponential back-off for a loop that must keep going: every consecutive failure doubles the wait,
// up to a cap, with a random part so that 500 agents hit by the same outage do not retry in step.
export class Backoff {
  private failures = 0;

  constructor(
    private readonly baseMs: number,
    private readonly maxMs = 30_000,
    private readonly random: () => number = Math.random,
  ) {}

  /** Counts one more failure and returns how long to wait: base·2ⁿ capped at max, less up to a quarter. */
  next(): number {
    this.failures++;
    const ceiling = Math.min(this.maxMs, this.baseMs * 2 ** this.failures);
    return Math.round(ceiling * (0.75 + 0.25 * this.random()));
  }

  /** Back to normal after a success; returns how many failures there had been. */
  reset(): number {
    const failures = this.failures;
    this.failures = 0;
    return failures;
  }
}
