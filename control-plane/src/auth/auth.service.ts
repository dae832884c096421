import { Inject, Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import { CONFIG, type Config } from '../config/config.js';
import { DatabaseService } from '../database/database.service.js';
import { RedisService } from '../redis/redis.service.js';
import type { Principal } from './principal.js';
import { hashToken, sameSecret } from './tokens.js';

// How long a replica trusts its cached answer for a token. A rotated or revoked token is dropped from
// every replica's cache at once (Redis pub/sub); the expiry only bounds a missed message.
const TOKEN_CACHE_MS = 60_000;
const TOKEN_CACHE_SIZE = 10_000;

/** Turns a bearer token into a principal. Agent tokens are looked up by hash and cached. */
@Injectable()
export class AuthService implements OnApplicationBootstrap {
  private readonly cache = new Map<string, { agentId: string | null; until: number }>();

  constructor(
    @Inject(CONFIG) private readonly config: Config,
    private readonly database: DatabaseService,
    private readonly redis: RedisService,
  ) {}

  private get revokedChannel() {
    return this.redis.key('auth:revoked');
  }

  async onApplicationBootstrap() {
    await this.redis.subscriber.subscribe(this.revokedChannel);
    this.redis.subscriber.on('message', (channel: string, tokenHash: string) => {
      if (channel === this.revokedChannel) this.cache.delete(tokenHash);
    });
  }

  async authenticate(token: string): Promise<Principal | undefined> {
    const adminToken = this.config.VILLAGE_ADMIN_TOKEN;
    if (adminToken && sameSecret(token, adminToken)) return { kind: 'admin' };
    const hash = hashToken(token);
    const now = Date.now();
    let cached = this.cache.get(hash);
    if (!cached || cached.until < now) {
      const { rows } = await this.database.query<{ id: string }>('SELECT id FROM agents WHERE token_hash = $1', [hash]);
      cached = { agentId: rows[0]?.id ?? null, until: now + TOKEN_CACHE_MS };
      // Bounded: the oldest entry goes first (a Map keeps insertion order), never the whole cache.
      if (this.cache.size >= TOKEN_CACHE_SIZE) this.cache.delete(this.cache.keys().next().value!);
      this.cache.set(hash, cached);
    }
    return cached.agentId ? { kind: 'agent', agentId: cached.agentId } : undefined;
  }

  /** Call when a token stops being valid: every replica forgets it now. */
  async revoke(tokenHash: string) {
    this.cache.delete(tokenHash);
    // On `commands`, which fails fast when Redis is away (the fan-out connections wait forever).
    await this.redis.commands.publish(this.revokedChannel, tokenHash);
  }
}
