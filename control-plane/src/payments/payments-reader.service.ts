import { Injectable, NotFoundException } from '@nestjs/common';
import type { Deposit, DepositRefund, WebhookEvent, WebhookEventDetails } from '../contract/index.js';
import { DatabaseService } from '../database/database.service.js';
import { listPage, type ListedTable } from '../database/list-page.js';
import type { ListQuery } from '../http/list-query.js';
import {
  toDeposit,
  toRefund,
  toWebhookEvent,
  toWebhookEventDetails,
  type DepositRow,
  type RefundRow,
  type WebhookEventRow,
} from './payment-records.js';

export const DEPOSIT_SORT_FIELDS = ['id', 'createdAt', 'amountMinor', 'mills'] as const;
export const REFUND_SORT_FIELDS = ['id', 'createdAt', 'amountMinor'] as const;
export const WEBHOOK_EVENT_SORT_FIELDS = ['id', 'receivedAt', 'lastDeliveryAt'] as const;

const DEPOSITS = {
  table: 'deposits',
  sort: { id: 'id', createdAt: 'created_at', amountMinor: 'amount', mills: 'mills' },
  filter: {
    id: 'id',
    source: 'source',
    status: 'status',
    agentId: 'agent_id',
    requestedAgentId: 'requested_agent_id',
    currency: 'currency',
    transactionId: 'transaction_id',
  },
};
const REFUNDS = {
  table: 'deposit_refunds',
  sort: { id: 'id', createdAt: 'created_at', amountMinor: 'amount' },
  filter: {
    id: 'id',
    refundId: 'refund_id',
    kind: 'kind',
    status: 'status',
    depositId: 'deposit_id',
    transactionId: 'transaction_id',
  },
};
const WEBHOOK_EVENTS = {
  // The raw body stays out of lists; GET /webhook-events/:id has it.
  table: 'payment_webhook_events',
  columns: `id, provider, event_id, event_type, body_sha256, headers, status, verified_by, error, note, deliveries,
            attempts, deposit_id, refund_id, received_at, last_delivery_at, verified_at, processed_at`,
  sort: { id: 'id', receivedAt: 'received_at', lastDeliveryAt: 'last_delivery_at' },
  filter: { id: 'id', eventId: 'event_id', eventType: 'event_type', status: 'status', depositId: 'deposit_id' },
};

/** The payments tables as the console lists them (ra-data-simple-rest, see http/list-query.ts). */
@Injectable()
export class PaymentsReader {
  constructor(private readonly database: DatabaseService) {}

  async deposits(query: ListQuery<(typeof DEPOSIT_SORT_FIELDS)[number]>) {
    return this.page<DepositRow, Deposit>({ ...DEPOSITS, columns: '*' }, query, toDeposit);
  }

  async refunds(query: ListQuery<(typeof REFUND_SORT_FIELDS)[number]>) {
    return this.page<RefundRow, DepositRefund>({ ...REFUNDS, columns: '*' }, query, toRefund);
  }

  async webhookEvents(query: ListQuery<(typeof WEBHOOK_EVENT_SORT_FIELDS)[number]>) {
    return this.page<WebhookEventRow, WebhookEvent>(WEBHOOK_EVENTS, query, toWebhookEvent);
  }

  async deposit(id: number): Promise<Deposit> {
    const { rows } = await this.database.query<DepositRow>('SELECT * FROM deposits WHERE id = $1', [id]);
    if (!rows[0]) throw new NotFoundException(`there is no deposit ${id}`);
    return toDeposit(rows[0]);
  }

  async webhookEvent(id: number): Promise<WebhookEventDetails> {
    const { rows } = await this.database.query<WebhookEventRow & { raw_body: Buffer }>(
      'SELECT * FROM payment_webhook_events WHERE id = $1',
      [id],
    );
    if (!rows[0]) throw new NotFoundException(`there is no webhook event ${id}`);
    return toWebhookEventDetails(rows[0]);
  }

  private page<Row extends object, Item>(
    resource: ListedTable & { columns: string },
    query: ListQuery<string>,
    map: (row: Row) => Item,
  ): Promise<{ items: Item[]; total: number }> {
    return listPage<Row & Record<string, unknown>, Item>(this.database, resource, query, map);
  }
}
