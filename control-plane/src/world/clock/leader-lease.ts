import type { Redis } from 'ioredis';

// Extend or give up the lease only if we still hold it (compare-and-set in one Redis call).
const RENEW = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end`;
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;

/**
 * A leadership lease in Redis: whoever holds the key runs the job; if it dies, the key expires
 * and another replica takes over. Correctness never rests on the lease alone (the tick is also
 * fenced in PostgreSQL); it only keeps the work on one replica.
 */
export class LeaderLease {
  constructor(
    private readonly redis: Redis,
    private readonly key: string,
    private readonly holder: string,
    private readonly ttlMs: number,
  ) {}

  /** Acquires the lease if free, or renews it if ours. True while we hold it. */
  async hold(): Promise<boolean> {
    const renewed = await this.redis.eval(RENEW, 1, this.key, this.holder, String(this.ttlMs));
    if (renewed === 1) return true;
    return (await this.redis.set(this.key, this.holder, 'PX', this.ttlMs, 'NX')) === 'OK';
  }

  async release(): Promise<void> {
    await this.redis.eval(RELEASE, 1, this.key, this.holder);
  }
}
