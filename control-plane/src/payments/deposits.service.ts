import { BadRequestException, ConflictException, Inject, Injectable, NotFoundException } from '@nestjs/common';
import type pg from 'pg';
import {
  MAX_TRANSFER_AMOUNT,
  agentAccount,
  currencyDecimals,
  formatMoney,
  parseMoney,
  type AssignDepositRequest,
  type Deposit,
  type DepositRefund,
  type ManualDepositRequest,
  type NewWorldEvent,
} from '../contract/index.js';
import { AuditService } from '../audit/audit.service.js';
import { authorOf, type Principal } from '../auth/principal.js';
import { CONFIG, type Config } from '../config/config.js';
import { DatabaseService } from '../database/database.service.js';
import { EventBus } from '../events/event-bus.service.js';
import { LedgerService, type TransferResult, type TransferSource } from '../ledger/ledger.service.js';
import { toDeposit, toRefund, type DepositRow, type RefundRow } from './payment-records.js';

type Queryable = Pick<pg.PoolClient, 'query'>;

/** What a change did, to announce once its transaction has committed. */
export class Announcements {
  readonly transfers: TransferResult[] = [];
  readonly events: NewWorldEvent[] = [];
}

/** A deposit about to be recorded: from an admin's entry or a verified PayPal capture. */
export interface DepositEntry {
  source: Deposit['source'];
  transactionId: string;
  amountMinor: number;
  currency: string;
  /** The agent named (the admin's choice, or PayPal's custom_id). */
  requestedAgentId: string | null;
  webhookEventId: number | null;
  enteredBy: string | null;
  memo: string | null;
}

export interface RefundEntry {
  refundId: string;
  kind: DepositRefund['kind'];
  transactionId: string;
  amountMinor: number;
  currency: string;
  webhookEventId: number | null;
}

/**
 * Deposits become aiDollars here, once: `deposits_clearing` pays the agent (or `suspense` when the
 * payer named no agent the village knows), with the idempotency key `paypal:capture:<transaction id>`.
 * Refunds and reversals pay `deposits_clearing` back from where the money is, taking what is there
 * and recording the rest as a shortfall. Every step of one transaction id runs under one advisory
 * lock, so a capture and its refunds, on any replica, in any order, apply once and in turn.
 */
@Injectable()
export class DepositsService {
  constructor(
    private readonly database: DatabaseService,
    private readonly ledger: LedgerService,
    private readonly audit: AuditService,
    private readonly events: EventBus,
    @Inject(CONFIG) private readonly config: Config,
  ) {}

  /** An admin records money that reached PayPal; the transaction id makes it once-only. */
  async enterManual(
    request: ManualDepositRequest,
    principal: Principal,
    requestId: string | undefined,
  ): Promise<{ deposit: Deposit; created: boolean }> {
    const currency = this.config.VILLAGE_PAYMENT_CURRENCY;
    if (request.currency !== currency) {
      throw new BadRequestException(
        `deposits are taken in ${currency} only; a payment in ${request.currency} cannot be credited (refund it in PayPal)`,
      );
    }
    const amountMinor = parseMoney(request.amount, currency);
    if (amountMinor === null) {
      throw new BadRequestException(
        `amount "${request.amount}" has more than ${currencyDecimals(currency)} decimals for ${currency}`,
      );
    }
    if (amountMinor === 0) throw new BadRequestException('amount must be more than 0');
    this.millsOf(amountMinor, (message) => new BadRequestException(message));
    const announce = new Announcements();
    const outcome = await this.database.transaction(async (client) => {
      await lockTransaction(client, request.transactionId);
      const existing = await depositOf(client, request.transactionId);
      if (existing) {
        const same =
          Number(existing.amount) === amountMinor &&
          existing.currency === request.currency &&
          existing.requested_agent_id === request.agentId;
        if (same) return { deposit: toDeposit(existing), created: false };
        throw new ConflictException(
          `transaction ${request.transactionId} is already deposit ${existing.id} (${existing.source}, ` +
            `${formatMoney(Number(existing.amount), existing.currency)} ${existing.currency} for ` +
            `${existing.requested_agent_id ?? 'no agent'}); a transaction is credited once`,
        );
      }
      if (!(await agentExists(client, request.agentId))) {
        throw new NotFoundException(`there is no agent with id "${request.agentId}"`);
      }
      const deposit = await this.credit(
        client,
        {
          source: 'manual',
          transactionId: request.transactionId,
          amountMinor,
          currency,
          requestedAgentId: request.agentId,
          webhookEventId: null,
          enteredBy: authorOf(principal).id,
          memo: request.memo ?? null,
        },
        principal,
        requestId,
        announce,
      );
      return { deposit, created: true };
    });
    await this.publish(announce);
    return outcome;
  }

