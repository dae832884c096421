import { ConflictException, Inject, Injectable, NotFoundException, UnprocessableEntityException } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import type { Agent, CreateAgentCommand, Position, UpdateAgentCommand } from '../contract/index.js';
import { slugify } from '../contract/index.js';
import { DatabaseService } from '../database/database.service.js';
import { EventBus } from '../events/event-bus.service.js';
import { AuthService } from '../auth/auth.service.js';
import { AuditService } from '../audit/audit.service.js';
import type { Principal } from '../auth/principal.js';
import { generateAgentToken, hashToken } from '../auth/tokens.js';
import type { ListQuery } from '../http/list-query.js';
import { VILLAGE_MAP } from '../world/world-map.provider.js';
import type { VillageMap } from '../world/village-map.js';
import type { Prisma } from '../generated/prisma/client.js';
import { toAgent } from './agent-record.js';

export const AGENT_SORT_FIELDS = ['id', 'displayName', 'createdAt', 'lastSeenAt', 'online'] as const;
export type AgentSortField = (typeof AGENT_SORT_FIELDS)[number];

/** The spawn point when none is given. */
export const DEFAULT_SPAWN_LANDMARK = 'town-square';

@Injectable()
export class AgentsService {
  constructor(
    private readonly database: DatabaseService,
    private readonly events: EventBus,
    private readonly auth: AuthService,
    private readonly audit: AuditService,
    @Inject(VILLAGE_MAP) private readonly map: VillageMap,
  ) {}

  async get(id: string): Promise<Agent> {
    const row = await this.database.prisma.agent.findUnique({ where: { id } });
    if (!row) throw new NotFoundException(`there is no agent with id "${id}"`);
    return toAgent(row, this.map);
  }

  async all(): Promise<Agent[]> {
    const rows = await this.database.prisma.agent.findMany({ orderBy: { id: 'asc' } });
    return rows.map((row) => toAgent(row, this.map));
  }

  /** A page of agents. Filters: `id` (one or many), `q` (name, persona or id), `online`, `builtIn`. */
  async list(query: ListQuery<AgentSortField>): Promise<{ items: Agent[]; total: number }> {
    const where = agentFilter(query.filter);
    const order = query.sort.order === 'ASC' ? 'asc' : 'desc';
    const [rows, total] = await Promise.all([
      this.database.prisma.agent.findMany({
        where,
        orderBy: [
          query.sort.field === 'lastSeenAt'
            ? { lastSeenAt: { sort: order, nulls: 'last' } }
            : { [query.sort.field]: order },
          { id: 'asc' },
        ],
        skip: query.offset,
        take: query.limit,
      }),
      this.database.prisma.agent.count({ where }),
    ]);
    return { items: rows.map((row) => toAgent(row, this.map)), total };
  }

  /** Creates an agent; the answer carries its bearer token, which is never shown again. */
  /** `body` is validated by the caller (the controller's pipe, the launcher) against the contract. */
  async create(body: CreateAgentCommand, options: { builtIn?: boolean } = {}): Promise<Agent & { token: string }> {
    const spawn = this.spawnPoint(body.spawn);
    const token = generateAgentToken();
    const data = {
      displayName: body.displayName,
      persona: body.persona,
      x: spawn.x,
      y: spawn.y,
      tokenHash: hashToken(token),
      builtIn: options.builtIn ?? false,
    };
    // An id derived from the name may be taken meanwhile: then try a suffixed one.
    for (let attempt = 0; ; attempt++) {
      const id = body.id ?? (attempt === 0 ? await this.freeIdFor(body.displayName) : suffixed(body.displayName));
      // Agent ids and people's handles share one namespace: an @mention must name exactly one of them.
      if (body.id !== undefined && (await this.database.prisma.user.count({ where: { handle: id } }))) {
        throw new ConflictException(`the id "${id}" is taken by a person's handle`);
      }
      try {
        const row = await this.database.prisma.agent.create({ data: { id, ...data } });
        const agent = toAgent(row, this.map);
        await this.events.publish([{ type: 'agent.created', agent }]);
        return { ...agent, token };
      } catch (error) {
        if (!isUniqueViolation(error)) throw error;
        if (body.id !== undefined || attempt >= 3)
          throw new ConflictException(`an agent with id "${id}" already exists`);
      }
    }
  }

