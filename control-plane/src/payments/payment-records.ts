import {
  formatMoney,
  type Deposit,
  type DepositRefund,
  type WebhookEvent,
  type WebhookEventDetails,
} from '../contract/index.js';

/** Rows as PostgreSQL returns them (BIGINT as text), and their API shapes. */
export interface DepositRow {
  id: string;
  source: Deposit['source'];
  transaction_id: string;
  amount: string;
  currency: string;
  rate: string;
  mills: string;
  requested_agent_id: string | null;
  agent_id: string | null;
  status: Deposit['status'];
  refused_reason: string | null;
  transfer_id: string | null;
  assign_transfer_id: string | null;
  assigned_by: string | null;
  assigned_at: Date | null;
  refunded_amount: string;
  refunded_mills: string;
  shortfall_mills: string;
  webhook_event_id: string | null;
  entered_by: string | null;
  memo: string | null;
  created_at: Date;
  updated_at: Date;
}

export interface RefundRow {
  id: string;
  refund_id: string;
  kind: DepositRefund['kind'];
  transaction_id: string;
  deposit_id: string | null;
  amount: string;
  currency: string;
  mills: string;
  taken: string;
  shortfall: string;
  account: string | null;
  transfer_id: string | null;
  status: DepositRefund['status'];
  note: string | null;
  webhook_event_id: string | null;
  created_at: Date;
  applied_at: Date | null;
}

export interface WebhookEventRow {
  id: string;
  provider: 'paypal';
  event_id: string | null;
  event_type: string | null;
  body_sha256: string;
  raw_body?: Buffer;
  headers: Record<string, string>;
  status: WebhookEvent['status'];
  verified_by: WebhookEvent['verifiedBy'];
  error: string | null;
  note: string | null;
  deliveries: number;
  attempts: number;
  deposit_id: string | null;
  refund_id: string | null;
  received_at: Date;
  last_delivery_at: Date;
  verified_at: Date | null;
  processed_at: Date | null;
}

const num = (value: string | null) => (value === null ? null : Number(value));
const iso = (value: Date | null) => (value === null ? null : value.toISOString());

export function toDeposit(row: DepositRow): Deposit {
  return {
    id: Number(row.id),
    source: row.source,
    transactionId: row.transaction_id,
    amount: formatMoney(Number(row.amount), row.currency),
    amountMinor: Number(row.amount),
    currency: row.currency,
    rate: Number(row.rate),
    mills: Number(row.mills),
    requestedAgentId: row.requested_agent_id,
    agentId: row.agent_id,
    status: row.status,
    refusedReason: row.refused_reason,
    transferId: num(row.transfer_id),
    assignTransferId: num(row.assign_transfer_id),
    assignedBy: row.assigned_by,
    assignedAt: iso(row.assigned_at),
    refundedMinor: Number(row.refunded_amount),
    refundedMills: Number(row.refunded_mills),
    shortfallMills: Number(row.shortfall_mills),
    webhookEventId: num(row.webhook_event_id),
    enteredBy: row.entered_by,
    memo: row.memo,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}

export function toRefund(row: RefundRow): DepositRefund {
  return {
    id: Number(row.id),
    refundId: row.refund_id,
    kind: row.kind,
    transactionId: row.transaction_id,
    depositId: num(row.deposit_id),
    amount: formatMoney(Number(row.amount), row.currency),
    amountMinor: Number(row.amount),
    currency: row.currency,
    mills: Number(row.mills),
    taken: Number(row.taken),
    shortfall: Number(row.shortfall),
    account: row.account,
    transferId: num(row.transfer_id),
    status: row.status,
    note: row.note,
    webhookEventId: num(row.webhook_event_id),
    createdAt: row.created_at.toISOString(),
    appliedAt: iso(row.applied_at),
  };
}

export function toWebhookEvent(row: WebhookEventRow): WebhookEvent {
  return {
    id: Number(row.id),
    provider: row.provider,
    eventId: row.event_id,
    eventType: row.event_type,
    status: row.status,
    verifiedBy: row.verified_by,
    error: row.error,
    note: row.note,
    transmissionId: row.headers['paypal-transmission-id'] ?? null,
    certUrl: row.headers['paypal-cert-url'] ?? null,
    bodySha256: row.body_sha256,
    deliveries: row.deliveries,
    attempts: row.attempts,
    depositId: num(row.deposit_id),
    refundId: num(row.refund_id),
    receivedAt: row.received_at.toISOString(),
    lastDeliveryAt: row.last_delivery_at.toISOString(),
    verifiedAt: iso(row.verified_at),
    processedAt: iso(row.processed_at),
  };
}

export function toWebhookEventDetails(row: WebhookEventRow & { raw_body: Buffer }): WebhookEventDetails {
  return { ...toWebhookEvent(row), headers: row.headers, body: row.raw_body.toString('utf8') };
}