  /** Money parked in suspense goes to an agent an admin names. */
  async assign(
    depositId: number,
    request: AssignDepositRequest,
    principal: Principal,
    requestId: string | undefined,
  ): Promise<Deposit> {
    const announce = new Announcements();
    const deposit = await this.database.transaction(async (client) => {
      const found = await client.query<DepositRow>('SELECT * FROM deposits WHERE id = $1', [depositId]);
      if (!found.rows[0]) throw new NotFoundException(`there is no deposit ${depositId}`);
      await lockTransaction(client, found.rows[0].transaction_id);
      const before = (await depositOf(client, found.rows[0].transaction_id))!;
      if (before.status !== 'suspense') {
        throw new ConflictException(
          `deposit ${depositId} is ${before.status}${before.agent_id ? ` (agent ${before.agent_id})` : ''}; only money in suspense can be assigned`,
        );
      }
      if (!(await agentExists(client, request.agentId))) {
        throw new NotFoundException(`there is no agent with id "${request.agentId}"`);
      }
      const amount = Number(before.mills) - Number(before.refunded_mills) - Number(before.shortfall_mills);
      if (amount <= 0)
        throw new ConflictException(`nothing of deposit ${depositId} is left in suspense: it was refunded`);
      const source = adminSource(principal);
      const result = await this.ledger.transferWith(client, {
        debit: 'suspense',
        credit: agentAccount(request.agentId),
        amount,
        reason: 'deposit_credit',
        memo: request.reason,
        source,
        metadata: { depositId, transactionId: before.transaction_id },
        idempotencyKey: `payment:assign:${depositId}`,
      });
      announce.transfers.push(result);
      const { rows } = await client.query<DepositRow>(
        `UPDATE deposits SET status = 'credited', agent_id = $2, assign_transfer_id = $3, assigned_by = $4,
                assigned_at = now(), updated_at = now()
          WHERE id = $1 RETURNING *`,
        [depositId, request.agentId, result.transfer.id, source.id],
      );
      const after = toDeposit(rows[0]!);
      await this.audit.record(client, {
        actor: principal,
        action: 'payment.assigned',
        subject: { type: 'deposit', id: depositId },
        before: toDeposit(before),
        after,
        reason: request.reason,
        requestId,
      });
      announce.events.push(creditedEvent(after, amount, result.transfer.id, 'assignment'));
      return after;
    });
    await this.publish(announce);
    return deposit;
  }

  /**
   * A verified PayPal capture: credited once (nothing if its transaction is already a deposit),
   * refused when in another currency. Runs inside the caller's transaction; returns what to note.
   */
  async captureWith(
    client: Queryable,
    entry: DepositEntry,
    announce: Announcements,
  ): Promise<{ depositId: number; note: string; ignored: string | null }> {
    await lockTransaction(client, entry.transactionId);
    const existing = await depositOf(client, entry.transactionId);
    if (existing) {
      const differs =
        Number(existing.amount) !== entry.amountMinor || existing.currency !== entry.currency
          ? `; PayPal reports ${formatMoney(entry.amountMinor, entry.currency)} ${entry.currency}, the deposit says ` +
            `${formatMoney(Number(existing.amount), existing.currency)} ${existing.currency}: check it`
          : '';
      return {
        depositId: Number(existing.id),
        note: `transaction ${entry.transactionId} is already deposit ${existing.id} (${existing.source}); nothing credited again${differs}`,
        ignored: null,
      };
    }
    const accepted = this.config.VILLAGE_PAYMENT_CURRENCY;
    const tooLarge = entry.amountMinor * this.config.VILLAGE_PAYMENT_MILLS_PER_MINOR_UNIT > MAX_TRANSFER_AMOUNT;
    if (entry.currency !== accepted || tooLarge) {
      const reason = tooLarge
        ? `${formatMoney(entry.amountMinor, entry.currency)} ${entry.currency} is more than one transfer may move`
        : `the payment is in ${entry.currency}; the village takes ${accepted} only (refund it in PayPal)`;
      const deposit = await this.refuse(client, entry, reason, announce);
      return { depositId: deposit.id, note: `deposit ${deposit.id} refused: ${reason}`, ignored: reason };
    }
    const deposit = await this.credit(client, entry, undefined, undefined, announce);
    const where =
      deposit.status === 'credited'
        ? `credited to agent ${deposit.agentId}`
        : `parked in suspense: ${entry.requestedAgentId ? `custom_id "${entry.requestedAgentId}" names no agent` : 'no custom_id'}`;
    return { depositId: deposit.id, note: `deposit ${deposit.id}: ${deposit.mills} mills ${where}`, ignored: null };
  }

