import type { LedgerEntry, Transfer } from '../contract/index.js';

/** A ledger_transfers row as PostgreSQL's to_jsonb writes it. */
export interface TransferRow {
  id: number | string;
  kind: Transfer['kind'];
  debit_account: string;
  credit_account: string;
  amount: number | string;
  reason: string;
  memo: string | null;
  source_type: string;
  source_id: string | null;
  post_id: number | string | null;
  metadata: Record<string, unknown>;
  idempotency_key: string;
  pending_id: number | string | null;
  expires_at: string | null;
  reverses_id: number | string | null;
  created_at: string;
  hash: string;
}

/** An account as `ledger_transfer` returns it (these fields of its row). */
export interface AccountRow {
  id: string;
  name: string;
  kind: 'agent' | 'system';
  agent_id: string | null;
  balance: number | string;
  held: number | string;
}

const optionalNumber = (value: number | string | null) => (value === null ? null : Number(value));

export function toTransfer(row: TransferRow): Transfer {
  return {
    id: Number(row.id),
    kind: row.kind,
    debitAccount: row.debit_account,
    creditAccount: row.credit_account,
    amount: Number(row.amount),
    reason: row.reason,
    memo: row.memo,
    source: { type: row.source_type, id: row.source_id },
    postId: optionalNumber(row.post_id),
    metadata: row.metadata,
    idempotencyKey: row.idempotency_key,
    pendingId: optionalNumber(row.pending_id),
    expiresAt: row.expires_at ? new Date(row.expires_at).toISOString() : null,
    reversesId: optionalNumber(row.reverses_id),
    createdAt: new Date(row.created_at).toISOString(),
    hash: row.hash.replace(/^\\x/, ''),
  };
}

export interface EntryRow {
  seq: string;
  account_id: string;
  amount: string;
  held_change: string;
  balance_after: string;
  held_after: string;
  transfer: TransferRow;
}

export function toLedgerEntry(row: EntryRow): LedgerEntry {
  return {
    id: Number(row.seq),
    seq: Number(row.seq),
    account: row.account_id,
    amount: Number(row.amount),
    heldChange: Number(row.held_change),
    balanceAfter: Number(row.balance_after),
    heldAfter: Number(row.held_after),
    transfer: toTransfer(row.transfer),
  };
}