  /** An admin renames an agent or rewrites its persona; audited, and announced as `agent.updated`. */
  async update(
    id: string,
    change: UpdateAgentCommand,
    actor: Principal,
    requestId: string | undefined,
  ): Promise<Agent> {
    await this.database.transaction(async (client) => {
      const { rows } = await client.query<{ displayName: string; persona: string }>(
        'SELECT display_name AS "displayName", persona FROM agents WHERE id = $1 FOR UPDATE',
        [id],
      );
      if (!rows[0]) throw new NotFoundException(`there is no agent with id "${id}"`);
      const after = { ...rows[0], ...change };
      await client.query('UPDATE agents SET display_name = $2, persona = $3, updated_at = now() WHERE id = $1', [
        id,
        after.displayName,
        after.persona,
      ]);
      await this.audit.record(client, {
        actor,
        action: 'agent.updated',
        subject: { type: 'agent', id },
        before: rows[0],
        after,
        requestId,
      });
    });
    const agent = await this.get(id);
    await this.events.publish([{ type: 'agent.updated', agentId: id, agent }]);
    return agent;
  }

  /** Issues a new token; the old one stops working at once on every replica. */
  async rotateToken(id: string): Promise<string> {
    const token = generateAgentToken();
    const { rows } = await this.database.query<{ old: string }>(
      `UPDATE agents a SET token_hash = $2, updated_at = now()
         FROM (SELECT token_hash AS old FROM agents WHERE id = $1 FOR UPDATE) before
        WHERE a.id = $1 RETURNING before.old`,
      [id, hashToken(token)],
    );
    if (!rows[0]) throw new NotFoundException(`there is no agent with id "${id}"`);
    await this.auth.revokeToken(rows[0].old);
    return token;
  }

  private spawnPoint(spawn: { landmark: string } | { x: number; y: number } | undefined): Position {
    if (spawn && 'x' in spawn) {
      const problem = this.map.whyNotWalkable(spawn.x, spawn.y);
      if (problem) throw new UnprocessableEntityException(`cannot spawn there: ${problem}`);
      return { x: spawn.x, y: spawn.y };
    }
    const landmarkId = spawn?.landmark ?? DEFAULT_SPAWN_LANDMARK;
    const landmark = this.map.landmark(landmarkId) ?? (spawn ? undefined : this.map.landmarks[0]);
    if (!landmark) throw new UnprocessableEntityException(`there is no landmark "${landmarkId}"`);
    return landmark.entrance;
  }

  private async freeIdFor(displayName: string): Promise<string> {
    const base = idBase(displayName);
    const [agents, people] = await Promise.all([
      this.database.prisma.agent.count({ where: { id: base } }),
      this.database.prisma.user.count({ where: { handle: base } }),
    ]);
    return agents + people === 0 && base.length >= 2 ? base : suffixed(displayName);
  }
}

const idBase = (displayName: string) => slugify(displayName).slice(0, 40) || 'agent';
const suffixed = (displayName: string) => `${idBase(displayName)}-${randomBytes(3).toString('hex')}`;

function isUniqueViolation(error: unknown): boolean {
  return (error as { code?: unknown }).code === 'P2002';
}

function agentFilter(filter: Record<string, unknown>): Prisma.AgentWhereInput {
  const where: Prisma.AgentWhereInput = {};
  if (filter.id !== undefined)
    where.id = { in: Array.isArray(filter.id) ? filter.id.map(String) : [String(filter.id)] };
  if (typeof filter.q === 'string' && filter.q.trim()) {
    // Literal text: LIKE's wildcards and escape character are escaped.
    const contains = filter.q.trim().replace(/[\\%_]/g, '\\$&');
    where.OR = (['displayName', 'persona', 'id'] as const).map((field) => ({
      [field]: { contains, mode: 'insensitive' },
    }));
  }
  if (filter.online !== undefined) where.online = filter.online === true || filter.online === 'true';
  if (filter.builtIn !== undefined) where.builtIn = filter.builtIn === true || filter.builtIn === 'true';
  return where;
}
