import { ConflictException, Injectable, NotFoundException } from '@nestjs/common';
import { createHash } from 'node:crypto';
import type pg from 'pg';
import type { NewWorldEvent, Transfer, TransferReason } from '../contract/index.js';
import { DatabaseService } from '../database/database.service.js';
import { EventBus } from '../events/event-bus.service.js';
import { recordLedgerTransfer } from '../metrics/instruments.js';
import { isIdempotencyRace, ledgerHttpError } from './ledger-errors.js';
import { toTransfer, type AccountRow, type TransferRow } from './ledger-records.js';

type Queryable = Pick<pg.PoolClient, 'query'>;

export interface TransferSource {
  type: 'human' | 'agent' | 'admin' | 'system' | 'payment' | 'flow';
  id: string | null;
}

/** Money moving now (`posted`) or reserved for later (`pending`, a hold). */
export interface TransferCommand {
  kind?: 'posted' | 'pending';
  /** `agent:<id>` or a system account (`treasury`, `burn`, ...). */
  debit: string;
  credit: string;
  amount: number;
  reason: TransferReason;
  memo?: string | null;
  source: TransferSource;
  postId?: number | null;
  metadata?: Record<string, unknown>;
  /** The same key with the same content returns the first transfer; with other content, 409. */
  idempotencyKey: string;
  /** When the debit agent has less than `amount`, take what it has (penalties, reversals). */
  partial?: boolean;
  /** For a hold: when it lapses on its own. */
  expiresAt?: Date;
  reversesId?: number;
}

export interface TierChange {
  agentId: string;
  from: number;
  to: number;
  balance: number;
  cause: string;
}

export interface TransferResult {
  transfer: Transfer;
  /** True when the idempotency key had already been used with the same content. */
  replayed: boolean;
  /** The two accounts after the transfer (empty for a replay). */
  accounts: { id: string; kind: 'agent' | 'system'; agentId: string | null; balance: number; held: number }[];
  tierChanges: TierChange[];
}

export interface ResolveHold {
  holdId: number;
  idempotencyKey: string;
  source: TransferSource;
  metadata?: Record<string, unknown>;
}

/**
 * The aiDollar ledger (double entry, append-only, hash-chained): the only way money moves. Every
 * change goes through the `ledger_transfer` SQL function (migration 20261201120000), which does the
 * whole transfer in one statement under the two account rows' locks; this service names the
 * operations, keeps idempotency keys honest and announces balance and tier changes after commit.
 */
@Injectable()
export class LedgerService {
  constructor(
    private readonly database: DatabaseService,
    private readonly events: EventBus,
  ) {}

  /** Moves money (or places a hold) in its own transaction and announces it. */
  async transfer(command: TransferCommand): Promise<TransferResult> {
    const result = await this.transferWith(this.database.pool, command);
    await this.announce(result);
    return result;
  }

  /**
   * The same inside the caller's transaction (call `announce` after it commits). A concurrent
   * request with the same key that commits first makes this one replay it.
   */
  async transferWith(client: Queryable, command: TransferCommand): Promise<TransferResult> {
    return this.call(client, this.transferValues(command));
  }

  private transferValues(command: TransferCommand): unknown[] {
    const kind = command.kind ?? 'posted';
    return [
      kind,
      command.debit,
      command.credit,
      command.amount,
      command.reason,
      command.memo ?? null,
      command.source.type,
      command.source.id,
      command.postId ?? null,
      command.metadata ? JSON.stringify(command.metadata) : null,
      command.idempotencyKey,
      requestHash({ ...command, kind, expiresAt: undefined }),
      null,
      kind === 'pending' ? (command.expiresAt ?? null) : null,
      command.reversesId ?? null,
      command.partial ?? false,
    ];
  }

  /**
   * Places a hold in its own transaction without waiting for its commit to reach the disk (the
   * gateway's hold is on every LLM call's path; a flush costs 1-3 ms). A hold moves no money, it is
   * visible and locked like any other at once, and the WAL is written in order: the hold is durable
   * as soon as anything committed after it is, its settlement included. A database crash can only
   * lose a hold that nothing settled yet, and the gateway then charges the call directly.
   */
  async placeHold(command: Omit<TransferCommand, 'kind' | 'expiresAt'> & { expiresAt: Date }): Promise<TransferResult> {
    return this.call(this.database.pool, this.transferValues({ ...command, kind: 'pending' }), 'unflushed');
  }

