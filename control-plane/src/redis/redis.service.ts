import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { Redis } from 'ioredis';
import { CONFIG, type Config } from '../config/config.js';

/**
 * Redis connections of this replica: `commands` for ordinary commands, and a publisher/subscriber
 * pair for socket.io's Redis adapter (a subscribed connection can run nothing else). Every key and
 * channel is prefixed with VILLAGE_REDIS_PREFIX via `key()`.
 */
@Injectable()
export class RedisService implements OnApplicationShutdown {
  readonly commands: Redis;
  readonly publisher: Redis;
  readonly subscriber: Redis;

  constructor(@Inject(CONFIG) private readonly config: Config) {
    const options = { maxRetriesPerRequest: 2, enableAutoPipelining: true, lazyConnect: false };
    this.commands = new Redis(config.REDIS_URL, {
      ...options,
      connectionName: `${config.VILLAGE_REPLICA_ID}:commands`,
    });
    // The socket.io adapter's publishes are fire-and-forget: a rejection there would crash the process,
    // so they wait in ioredis's offline queue while Redis is away instead of failing.
    const fanOut = { ...options, maxRetriesPerRequest: null };
    this.publisher = new Redis(config.REDIS_URL, { ...fanOut, connectionName: `${config.VILLAGE_REPLICA_ID}:pub` });
    this.subscriber = new Redis(config.REDIS_URL, { ...fanOut, connectionName: `${config.VILLAGE_REPLICA_ID}:sub` });
    // Errors surface on the commands that fail; ioredis reconnects on its own.
    for (const connection of [this.commands, this.publisher, this.subscriber]) connection.on('error', () => undefined);
  }

  key(name: string): string {
    return `${this.config.VILLAGE_REDIS_PREFIX}${name}`;
  }

  async onApplicationShutdown() {
    await Promise.all(
      [this.commands, this.publisher, this.subscriber].map((c) => c.quit().catch(() => c.disconnect())),
    );
  }
}
