import { Inject, Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import type { Logger } from 'pino';
import { CONFIG, type Config } from '../config/config.js';
import { LOGGER } from '../logging/logger.js';
import type { Role } from '../contract/index.js';
import { DatabaseService } from '../database/database.service.js';
import { RedisService } from '../redis/redis.service.js';
import { AccessTokens, looksLikeJwt } from './access-tokens.js';
import type { Principal } from './principal.js';
import { hashToken, isNodeToken, sameSecret } from './tokens.js';

// How long a replica trusts its cached answer for a token or session. A rotated or revoked token,
// a signed-out session and a banned or re-roled person are dropped from every replica's cache at once
// (Redis pub/sub); the expiry only bounds a missed message.
const CACHE_MS = 60_000;
const CACHE_SIZE = 10_000;

type AgentEntry = { agent: { id: string; name: string } | null; until: number };
type NodeEntry = { node: string | null; until: number };
type SessionEntry = { principal: Extract<Principal, { kind: 'user' }> | null; until: number };

/** What a bearer token turned out to be. */
export type Authentication = Principal | 'expired' | undefined;

/**
 * Turns a bearer token into a principal: the admin token, an agent's token (looked up by hash), or a
 * person's access token (a JWT naming a live session). Lookups are cached per replica.
 */
@Injectable()
export class AuthService implements OnApplicationBootstrap {
  private readonly agents = new Map<string, AgentEntry>();
  private readonly nodes = new Map<string, NodeEntry>();
  private readonly sessions = new Map<string, SessionEntry>();

  constructor(
    @Inject(CONFIG) private readonly config: Config,
    private readonly database: DatabaseService,
    private readonly redis: RedisService,
    private readonly accessTokens: AccessTokens,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  private get revokedChannel() {
    return this.redis.key('auth:revoked');
  }

  async onApplicationBootstrap() {
    await this.redis.subscriber.subscribe(this.revokedChannel);
    this.redis.subscriber.on('message', (channel: string, message: string) => {
      if (channel === this.revokedChannel) this.forget(message);
    });
  }

  async authenticate(token: string): Promise<Authentication> {
    const adminToken = this.config.VILLAGE_ADMIN_TOKEN;
    if (adminToken && sameSecret(token, adminToken)) return { kind: 'admin' };
    if (looksLikeJwt(token)) return this.person(token);
    if (isNodeToken(token)) {
      const node = await this.node(hashToken(token));
      return node ? { kind: 'node', node } : undefined;
    }
    const agent = await this.agent(hashToken(token));
    return agent ? { kind: 'agent', agentId: agent.id, name: agent.name } : undefined;
  }

  private async agent(hash: string) {
    const now = Date.now();
    let cached = this.agents.get(hash);
    if (!cached || cached.until < now) {
      const { rows } = await this.database.query<{ id: string; name: string }>({
        name: 'auth-agent',
        text: 'SELECT id, display_name AS name FROM agents WHERE token_hash = $1',
        values: [hash],
      });
      cached = { agent: rows[0] ?? null, until: now + CACHE_MS };
      remember(this.agents, hash, cached);
    }
    return cached.agent;
  }

  private async node(hash: string) {
    const now = Date.now();
    let cached = this.nodes.get(hash);
    if (!cached || cached.until < now) {
      const { rows } = await this.database.query<{ name: string }>({
        name: 'auth-node',
        text: 'SELECT name FROM nodes WHERE token_hash = $1',
        values: [hash],
      });
      cached = { node: rows[0]?.name ?? null, until: now + CACHE_MS };
      remember(this.nodes, hash, cached);
    }
    return cached.node;
  }

  private async person(token: string): Promise<Authentication> {
    const claims = await this.accessTokens.verify(token);
    if (!claims || claims === 'expired') return claims;
    const now = Date.now();
    let cached = this.sessions.get(claims.sessionId);
    if (!cached || cached.until < now) {
      const { rows } = await this.database.query<SessionRow>({
        name: 'auth-session',
        text: `SELECT u.id, u.handle, u.display_name, u.role, u.ban_reason, u.banned_until
                 FROM user_sessions s JOIN users u ON u.id = s.user_id
                WHERE s.id = $1 AND s.revoked_at IS NULL AND s.expires_at > now()`,
        values: [claims.sessionId],
      });
      const row = rows[0];
      cached = {
        principal: row && row.id === claims.userId ? toPrincipal(row, claims.sessionId) : null,
        until: now + CACHE_MS,
      };
      remember(this.sessions, claims.sessionId, cached);
    }
    const principal = cached.principal;
    // A ban that has run out ends by itself, without a write.
    if (principal?.ban?.until && Date.parse(principal.ban.until) <= now) return { ...principal, ban: null };
    return principal ?? undefined;
  }

  /** An agent's or a node's token stops being valid: every replica forgets it now. */
  revokeToken(tokenHash: string) {
    return this.broadcast(tokenHash);
  }

  /** A session ended (sign-out, reuse of a stolen refresh token): its access tokens die now. */
  revokeSession(sessionId: string) {
    return this.broadcast(`session:${sessionId}`);
  }

  /** A person's role or ban changed: every replica rereads their sessions. */
  forgetUser(userId: string) {
    return this.broadcast(`user:${userId}`);
  }

  private async broadcast(message: string) {
    this.forget(message);
    // On `commands`, which fails fast when Redis is away (the fan-out connections wait forever). The
    // change is already committed; other replicas then notice it when their cache entry expires.
    await this.redis.commands.publish(this.revokedChannel, message).catch((error: unknown) => {
      this.logger.error({ err: error, message }, `could not tell other replicas; they notice within ${CACHE_MS} ms`);
    });
  }

  private forget(message: string) {
    if (message.startsWith('session:')) this.sessions.delete(message.slice('session:'.length));
    else if (message.startsWith('user:')) {
      const userId = message.slice('user:'.length);
      for (const [sessionId, entry] of this.sessions) {
        if (entry.principal?.userId === userId) this.sessions.delete(sessionId);
      }
    } else {
      this.agents.delete(message);
      this.nodes.delete(message);
    }
  }
}

interface SessionRow {
  id: string;
  handle: string;
  display_name: string;
  role: Role;
  ban_reason: string | null;
  banned_until: Date | null;
}

function toPrincipal(row: SessionRow, sessionId: string): Extract<Principal, { kind: 'user' }> {
  return {
    kind: 'user',
    userId: row.id,
    sessionId,
    handle: row.handle,
    name: row.display_name,
    role: row.role,
    ban: row.ban_reason === null ? null : { reason: row.ban_reason, until: row.banned_until?.toISOString() ?? null },
  };
}

/** Bounded: the oldest entry goes first (a Map keeps insertion order), never the whole cache. */
function remember<V>(cache: Map<string, V>, key: string, value: V) {
  if (cache.size >= CACHE_SIZE) cache.delete(cache.keys().next().value!);
  cache.set(key, value);
}