  /** A verified refund or reversal; waits for its capture when that has not arrived yet. */
  async refundWith(
    client: Queryable,
    entry: RefundEntry,
    announce: Announcements,
  ): Promise<{ refundId: number; note: string }> {
    await lockTransaction(client, entry.transactionId);
    const existing = await client.query<RefundRow>('SELECT * FROM deposit_refunds WHERE refund_id = $1', [
      entry.refundId,
    ]);
    if (existing.rows[0]) {
      return {
        refundId: Number(existing.rows[0].id),
        note: `${entry.kind} ${entry.refundId} was already recorded; nothing taken again`,
      };
    }
    const deposit = await depositOf(client, entry.transactionId);
    const { rows } = await client.query<RefundRow>(
      `INSERT INTO deposit_refunds (refund_id, kind, transaction_id, deposit_id, amount, currency, status, note, webhook_event_id)
       VALUES ($1, $2, $3, $4, $5, $6, 'waiting', $7, $8) RETURNING *`,
      [
        entry.refundId,
        entry.kind,
        entry.transactionId,
        deposit?.id ?? null,
        entry.amountMinor,
        entry.currency,
        deposit ? null : `capture ${entry.transactionId} has not arrived yet; this is applied when it does`,
        entry.webhookEventId,
      ],
    );
    const refund = rows[0]!;
    if (!deposit) {
      await this.audit.record(client, {
        actor: undefined,
        action: 'payment.refund_waiting',
        subject: { type: 'deposit_refund', id: refund.id },
        after: toRefund(refund),
      });
      announce.events.push(refundedEvent(toRefund(refund)));
      return { refundId: Number(refund.id), note: refund.note! };
    }
    const applied = await this.applyRefund(client, refund, deposit, announce);
    return { refundId: applied.id, note: applied.note ?? `${entry.kind} ${entry.refundId} applied` };
  }

  private async credit(
    client: Queryable,
    entry: DepositEntry,
    actor: Principal | undefined,
    requestId: string | undefined,
    announce: Announcements,
  ): Promise<Deposit> {
    const rate = this.config.VILLAGE_PAYMENT_MILLS_PER_MINOR_UNIT;
    const mills = this.millsOf(entry.amountMinor, (message) => new BadRequestException(message));
    const toAgent = entry.requestedAgentId !== null && (await agentExists(client, entry.requestedAgentId));
    const account = toAgent ? agentAccount(entry.requestedAgentId!) : 'suspense';
    const amount = `${formatMoney(entry.amountMinor, entry.currency)} ${entry.currency}`;
    const result = await this.ledger.transferWith(client, {
      debit: 'deposits_clearing',
      credit: account,
      amount: mills,
      reason: 'deposit_credit',
      memo: `${entry.source === 'manual' ? 'deposit entered by an admin' : 'PayPal deposit'}: ${amount}, transaction ${entry.transactionId}`,
      source: { type: 'payment', id: entry.transactionId },
      metadata: { transactionId: entry.transactionId, amount, rate, requestedAgentId: entry.requestedAgentId },
      idempotencyKey: `paypal:capture:${entry.transactionId}`,
    });
    announce.transfers.push(result);
    const { rows } = await client.query<DepositRow>(
      `INSERT INTO deposits (source, transaction_id, amount, currency, rate, mills, requested_agent_id, agent_id,
                             status, transfer_id, webhook_event_id, entered_by, memo)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING *`,
      [
        entry.source,
        entry.transactionId,
        entry.amountMinor,
        entry.currency,
        rate,
        mills,
        entry.requestedAgentId,
        toAgent ? entry.requestedAgentId : null,
        toAgent ? 'credited' : 'suspense',
        result.transfer.id,
        entry.webhookEventId,
        entry.enteredBy,
        entry.memo,
      ],
    );
    let deposit = toDeposit(rows[0]!);
    await this.audit.record(client, {
      actor,
      action: toAgent ? 'payment.credited' : 'payment.parked',
      subject: { type: 'deposit', id: deposit.id },
      after: deposit,
      reason: entry.memo,
      requestId,
    });
    announce.events.push(
      toAgent
        ? creditedEvent(deposit, mills, result.transfer.id, 'deposit')
        : {
            type: 'payment.parked',
            depositId: deposit.id,
            transactionId: deposit.transactionId,
            requestedAgentId: deposit.requestedAgentId,
            amount: deposit.amount,
            currency: deposit.currency,
            mills,
            transferId: result.transfer.id,
          },
    );
    // Refunds that arrived before their capture.
    const waiting = await client.query<RefundRow>(
      `SELECT * FROM deposit_refunds WHERE transaction_id = $1 AND status = 'waiting' ORDER BY id`,
      [entry.transactionId],
    );
    for (const refund of waiting.rows) {
      const current = (await depositOf(client, entry.transactionId))!;
      await this.applyRefund(client, refund, current, announce);
    }
    if (waiting.rows.length) deposit = toDeposit((await depositOf(client, entry.transactionId))!);
    return deposit;
  }

