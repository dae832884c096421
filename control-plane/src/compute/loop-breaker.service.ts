import { ConflictException, Inject, Injectable } from '@nestjs/common';
import { formatAiDollars, type PausedAgent } from '../contract/index.js';
import { AuditService } from '../audit/audit.service.js';
import type { Principal } from '../auth/principal.js';
import { authorOf } from '../auth/principal.js';
import { CONFIG, type Config } from '../config/config.js';
import { DatabaseService } from '../database/database.service.js';
import { EventBus } from '../events/event-bus.service.js';
import type { ListQuery } from '../http/list-query.js';
import { RedisService } from '../redis/redis.service.js';

export const PAUSED_AGENT_SORT_FIELDS = ['pausedAt', 'id'] as const;
type PausedAgentSortField = (typeof PAUSED_AGENT_SORT_FIELDS)[number];

/** KEYS: the agent's spend counter prefix. ARGV: mills, window ms. Returns the window's total. */
const ADD_SPEND = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local key = KEYS[1] .. math.floor(now / tonumber(ARGV[2]))
local total = redis.call('INCRBY', key, ARGV[1])
redis.call('PEXPIRE', key, tonumber(ARGV[2]) + 1000)
return total`;

/**
 * Stops an agent that spends faster than VILLAGE_LLM_SPEND_LIMIT per VILLAGE_LLM_SPEND_WINDOW_S
 * (a tool loop burning its balance): its LLM calls are refused until a moderator resumes it. The
 * pause is recorded on the agent (`agent_tiers.paused_at`), audited, announced on the stream, and
 * waits in the moderators' list of paused agents (`GET /api/llm/paused-agents`, the console's
 * dashboard) until one of them resumes it.
 */
@Injectable()
export class LoopBreaker {
  constructor(
    private readonly database: DatabaseService,
    private readonly redis: RedisService,
    private readonly events: EventBus,
    private readonly audit: AuditService,
    @Inject(CONFIG) private readonly config: Config,
  ) {}

  /** Counts what a call cost; pauses the agent when the window's spending passes the limit. */
  async recordSpend(agentId: string, mills: number): Promise<void> {
    if (mills <= 0) return;
    const windowMs = this.config.VILLAGE_LLM_SPEND_WINDOW_S * 1000;
    const total = (await this.redis.commands.eval(
      ADD_SPEND,
      1,
      this.redis.key(`llm:spend:${agentId}:`),
      mills,
      windowMs,
    )) as number;
    const limit = this.config.VILLAGE_LLM_SPEND_LIMIT;
    if (total <= limit) return;
    await this.pause(
      agentId,
      `spent ${formatAiDollars(total)} aiDollars on LLM calls within ${this.config.VILLAGE_LLM_SPEND_WINDOW_S} s ` +
        `(the limit is ${formatAiDollars(limit)})`,
    );
  }

  /** Pauses the agent's LLM calls (the loop breaker, or a moderator); false when already paused. */
  async pause(agentId: string, reason: string, principal?: Principal): Promise<boolean> {
    const paused = await this.database.transaction(async (client) => {
      const { rowCount } = await client.query(
        'UPDATE agent_tiers SET paused_at = now(), paused_reason = $2 WHERE agent_id = $1 AND paused_at IS NULL',
        [agentId, reason],
      );
      if (!rowCount) return false;
      await this.audit.record(client, {
        actor: principal,
        action: 'agent.compute_paused',
        subject: { type: 'agent', id: agentId },
        reason,
      });
      return true;
    });
    if (paused) await this.events.publish([{ type: 'agent.compute_paused', agentId, reason }]);
    return paused;
  }

  /** The agents paused now (by default longest-paused first): the moderators' queue. */
  async paused(list: ListQuery<PausedAgentSortField>): Promise<{ items: PausedAgent[]; total: number }> {
    const column = list.sort.field === 'id' ? 't.agent_id' : 't.paused_at';
    const [page, count] = await Promise.all([
      this.database.query<{ agent_id: string; display_name: string; paused_at: Date; paused_reason: string | null }>(
        `SELECT t.agent_id, a.display_name, t.paused_at, t.paused_reason
           FROM agent_tiers t JOIN agents a ON a.id = t.agent_id
          WHERE t.paused_at IS NOT NULL
          ORDER BY ${column} ${list.sort.order}, t.agent_id OFFSET $1 LIMIT $2`,
        [list.offset, list.limit],
      ),
      this.database.query<{ total: string }>('SELECT count(*) AS total FROM agent_tiers WHERE paused_at IS NOT NULL'),
    ]);
    return {
      total: Number(count.rows[0]!.total),
      items: page.rows.map((row) => ({
        id: row.agent_id,
        displayName: row.display_name,
        pausedAt: row.paused_at.toISOString(),
        reason: row.paused_reason ?? '',
      })),
    };
  }

  /** A moderator lets the agent think again (its spending window starts afresh). */
  async resume(agentId: string, reason: string, principal: Principal): Promise<void> {
    const resumed = await this.database.transaction(async (client) => {
      const { rows } = await client.query<{ paused_reason: string }>(
        `UPDATE agent_tiers t SET paused_at = NULL, paused_reason = NULL FROM agent_tiers old
          WHERE t.agent_id = $1 AND old.agent_id = t.agent_id AND old.paused_at IS NOT NULL
          RETURNING old.paused_reason`,
        [agentId],
      );
      if (!rows[0]) return false;
      await this.audit.record(client, {
        actor: principal,
        action: 'agent.compute_resumed',
        subject: { type: 'agent', id: agentId },
        before: { pausedReason: rows[0].paused_reason },
        reason,
      });
      return true;
    });
    if (!resumed) throw new ConflictException(`agent ${agentId}'s compute is not paused`);
    const windows = this.redis.commands.scanStream({ match: this.redis.key(`llm:spend:${agentId}:*`), count: 100 });
    for await (const keys of windows as AsyncIterable<string[]>)
      if (keys.length) await this.redis.commands.del(...keys);
    const by = authorOf(principal);
    await this.events.publish([{ type: 'agent.compute_resumed', agentId, by: `${by.type}:${by.id}` }]);
  }
}
