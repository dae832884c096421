import { Inject, Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { CONFIG, type Config } from '../config/config.js';
import { LOGGER } from '../logging/logger.js';
import { throttledErrorLog } from '../logging/throttled-error-log.js';

const READY_TIMEOUT_MS = 10_000;

export type RedisScript<T> = (numberOfKeys: number, ...keysAndArgs: (string | number)[]) => Promise<T>;

/**
 * Redis connections of this replica: `commands` for ordinary commands, and a publisher/subscriber
 * pair for socket.io's Redis adapter and pub/sub (a subscribed connection can run nothing else).
 * Every key and channel is prefixed with VILLAGE_REDIS_PREFIX via `key()`.
 */
@Injectable()
export class RedisService implements OnModuleInit, OnApplicationShutdown {
  readonly commands: Redis;
  readonly publisher: Redis;
  readonly subscriber: Redis;

  constructor(
    @Inject(CONFIG) private readonly config: Config,
    @Inject(LOGGER) logger: Logger,
  ) {
    const options = { maxRetriesPerRequest: 2, enableAutoPipelining: true };
    const name = (role: string) => `${config.VILLAGE_REPLICA_ID}:${role}`;
    // While Redis is away, commands fail at once instead of waiting in a queue: a move's answer must
    // not wait on its best-effort stream copy, and a said line is refused (503) without delay.
    this.commands = new Redis(config.REDIS_URL, {
      ...options,
      enableOfflineQueue: false,
      connectionName: name('commands'),
    });
    // The socket.io adapter's publishes are fire-and-forget: a rejection there would crash the process,
    // so the fan-out connections never fail a command; the viewer gateway does not publish while
    // Redis is away (see ViewerGateway.flush), so nothing piles up in their offline queue.
    const fanOut = { ...options, maxRetriesPerRequest: null };
    this.publisher = new Redis(config.REDIS_URL, { ...fanOut, connectionName: name('pub') });
    this.subscriber = new Redis(config.REDIS_URL, { ...fanOut, connectionName: name('sub') });
    // ioredis reconnects on its own; say so in the log, once in a while.
    for (const [role, connection] of this.connections())
      connection.on('error', throttledErrorLog(logger, `redis ${role}`));
  }

  /** Start-up waits for Redis, so a wrong REDIS_URL fails loudly instead of hanging. */
  async onModuleInit() {
    await Promise.all(
      this.connections().map(([role, connection]) =>
        connection.status === 'ready'
          ? undefined
          : new Promise<void>((resolve, reject) => {
              const timer = setTimeout(
                () =>
                  reject(
                    new Error(
                      `Redis at REDIS_URL did not answer within ${READY_TIMEOUT_MS / 1000} s (${role} connection)`,
                    ),
                  ),
                READY_TIMEOUT_MS,
              );
              connection.once('ready', () => {
                clearTimeout(timer);
                resolve();
              });
            }),
      ),
    );
  }

  /** Whether fan-out can reach the other replicas right now. */
  get fanOutReady(): boolean {
    return this.publisher.status === 'ready';
  }

  key(name: string): string {
    return `${this.config.VILLAGE_REDIS_PREFIX}${name}`;
  }

  /**
   * A Lua script on the commands connection, sent by its SHA (EVALSHA) once Redis has it rather than
   * whole with every call. Call it with the number of keys, the keys, then the arguments.
   */
  script<T = unknown>(name: string, lua: string): RedisScript<T> {
    this.commands.defineCommand(name, { lua });
    const commands = this.commands as unknown as Record<string, RedisScript<T>>;
    return (...keysAndArgs) => commands[name]!(...keysAndArgs);
  }

  async onApplicationShutdown() {
    await Promise.all(this.connections().map(([, c]) => c.quit().catch(() => c.disconnect())));
  }

  private connections(): Array<[string, Redis]> {
    return [
      ['commands', this.commands],
      ['publisher', this.publisher],
      ['subscriber', this.subscriber],
    ];
  }
}