  private async refuse(
    client: Queryable,
    entry: DepositEntry,
    reason: string,
    announce: Announcements,
  ): Promise<Deposit> {
    const { rows } = await client.query<DepositRow>(
      `INSERT INTO deposits (source, transaction_id, amount, currency, rate, mills, requested_agent_id, status,
                             refused_reason, webhook_event_id, entered_by, memo)
       VALUES ($1, $2, $3, $4, 0, 0, $5, 'refused', $6, $7, $8, $9) RETURNING *`,
      [
        entry.source,
        entry.transactionId,
        entry.amountMinor,
        entry.currency,
        entry.requestedAgentId,
        reason,
        entry.webhookEventId,
        entry.enteredBy,
        entry.memo,
      ],
    );
    const deposit = toDeposit(rows[0]!);
    await this.audit.record(client, {
      actor: undefined,
      action: 'payment.refused',
      subject: { type: 'deposit', id: deposit.id },
      after: deposit,
      reason,
    });
    const waiting = await client.query<RefundRow>(
      `SELECT * FROM deposit_refunds WHERE transaction_id = $1 AND status = 'waiting' ORDER BY id`,
      [entry.transactionId],
    );
    for (const refund of waiting.rows) await this.applyRefund(client, refund, rows[0]!, announce);
    return deposit;
  }

