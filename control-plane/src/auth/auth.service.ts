import { Inject, Injectable } from '@nestjs/common';
import { CONFIG, type Config } from '../config/config.js';
import { DatabaseService } from '../database/database.service.js';
import type { Principal } from './principal.js';
import { hashToken, sameSecret } from './tokens.js';

// A revoked token stops working within this long on every replica.
const TOKEN_CACHE_MS = 5_000;

/** Turns a bearer token into a principal. Agent tokens are looked up by hash, briefly cached. */
@Injectable()
export class AuthService {
  private readonly cache = new Map<string, { agentId: string | null; until: number }>();

  constructor(
    @Inject(CONFIG) private readonly config: Config,
    private readonly database: DatabaseService,
  ) {}

  async authenticate(token: string): Promise<Principal | undefined> {
    const adminToken = this.config.VILLAGE_ADMIN_TOKEN;
    if (adminToken && sameSecret(token, adminToken)) return { kind: 'admin' };
    const hash = hashToken(token);
    const now = Date.now();
    let cached = this.cache.get(hash);
    if (!cached || cached.until < now) {
      const { rows } = await this.database.query<{ id: string }>('SELECT id FROM agents WHERE token_hash = $1', [hash]);
      cached = { agentId: rows[0]?.id ?? null, until: now + TOKEN_CACHE_MS };
      if (this.cache.size > 10_000) this.cache.clear();
      this.cache.set(hash, cached);
    }
    return cached.agentId ? { kind: 'agent', agentId: cached.agentId } : undefined;
  }

  forget(tokenHash: string) {
    this.cache.delete(tokenHash);
  }
}