  /**
   * Settles a hold (or releases it, for `amount` 0) and, in the same statement, inserts the record of
   * the work it paid for: the account rows stay locked for one statement and its commit only.
   * `record` is an `INSERT ... SELECT ... FROM settled` whose own parameters start at $17; `settled`
   * has the ledger's columns (`transfer`, `replayed`, ...); `name` names the prepared statement.
   * Returns the result and whether `record` inserted a row (false when it was already there: a replay).
   */
  async resolveHoldRecording(
    command: ResolveHold & { amount: number },
    record: { name: string; sql: string; values: unknown[] },
  ): Promise<TransferResult & { recorded: boolean }> {
    const kind = command.amount > 0 ? 'post_pending' : 'void_pending';
    const values = this.resolveValues(kind, command, command.amount > 0 ? command.amount : null);
    const text = `WITH settled AS (${LEDGER_TRANSFER}),
      recorded AS (${record.sql} RETURNING 1)
      SELECT settled.*, EXISTS (SELECT 1 FROM recorded) AS recorded FROM settled`;
    try {
      const { rows } = await this.database.query<LedgerRow & { recorded: boolean }>({
        name: `ledger-resolve-recording:${record.name}`,
        text,
        values: [...values, ...record.values],
      });
      return { ...toResult(rows[0]!), recorded: rows[0]!.recorded };
    } catch (error) {
      throw ledgerHttpError(error);
    }
  }

  /** Settles a hold for what the work really cost (at most what was reserved); the rest is released. */
  async settleHold(command: ResolveHold & { amount: number }): Promise<TransferResult> {
    const result = await this.settleHoldWith(this.database.pool, command);
    await this.announce(result);
    return result;
  }

  /** Releases a hold: nothing is charged. */
  async releaseHold(command: ResolveHold): Promise<TransferResult> {
    const result = await this.releaseHoldWith(this.database.pool, command);
    await this.announce(result);
    return result;
  }

  /** The same inside the caller's transaction (call `announce` after it commits). */
  settleHoldWith(client: Queryable, command: ResolveHold & { amount: number }): Promise<TransferResult> {
    return this.resolveHold(client, 'post_pending', command, command.amount);
  }

  releaseHoldWith(client: Queryable, command: ResolveHold): Promise<TransferResult> {
    return this.resolveHold(client, 'void_pending', command, null);
  }

  private resolveHold(
    client: Queryable,
    kind: 'post_pending' | 'void_pending',
    command: ResolveHold,
    amount: number | null,
  ): Promise<TransferResult> {
    return this.call(client, this.resolveValues(kind, command, amount));
  }

  private resolveValues(kind: 'post_pending' | 'void_pending', command: ResolveHold, amount: number | null) {
    const metadata = command.metadata ? JSON.stringify(command.metadata) : null;
    return [
      kind,
      null,
      null,
      amount,
      null,
      null,
      command.source.type,
      command.source.id,
      null,
      metadata,
      command.idempotencyKey,
      requestHash({ kind, holdId: command.holdId, amount, source: command.source, metadata: command.metadata }),
      command.holdId,
      null,
      null,
      false,
    ];
  }

  /** Releases every hold past its expiry; returns how many. Safe on many replicas at once. */
  async expireHolds(limit = 200): Promise<number> {
    const { rows } = await this.database.query<{ transfer_id: string }>(
      `SELECT transfer_id FROM ledger_open_holds WHERE expires_at < now() ORDER BY expires_at LIMIT $1`,
      [limit],
    );
    let released = 0;
    for (const { transfer_id } of rows) {
      const holdId = Number(transfer_id);
      try {
        const result = await this.releaseHold({
          holdId,
          idempotencyKey: `hold-expired:${holdId}`,
          source: { type: 'system', id: 'hold-expiry' },
          metadata: { expired: true },
        });
        if (!result.replayed) released++;
      } catch (error) {
        // Settled or released meanwhile by someone else: nothing left to do.
        if (!(error instanceof ConflictException)) throw error;
      }
    }
    return released;
  }

  /**
   * Undoes a posted transfer with a new one in the other direction. If the agent has spent part of
   * it, what is there is taken back (the rest is recorded in the reversal's metadata).
   */
  async reverse(id: number, memo: string, source: TransferSource): Promise<TransferResult> {
    const original = await this.get(id);
    if (original.kind !== 'posted' && original.kind !== 'post_pending') {
      throw new ConflictException(
        `transfer ${id} is a ${original.kind} transfer; only money that moved can be reversed`,
      );
    }
    if (original.reversesId !== null) {
      throw new ConflictException(`transfer ${id} is itself a reversal; make a new transfer instead`);
    }
    const { rows } = await this.database.query<{ id: string }>(
      'SELECT id FROM ledger_transfers WHERE reverses_id = $1',
      [id],
    );
    if (rows[0]) throw new ConflictException(`transfer ${id} was already reversed by transfer ${rows[0].id}`);
    return this.transfer({
      debit: original.creditAccount,
      credit: original.debitAccount,
      amount: original.amount,
      reason: 'reversal',
      memo,
      source,
      postId: original.postId,
      idempotencyKey: `reversal:${id}`,
      partial: true,
      reversesId: id,
    });
  }