  /** Takes a refund back from where the deposit's money is: what is there, the rest is a shortfall. */
  private async applyRefund(
    client: Queryable,
    refund: RefundRow,
    deposit: DepositRow,
    announce: Announcements,
  ): Promise<DepositRefund> {
    const label = `${refund.kind} ${refund.refund_id}`;
    const settle = async (values: {
      status: 'applied' | 'refused';
      mills: number;
      taken: number;
      account: string | null;
      transferId: number | null;
      note: string | null;
    }) => {
      const { rows } = await client.query<RefundRow>(
        `UPDATE deposit_refunds SET deposit_id = $2, status = $3, mills = $4::bigint, taken = $5::bigint,
                shortfall = $4::bigint - $5::bigint,
                account = $6, transfer_id = $7, note = $8, applied_at = now()
          WHERE id = $1 RETURNING *`,
        [
          refund.id,
          deposit.id,
          values.status,
          values.mills,
          values.taken,
          values.account,
          values.transferId,
          values.note,
        ],
      );
      if (values.status === 'applied') {
        await client.query(
          `UPDATE deposits SET refunded_amount = refunded_amount + $2, refunded_mills = refunded_mills + $3,
                  shortfall_mills = shortfall_mills + $4, updated_at = now() WHERE id = $1`,
          [deposit.id, refund.amount, values.taken, values.mills - values.taken],
        );
      }
      const applied = toRefund(rows[0]!);
      await this.audit.record(client, {
        actor: undefined,
        action: values.status === 'applied' ? 'payment.refunded' : 'payment.refund_refused',
        subject: { type: 'deposit', id: deposit.id },
        after: applied,
        reason: values.note,
      });
      announce.events.push(refundedEvent(applied));
      return applied;
    };

    if (deposit.status === 'refused') {
      return settle({
        status: 'refused',
        mills: 0,
        taken: 0,
        account: null,
        transferId: null,
        note: `deposit ${deposit.id} was refused: nothing was credited, so nothing is taken back`,
      });
    }
    if (refund.currency !== deposit.currency) {
      return settle({
        status: 'refused',
        mills: 0,
        taken: 0,
        account: null,
        transferId: null,
        note: `${label} is in ${refund.currency}, deposit ${deposit.id} in ${deposit.currency}: nothing taken back; check it in PayPal`,
      });
    }
    const outstanding = Number(deposit.mills) - Number(deposit.refunded_mills) - Number(deposit.shortfall_mills);
    const mills = Math.min(Number(refund.amount) * Number(deposit.rate), Math.max(0, outstanding));
    const account = deposit.status === 'suspense' ? 'suspense' : agentAccount(deposit.agent_id!);
    let available = mills;
    if (deposit.status === 'credited') {
      // The agent's row stays locked until commit, so what it has cannot change under us.
      const { rows } = await client.query<{ available: string }>(
        'SELECT balance - held AS available FROM ledger_accounts WHERE id = $1 FOR UPDATE',
        [account],
      );
      available = Math.max(0, Number(rows[0]?.available ?? 0));
    }
    const taken = Math.min(mills, available);
    let transferId: number | null = null;
    if (taken > 0) {
      const result = await this.ledger.transferWith(client, {
        debit: account,
        credit: 'deposits_clearing',
        amount: taken,
        reason: 'deposit_refund',
        memo: `PayPal ${label} of transaction ${deposit.transaction_id}: ${formatMoney(Number(refund.amount), refund.currency)} ${refund.currency}`,
        source: { type: 'payment', id: refund.refund_id },
        metadata: { depositId: Number(deposit.id), transactionId: deposit.transaction_id, requested: mills },
        idempotencyKey: `paypal:refund:${refund.refund_id}`,
      });
      announce.transfers.push(result);
      transferId = result.transfer.id;
    }
    const note =
      mills === 0
        ? `nothing of deposit ${deposit.id} was left to take back`
        : taken < mills
          ? `${account} had ${available} mills available: ${taken} of ${mills} taken back, ${mills - taken} could not be`
          : null;
    return settle({ status: 'applied', mills, taken, account, transferId, note });
  }

  private millsOf(amountMinor: number, error: (message: string) => Error): number {
    const mills = amountMinor * this.config.VILLAGE_PAYMENT_MILLS_PER_MINOR_UNIT;
    if (mills > MAX_TRANSFER_AMOUNT)
      throw error(`the deposit is worth more than one transfer may move (${MAX_TRANSFER_AMOUNT} mills)`);
    return mills;
  }

  /** After commit: balances and tiers, then the payment events. */
  async publish(announce: Announcements): Promise<void> {
    for (const result of announce.transfers) await this.ledger.announce(result);
    await this.events.publish(announce.events);
  }
}

/** One transaction id's capture, refunds and assignment, one at a time across replicas. */
async function lockTransaction(client: Queryable, transactionId: string) {
  await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`payment:${transactionId}`]);
}

async function depositOf(client: Queryable, transactionId: string): Promise<DepositRow | undefined> {
  const { rows } = await client.query<DepositRow>('SELECT * FROM deposits WHERE transaction_id = $1', [transactionId]);
  return rows[0];
}

async function agentExists(client: Queryable, agentId: string): Promise<boolean> {
  const { rowCount } = await client.query('SELECT 1 FROM agents WHERE id = $1', [agentId]);
  return Boolean(rowCount);
}

function adminSource(principal: Principal): TransferSource {
  const author = authorOf(principal);
  return { type: 'admin', id: author.type === 'system' ? 'admin-token' : author.id };
}

function creditedEvent(
  deposit: Deposit,
  mills: number,
  transferId: number,
  via: 'deposit' | 'assignment',
): NewWorldEvent {
  return {
    type: 'payment.credited',
    depositId: deposit.id,
    source: deposit.source,
    transactionId: deposit.transactionId,
    agentId: deposit.agentId!,
    amount: deposit.amount,
    currency: deposit.currency,
    mills,
    transferId,
    via,
  };
}

function refundedEvent(refund: DepositRefund): NewWorldEvent {
  return {
    type: 'payment.refunded',
    refundId: refund.refundId,
    kind: refund.kind,
    transactionId: refund.transactionId,
    depositId: refund.depositId,
    account: refund.account,
    status: refund.status,
    mills: refund.mills,
    taken: refund.taken,
    shortfall: refund.shortfall,
    transferId: refund.transferId,
  };
}
