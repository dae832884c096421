import {
  BadRequestException,
  ConflictException,
  ForbiddenException,
  Inject,
  Injectable,
  NotFoundException,
  UnauthorizedException,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type pg from 'pg';
import { AccessTokens } from '../auth/access-tokens.js';
import { AuthService } from '../auth/auth.service.js';
import { isAdmin, type Principal } from '../auth/principal.js';
import { hashToken } from '../auth/tokens.js';
import { AuditService } from '../audit/audit.service.js';
import { CONFIG, type Config } from '../config/config.js';
import type {
  BanRequest,
  Role,
  Session,
  SessionKind,
  SignInCommand,
  SignUpCommand,
  UpdateUserRequest,
  User,
  UserDetails,
} from '../contract/index.js';
import { DatabaseService } from '../database/database.service.js';
import { whereClause } from '../database/sql-filter.js';
import type { ListQuery } from '../http/list-query.js';
import { LOGGER } from '../logging/logger.js';
import { hashPassword, passwordMatches } from './passwords.js';

/** Presenting the previous refresh token this soon after it rotated is two tabs racing, not theft. */
const ROTATION_GRACE_MS = 10_000;

export const USER_SORT_FIELDS = ['handle', 'displayName', 'role', 'createdAt'] as const;
export type UserSortField = (typeof USER_SORT_FIELDS)[number];
const SORT_COLUMNS: Record<UserSortField, string> = {
  handle: 'handle',
  displayName: 'display_name',
  role: 'role',
  createdAt: 'created_at',
};

export interface RequestContext {
  userAgent?: string | undefined;
  requestId?: string | undefined;
}

/** A new or refreshed session: what the client gets, plus the refresh token to hand over. */
export interface IssuedSession {
  session: Session;
  refreshToken: string;
  kind: SessionKind;
}

/** Human accounts, their sessions (sign-up, sign-in, refresh, sign-out), roles and bans. */
@Injectable()
export class PeopleService implements OnApplicationBootstrap {
  constructor(
    @Inject(CONFIG) private readonly config: Config,
    private readonly database: DatabaseService,
    private readonly accessTokens: AccessTokens,
    private readonly auth: AuthService,
    private readonly audit: AuditService,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  /** The first admin comes from configuration: created at start when no account has that email. */
  async onApplicationBootstrap() {
    const email = this.config.VILLAGE_ADMIN_EMAIL;
    const password = this.config.VILLAGE_ADMIN_PASSWORD;
    if (!email || !password) return;
    const passwordHash = await hashPassword(password);
    await this.database.transaction(async (client) => {
      const { rows } = await client.query<UserRow>(
        `INSERT INTO users (handle, display_name, email, password_hash, role)
         VALUES ($1, 'Administrator', $2, $3, 'admin')
         ON CONFLICT DO NOTHING RETURNING *`,
        [this.config.VILLAGE_ADMIN_HANDLE, email, passwordHash],
      );
      if (rows[0]) {
        await this.audit.record(client, {
          actor: undefined,
          action: 'user.created_from_config',
          subject: { type: 'user', id: rows[0].id },
          after: toUserDetails(rows[0]),
        });
        this.logger.info({ email, handle: rows[0].handle }, 'created the first admin from configuration');
      } else {
        const { rowCount } = await client.query('SELECT 1 FROM users WHERE email = $1', [email]);
        if (!rowCount) {
          this.logger.error(
            { email, handle: this.config.VILLAGE_ADMIN_HANDLE },
            'could not create the first admin: VILLAGE_ADMIN_HANDLE is taken by another account; choose another',
          );
        }
      }
    });
  }

  async signUp(command: SignUpCommand, context: RequestContext): Promise<IssuedSession> {
    const passwordHash = await hashPassword(command.password);
    return this.database.transaction(async (client) => {
      const taken = await client.query(
        `SELECT 'agent' AS what FROM agents WHERE id = $1
         UNION ALL SELECT 'handle' FROM users WHERE handle = $1
         UNION ALL SELECT 'email' FROM users WHERE email = $2`,
        [command.handle, command.email],
      );
      const what = taken.rows[0]?.what as string | undefined;
      if (what === 'email') throw new ConflictException('an account with this email already exists: sign in instead');
      if (what) throw new ConflictException(`the handle "${command.handle}" is taken; choose another`);
      const { rows } = await client
        .query<UserRow>(
          `INSERT INTO users (handle, display_name, email, password_hash) VALUES ($1, $2, $3, $4) RETURNING *`,
          [command.handle, command.displayName ?? command.handle, command.email, passwordHash],
        )
        .catch((error: unknown) => {
          // Two sign-ups with the same handle or email at once: the unique index decides.
          if ((error as { code?: string }).code === '23505')
            throw new ConflictException('this handle or email was just taken');
          throw error;
        });
      const user = rows[0]!;
      await this.audit.record(client, {
        actor: undefined,
        action: 'user.signed_up',
        subject: { type: 'user', id: user.id },
        after: toUserDetails(user),
        requestId: context.requestId,
      });
      return this.startSession(client, user, command.session, context);
    });
  }

  async signIn(command: SignInCommand, context: RequestContext): Promise<IssuedSession> {
    const { rows } = await this.database.query<UserRow>('SELECT * FROM users WHERE handle = $1 OR email = $1', [
      command.login,
    ]);
    const user = rows[0];
    if (!(await passwordMatches(user?.password_hash, command.password)) || !user) {
      throw new UnauthorizedException('wrong handle, email or password');
    }
    refuseIfBanned(user);
    return this.database.transaction((client) => this.startSession(client, user, command.session, context));
  }

  /** Swaps a refresh token for a new one and a fresh access token. */
  async refresh(refreshToken: string): Promise<IssuedSession> {
    const hash = hashToken(refreshToken);
    const outcome = await this.database.transaction(async (client): Promise<IssuedSession | { reused: string }> => {
      const { rows } = await client.query<SessionRow & UserRow>(
        `SELECT s.id AS session_id, s.kind, s.expires_at, s.revoked_at, s.rotated_at, s.refresh_hash, u.*
           FROM user_sessions s JOIN users u ON u.id = s.user_id
          WHERE s.refresh_hash = $1 OR s.previous_hash = $1
          FOR UPDATE OF s`,
        [hash],
      );
      const row = rows[0];
      if (!row || row.revoked_at || row.expires_at.getTime() <= Date.now()) {
        throw new UnauthorizedException('the session has ended: sign in again');
      }
      if (row.refresh_hash !== hash) {
        if (row.rotated_at && Date.now() - row.rotated_at.getTime() < ROTATION_GRACE_MS) {
          throw new ConflictException('this refresh token was just used; use the newer one');
        }
        // An old refresh token came back: someone kept a copy. End the session for both holders.
        await this.endSession(client, row.session_id, 'refresh token reused');
        this.logger.warn({ userId: row.id, sessionId: row.session_id }, 'refresh token reuse: session revoked');
        return { reused: row.session_id };
      }
      refuseIfBanned(row);
      const next = generateRefreshToken();
      await client.query(
        `UPDATE user_sessions SET refresh_hash = $2, previous_hash = $3, rotated_at = now(),
                expires_at = now() + make_interval(days => $4)
          WHERE id = $1`,
        [row.session_id, hashToken(next), hash, this.config.VILLAGE_SESSION_DAYS],
      );
      return this.issue(row, row.session_id, row.kind, next);
    });
    // After the commit, so that the session stays ended and no replica caches it alive meanwhile.
    if ('reused' in outcome) {
      await this.auth.revokeSession(outcome.reused);
      throw new UnauthorizedException(
        'this refresh token was already used, so the session has been ended: sign in again',
      );
    }
    return outcome;
  }

  /** Ends the session of this refresh token (or access token's session); quietly does nothing for an unknown one. */
  async signOut(refreshToken: string | undefined, principal: Principal | undefined) {
    const { rows } = await this.database.query<{ id: string }>(
      `UPDATE user_sessions SET revoked_at = now(), revoked_reason = 'signed out'
        WHERE (refresh_hash = $1 OR id = $2::uuid) AND revoked_at IS NULL RETURNING id`,
      [refreshToken ? hashToken(refreshToken) : null, principal?.kind === 'user' ? principal.sessionId : null],
    );
    for (const row of rows) await this.auth.revokeSession(row.id);
  }

  async get(id: string): Promise<UserDetails> {
    return toUserDetails(await this.row(this.database.pool, id));
  }

  /** Filters: q (handle, name or email), role, banned (true/false), id. */
  async list(query: ListQuery<UserSortField>): Promise<{ items: UserDetails[]; total: number }> {
    const { q, banned, ...rest } = query.filter;
    const { sql, values } = whereClause(rest, { id: 'id', role: 'role', handle: 'handle' });
    const conditions = sql ? [sql.slice('WHERE '.length)] : [];
    if (typeof q === 'string' && q.trim()) {
      values.push(
        `%${q
          .trim()
          .toLowerCase()
          .replace(/[\\%_]/g, '\\$&')}%`,
      );
      const n = values.length;
      conditions.push(`(handle LIKE $${n} OR lower(display_name) LIKE $${n} OR email LIKE $${n})`);
    }
    if (banned !== undefined) conditions.push(`(ban_reason IS NOT NULL) = ${banned === true || banned === 'true'}`);
    const where = conditions.length ? `WHERE ${conditions.join(' AND ')}` : '';
    const order = `${SORT_COLUMNS[query.sort.field]} ${query.sort.order}, id`;
    const [page, count] = await Promise.all([
      this.database.query<UserRow>(
        `SELECT * FROM users ${where} ORDER BY ${order} OFFSET $${values.length + 1} LIMIT $${values.length + 2}`,
        [...values, query.offset, query.limit],
      ),
      this.database.query<{ total: number }>(`SELECT count(*)::int AS total FROM users ${where}`, values),
    ]);
    return { items: page.rows.map(toUserDetails), total: count.rows[0]!.total };
  }

  /** Admins change roles (never their own) and display names. */
  async update(id: string, change: UpdateUserRequest, actor: Principal, context: RequestContext): Promise<UserDetails> {
    if (change.role && actor.kind === 'user' && actor.userId === id) {
      throw new ForbiddenException('you cannot change your own role; ask another admin');
    }
    return this.changeUser(id, actor, 'user.updated', context, null, async (client, before) => {
      const { rows } = await client.query<UserRow>(
        `UPDATE users SET role = coalesce($2, role), display_name = coalesce($3, display_name), updated_at = now()
          WHERE id = $1 RETURNING *`,
        [before.id, change.role ?? null, change.displayName ?? null],
      );
      return rows[0]!;
    });
  }

  /** Moderators ban humans; admins also ban moderators. Nobody bans an admin (demote first). */
  async ban(id: string, request: BanRequest, actor: Principal, context: RequestContext): Promise<UserDetails> {
    return this.changeUser(id, actor, 'user.banned', context, request.reason, async (client, before) => {
      refuseOutranked(actor, before, 'ban');
      const until = request.until ? new Date(request.until) : null;
      if (until && until.getTime() <= Date.now())
        throw new BadRequestException('invalid request body: until must be in the future');
      const { rows } = await client.query<UserRow>(
        `UPDATE users SET banned_at = now(), banned_until = $2, ban_reason = $3, banned_by = $4, updated_at = now()
          WHERE id = $1 RETURNING *`,
        [before.id, until, request.reason, actorName(actor)],
      );
      return rows[0]!;
    });
  }

  async unban(id: string, actor: Principal, context: RequestContext): Promise<UserDetails> {
    return this.changeUser(id, actor, 'user.unbanned', context, null, async (client, before) => {
      refuseOutranked(actor, before, 'unban');
      const { rows } = await client.query<UserRow>(
        `UPDATE users SET banned_at = NULL, banned_until = NULL, ban_reason = NULL, banned_by = NULL, updated_at = now()
          WHERE id = $1 RETURNING *`,
        [before.id],
      );
      return rows[0]!;
    });
  }

  /** One audited change to a user, then every replica rereads their sessions. */
  private async changeUser(
    id: string,
    actor: Principal,
    action: string,
    context: RequestContext,
    reason: string | null,
    change: (client: pg.PoolClient, before: UserRow) => Promise<UserRow>,
  ): Promise<UserDetails> {
    const after = await this.database.transaction(async (client) => {
      const before = await this.row(client, id, true);
      const updated = await change(client, before);
      await this.audit.record(client, {
        actor,
        action,
        subject: { type: 'user', id },
        before: toUserDetails(before),
        after: toUserDetails(updated),
        reason,
        requestId: context.requestId,
      });
      return updated;
    });
    await this.auth.forgetUser(id);
    return toUserDetails(after);
  }

  private async row(client: Pick<pg.PoolClient, 'query'>, id: string, forUpdate = false): Promise<UserRow> {
    const { rows } = /^[0-9a-f-]{36}$/i.test(id)
      ? await client.query<UserRow>(`SELECT * FROM users WHERE id = $1 ${forUpdate ? 'FOR UPDATE' : ''}`, [id])
      : { rows: [] };
    if (!rows[0]) throw new NotFoundException(`there is no user with id "${id}"`);
    return rows[0];
  }

  private async startSession(
    client: pg.PoolClient,
    user: UserRow,
    kind: SessionKind,
    context: RequestContext,
  ): Promise<IssuedSession> {
    const refreshToken = generateRefreshToken();
    const { rows } = await client.query<{ id: string }>(
      `INSERT INTO user_sessions (user_id, kind, refresh_hash, expires_at, user_agent)
       VALUES ($1, $2, $3, now() + make_interval(days => $4), $5) RETURNING id`,
      [
        user.id,
        kind,
        hashToken(refreshToken),
        this.config.VILLAGE_SESSION_DAYS,
        context.userAgent?.slice(0, 300) ?? null,
      ],
    );
    return this.issue(user, rows[0]!.id, kind, refreshToken);
  }

  private async issue(
    user: UserRow,
    sessionId: string,
    kind: SessionKind,
    refreshToken: string,
  ): Promise<IssuedSession> {
    const access = await this.accessTokens.issue({ userId: user.id, sessionId });
    const session: Session = {
      user: toUser(user),
      accessToken: access.token,
      accessTokenExpiresAt: access.expiresAt.toISOString(),
      ...(kind === 'bearer' ? { refreshToken } : {}),
    };
    return { session, refreshToken, kind };
  }

  /** Ends a session in the database; the caller tells the replicas after the commit. */
  private async endSession(client: pg.PoolClient, sessionId: string, reason: string) {
    await client.query(`UPDATE user_sessions SET revoked_at = now(), revoked_reason = $2 WHERE id = $1`, [
      sessionId,
      reason,
    ]);
  }
}

interface UserRow {
  id: string;
  handle: string;
  display_name: string;
  email: string;
  password_hash: string;
  role: Role;
  banned_at: Date | null;
  banned_until: Date | null;
  ban_reason: string | null;
  banned_by: string | null;
  created_at: Date;
}

interface SessionRow {
  session_id: string;
  kind: SessionKind;
  expires_at: Date;
  revoked_at: Date | null;
  rotated_at: Date | null;
  refresh_hash: string;
}

function generateRefreshToken(): string {
  return `vrt_${randomBytes(32).toString('base64url')}`;
}

function activeBan(row: UserRow) {
  if (row.ban_reason === null) return null;
  if (row.banned_until && row.banned_until.getTime() <= Date.now()) return null;
  return {
    reason: row.ban_reason,
    at: (row.banned_at ?? row.created_at).toISOString(),
    by: row.banned_by ?? 'a moderator',
    until: row.banned_until?.toISOString() ?? null,
  };
}

function refuseIfBanned(row: UserRow) {
  const ban = activeBan(row);
  if (ban) throw new ForbiddenException(`you are banned${ban.until ? ` until ${ban.until}` : ''}: ${ban.reason}`);
}

/** Moderators ban and unban humans; admins also moderators; nobody an admin (demote first). */
function refuseOutranked(actor: Principal, target: UserRow, what: 'ban' | 'unban') {
  const rank: Record<Role, number> = { human: 0, moderator: 1, admin: 2 };
  if (rank[target.role] >= (isAdmin(actor) ? 2 : 1)) {
    throw new ForbiddenException(`you cannot ${what} someone whose role is ${target.role}`);
  }
}

function actorName(actor: Principal): string {
  return actor.kind === 'user' ? actor.handle : actor.kind === 'agent' ? actor.agentId : 'admin';
}

export function toUser(row: UserRow): User {
  return {
    id: row.id,
    handle: row.handle,
    displayName: row.display_name,
    role: row.role,
    ban: activeBan(row),
    createdAt: row.created_at.toISOString(),
  };
}

function toUserDetails(row: UserRow): UserDetails {
  return { ...toUser(row), email: row.email };
}
