import { ConflictException, Inject, Injectable, NotFoundException, UnprocessableEntityException } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import type { Agent, CreateAgentRequest, Position } from '../contract/index.js';
import { CreateAgentRequestSchema } from '../contract/index.js';
import { DatabaseService } from '../database/database.service.js';
import { EventBus } from '../events/event-bus.service.js';
import { AuthService } from '../auth/auth.service.js';
import { generateAgentToken, hashToken } from '../auth/tokens.js';
import type { ListQuery } from '../http/list-query.js';
import { VILLAGE_MAP } from '../world/world-map.provider.js';
import { slugify, type VillageMap } from '../world/village-map.js';
import { AGENT_COLUMNS, toAgent, type AgentRow } from './agent-record.js';

export const AGENT_SORT_FIELDS = ['id', 'displayName', 'createdAt', 'lastSeenAt', 'online'] as const;
export type AgentSortField = (typeof AGENT_SORT_FIELDS)[number];
const SORT_COLUMNS: Record<AgentSortField, string> = {
  id: 'id',
  displayName: 'display_name',
  createdAt: 'created_at',
  lastSeenAt: 'last_seen_at',
  online: 'online',
};

/** The spawn point when none is given. */
export const DEFAULT_SPAWN_LANDMARK = 'town-square';

@Injectable()
export class AgentsService {
  constructor(
    private readonly database: DatabaseService,
    private readonly events: EventBus,
    private readonly auth: AuthService,
    @Inject(VILLAGE_MAP) private readonly map: VillageMap,
  ) {}

  async get(id: string): Promise<Agent> {
    const { rows } = await this.database.query<AgentRow>(`SELECT ${AGENT_COLUMNS} FROM agents WHERE id = $1`, [id]);
    if (!rows[0]) throw new NotFoundException(`there is no agent with id "${id}"`);
    return toAgent(rows[0], this.map);
  }

  async all(): Promise<Agent[]> {
    const { rows } = await this.database.query<AgentRow>(`SELECT ${AGENT_COLUMNS} FROM agents ORDER BY id`);
    return rows.map((row) => toAgent(row, this.map));
  }

  /** A page of agents. Filters: `id` (one or many), `q` (name or persona), `online`, `builtIn`. */
  async list(query: ListQuery<AgentSortField>): Promise<{ items: Agent[]; total: number }> {
    const where: string[] = [];
    const values: unknown[] = [];
    const { filter } = query;
    if (filter.id !== undefined) {
      values.push(Array.isArray(filter.id) ? filter.id.map(String) : [String(filter.id)]);
      where.push(`id = ANY($${values.length})`);
    }
    if (typeof filter.q === 'string' && filter.q.trim()) {
      values.push(`%${filter.q.trim().replace(/[\\%_]/g, '\\$&')}%`);
      where.push(
        `(display_name ILIKE $${values.length} OR persona ILIKE $${values.length} OR id ILIKE $${values.length})`,
      );
    }
    for (const [key, column] of [
      ['online', 'online'],
      ['builtIn', 'built_in'],
    ] as const) {
      if (filter[key] !== undefined) {
        values.push(filter[key] === true || filter[key] === 'true');
        where.push(`${column} = $${values.length}`);
      }
    }
    const condition = where.length ? `WHERE ${where.join(' AND ')}` : '';
    const order = `${SORT_COLUMNS[query.sort.field]} ${query.sort.order === 'ASC' ? 'ASC' : 'DESC'} NULLS LAST, id`;
    const [page, count] = await Promise.all([
      this.database.query<AgentRow>(
        `SELECT ${AGENT_COLUMNS} FROM agents ${condition} ORDER BY ${order} LIMIT ${query.limit} OFFSET ${query.offset}`,
        values,
      ),
      this.database.query<{ total: string }>(`SELECT count(*) AS total FROM agents ${condition}`, values),
    ]);
    return { items: page.rows.map((row) => toAgent(row, this.map)), total: Number(count.rows[0]?.total ?? 0) };
  }

  /** Creates an agent; the answer carries its bearer token, which is never shown again. */
  async create(request: CreateAgentRequest, options: { builtIn?: boolean } = {}): Promise<Agent & { token: string }> {
    const body = CreateAgentRequestSchema.parse(request);
    const spawn = this.spawnPoint(body.spawn);
    const id = body.id ?? (await this.freeIdFor(body.displayName));
    const token = generateAgentToken();
    const { rows } = await this.database.query<AgentRow>(
      `INSERT INTO agents (id, display_name, persona, x, y, token_hash, built_in)
       VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (id) DO NOTHING
       RETURNING ${AGENT_COLUMNS}`,
      [id, body.displayName, body.persona, spawn.x, spawn.y, hashToken(token), options.builtIn ?? false],
    );
    if (!rows[0]) throw new ConflictException(`an agent with id "${id}" already exists`);
    const agent = toAgent(rows[0], this.map);
    await this.events.publish([{ type: 'agent.created', agent }]);
    return { ...agent, token };
  }

  /** Issues a new token; the old one stops working (within seconds on other replicas). */
  async rotateToken(id: string): Promise<string> {
    const token = generateAgentToken();
    const { rows } = await this.database.query<{ old: string }>(
      `UPDATE agents a SET token_hash = $2, updated_at = now()
         FROM (SELECT token_hash AS old FROM agents WHERE id = $1 FOR UPDATE) before
        WHERE a.id = $1 RETURNING before.old`,
      [id, hashToken(token)],
    );
    if (!rows[0]) throw new NotFoundException(`there is no agent with id "${id}"`);
    this.auth.forget(rows[0].old);
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
    const base = slugify(displayName).slice(0, 40) || 'agent';
    const { rows } = await this.database.query('SELECT 1 FROM agents WHERE id = $1', [base]);
    return rows.length === 0 && base.length >= 2 ? base : `${base}-${randomBytes(3).toString('hex')}`;
  }
}