  async get(id: number): Promise<Transfer> {
    const { rows } = await this.database.query<{ transfer: TransferRow }>(
      'SELECT to_jsonb(t) AS transfer FROM ledger_transfers t WHERE id = $1',
      [id],
    );
    if (!rows[0]) throw new NotFoundException(`there is no transfer ${id}`);
    return toTransfer(rows[0].transfer);
  }

  /** Publishes what a committed transfer changed: agents' balances and tiers. */
  async announce(result: TransferResult): Promise<void> {
    if (result.replayed) return;
    const { transfer } = result;
    recordLedgerTransfer(transfer);
    const events: NewWorldEvent[] = [];
    for (const account of result.accounts) {
      if (account.kind !== 'agent' || !account.agentId) continue;
      const change = account.id === transfer.debitAccount ? -moved(transfer) : moved(transfer);
      if (change === 0 && transfer.kind !== 'pending' && transfer.kind !== 'void_pending') continue;
      events.push({
        type: 'economy.balance_changed',
        agentId: account.agentId,
        balance: account.balance,
        available: account.balance - account.held,
        change,
        reason: transfer.reason,
        transferId: transfer.id,
      });
    }
    await this.events.publish([...events, ...tierChangedEvents(result.tierChanges)]);
  }

  private async call(
    client: Queryable,
    values: unknown[],
    commit: 'flushed' | 'unflushed' = 'flushed',
  ): Promise<TransferResult> {
    // set_config(..., true) lasts until this statement's own transaction commits: only a statement
    // that is its own transaction (placeHold, on the pool) may ask for it.
    const statement =
      commit === 'flushed'
        ? { name: 'ledger-transfer', text: LEDGER_TRANSFER }
        : {
            name: 'ledger-transfer-unflushed',
            text: `${LEDGER_TRANSFER}, set_config('synchronous_commit', 'off', true)`,
          };
    for (let attempt = 0; ; attempt++) {
      try {
        const { rows } = await client.query<LedgerRow>({ ...statement, values });
        return toResult(rows[0]!);
      } catch (error) {
        // The same key committed meanwhile: run again to return it (or refuse other content). Inside
        // a caller's transaction the failed statement has aborted it, so the caller retries
        // (isIdempotencyRace tells it so).
        if (isIdempotencyRace(error)) {
          if (attempt === 0 && client === this.database.pool) continue;
          throw error;
        }
        throw ledgerHttpError(error);
      }
    }
  }
}

/** The one statement that writes the ledger; its 16 parameters are what transferValues/resolveValues make. */
const LEDGER_TRANSFER = `SELECT transfer, replayed, accounts, tier_changes
  FROM ledger_transfer($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`;

interface LedgerRow {
  transfer: TransferRow;
  replayed: boolean;
  accounts: AccountRow[];
  tier_changes: TierChange[];
}

function toResult(row: LedgerRow): TransferResult {
  return {
    transfer: toTransfer(row.transfer),
    replayed: row.replayed,
    accounts: row.accounts.map((account) => ({
      id: account.id,
      kind: account.kind,
      agentId: account.agent_id,
      balance: Number(account.balance),
      held: Number(account.held),
    })),
    tierChanges: row.tier_changes,
  };
}

/** The events of tier changes the SQL function reported. */
export function tierChangedEvents(changes: TierChange[]): NewWorldEvent[] {
  return changes.map(({ agentId, from, to, cause }) => ({ type: 'agent.tier_changed', agentId, from, to, cause }));
}

/** What a transfer moved from debit to credit (0 for holds and releases). */
export function moved(transfer: Transfer): number {
  return transfer.kind === 'posted' || transfer.kind === 'post_pending' ? transfer.amount : 0;
}

/** The content an idempotency key stands for: a stable hash of the request. */
function requestHash(content: object): string {
  return createHash('sha256').update(stableJson(content)).digest('hex');
}

function stableJson(value: unknown): string {
  if (value === undefined) return 'null';
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, item]) => item !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : 1));
  return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${stableJson(item)}`).join(',')}}`;
}
