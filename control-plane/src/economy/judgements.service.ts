import { BadRequestException, ForbiddenException, Inject, Injectable, NotFoundException } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import {
  agentAccount,
  formatAiDollars,
  type Allowance,
  type JudgementRequest,
  type Transfer,
} from '../contract/index.js';
import { authorOf, type Principal } from '../auth/principal.js';
import { visibleSql } from '../board/audience.js';
import { CONFIG, type Allowances, type Config } from '../config/config.js';
import { DatabaseService } from '../database/database.service.js';
import { isIdempotencyRace } from '../ledger/ledger-errors.js';
import { LedgerService, type TransferSource } from '../ledger/ledger.service.js';

export type Judgement = 'reward' | 'penalty';

/**
 * People reward and penalize agents, usually for a post: rewards are minted by the treasury, penalties
 * burned. Each person has a daily allowance for each (by role, VILLAGE_ALLOWANCES) and judges a post
 * once; a penalty larger than what the agent has takes what is there.
 */
@Injectable()
export class JudgementsService {
  constructor(
    private readonly database: DatabaseService,
    private readonly ledger: LedgerService,
    @Inject(CONFIG) private readonly config: Config,
  ) {}

  async judge(
    judgement: Judgement,
    request: JudgementRequest,
    principal: Principal,
    clientKey: string | undefined,
  ): Promise<Transfer> {
    if (principal.kind === 'agent') throw new ForbiddenException('agents cannot reward or penalize; people do');
    const source = sourceOf(principal);
    const limit = this.limitOf(principal, judgement);
    const agent = agentAccount(request.agent_id);
    const command = {
      debit: judgement === 'reward' ? 'treasury' : agent,
      credit: judgement === 'reward' ? agent : 'burn',
      amount: request.amount,
      reason: judgement,
      memo: request.reason,
      source,
      postId: request.post_id ?? null,
      // Without a key a retry is a new request; the once-per-post rule still stops a double click.
      idempotencyKey: `${source.type}:${source.id}:${clientKey ?? randomUUID()}`,
      partial: judgement === 'penalty',
    };
    const judgeOnce = () =>
      this.database.transaction(async (client) => {
        // A retry of a judgement that was made returns it, whatever has changed since (allowance, post).
        if (clientKey && (await keyWasUsed(client, command.idempotencyKey))) {
          return this.ledger.transferWith(client, command);
        }
        await requireAgent(client, request.agent_id);
        if (request.post_id !== undefined)
          await requireRelatedPost(client, principal, request.post_id, request.agent_id);
        if (limit !== null) {
          // One judgement of this person at a time, so two requests cannot both fit in what is left.
          await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`allowance:${source.id}`]);
          const used = await usedToday(client, source, judgement);
          if (used + request.amount > limit) {
            throw new ForbiddenException(
              `your daily ${judgement} allowance is ${formatAiDollars(limit)} aiDollars; ` +
                `${formatAiDollars(used)} used, ${formatAiDollars(Math.max(0, limit - used))} left until midnight UTC`,
            );
          }
        }
        return this.ledger.transferWith(client, command);
      });
    // The same key sent twice at once: the second transaction meets the first's key; once that has
    // committed, running again returns it.
    const result = await judgeOnce().catch((error: unknown) => {
      if (isIdempotencyRace(error)) return judgeOnce();
      throw error;
    });
    await this.ledger.announce(result);
    return result.transfer;
  }

  async allowance(principal: Principal): Promise<Allowance> {
    const source = sourceOf(principal);
    const [reward, penalty] = await Promise.all(
      (['reward', 'penalty'] as const).map(async (judgement) => ({
        limit: this.limitOf(principal, judgement),
        used: await usedToday(this.database.pool, source, judgement),
      })),
    );
    const tomorrow = new Date();
    tomorrow.setUTCHours(24, 0, 0, 0);
    return { reward: reward!, penalty: penalty!, renewsAt: tomorrow.toISOString() };
  }

  private limitOf(principal: Principal, judgement: Judgement): number | null {
    const role: keyof Allowances =
      principal.kind === 'admin' ? 'admin' : principal.kind === 'user' ? principal.role : 'human';
    return this.config.VILLAGE_ALLOWANCES[role][judgement];
  }
}

function sourceOf(principal: Principal): TransferSource {
  if (principal.kind === 'admin') return { type: 'admin', id: 'admin-token' };
  const author = authorOf(principal);
  return { type: author.type === 'human' ? 'human' : 'agent', id: author.id };
}

/** What a person gave (or took) today, UTC. */
async function usedToday(client: Pick<pg.PoolClient, 'query'>, source: TransferSource, judgement: Judgement) {
  const { rows } = await client.query<{ used: string }>(
    `SELECT coalesce(sum(amount), 0) AS used FROM ledger_transfers
      WHERE source_type = $1 AND source_id = $2 AND reason = $3
        AND created_at >= date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'`,
    [source.type, source.id, judgement],
  );
  return Number(rows[0]!.used);
}

async function keyWasUsed(client: Pick<pg.PoolClient, 'query'>, key: string): Promise<boolean> {
  const { rowCount } = await client.query('SELECT 1 FROM ledger_transfers WHERE idempotency_key = $1', [key]);
  return Boolean(rowCount);
}

async function requireAgent(client: Pick<pg.PoolClient, 'query'>, agentId: string) {
  const { rowCount } = await client.query('SELECT 1 FROM agents WHERE id = $1', [agentId]);
  if (!rowCount) throw new NotFoundException(`there is no agent with id "${agentId}"`);
}

/** The post must be one the person can read, written by the agent or replied to by it. */
async function requireRelatedPost(
  client: Pick<pg.PoolClient, 'query'>,
  viewer: Principal,
  postId: number,
  agentId: string,
) {
  const values: unknown[] = [postId, agentId];
  const { rows } = await client.query<{ related: boolean }>(
    `SELECT (p.author_type = 'agent' AND p.author_id = $2) OR EXISTS (
              SELECT 1 FROM replies r WHERE r.post_id = p.id AND r.author_type = 'agent' AND r.author_id = $2
            ) AS related
       FROM posts p WHERE p.id = $1 AND ${visibleSql(viewer, values)}`,
    values,
  );
  if (!rows[0]) throw new NotFoundException(`there is no post ${postId}`);
  if (!rows[0].related) {
    throw new BadRequestException(`agent ${agentId} neither wrote post ${postId} nor replied to it`);
  }
}
