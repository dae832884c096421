import {
  BadRequestException,
  Inject,
  Injectable,
  NotFoundException,
  ConflictException,
  ServiceUnavailableException,
} from '@nestjs/common';
import { createHash } from 'node:crypto';
import type pg from 'pg';
import type { Logger } from 'pino';
import { parseMoney, type NewWorldEvent, type WebhookEvent, type WebhookReceipt } from '../contract/index.js';
import { AuditService } from '../audit/audit.service.js';
import type { Principal } from '../auth/principal.js';
import { CONFIG, type Config } from '../config/config.js';
import { DatabaseService } from '../database/database.service.js';
import { EventBus } from '../events/event-bus.service.js';
import { LOGGER } from '../logging/logger.js';
import { Announcements, DepositsService } from './deposits.service.js';
import { envelopeOf, intentOf } from './paypal-event.js';
import { certUrlProblem, transmissionOf } from './paypal-signature.js';
import { PaypalVerifier } from './paypal-verifier.service.js';
import { toWebhookEvent, type WebhookEventRow } from './payment-records.js';

type Queryable = Pick<pg.PoolClient, 'query'>;

/** The headers kept with a delivery (the signature's inputs and what sent it). */
const KEPT_HEADERS = [
  'paypal-transmission-id',
  'paypal-transmission-time',
  'paypal-transmission-sig',
  'paypal-cert-url',
  'paypal-auth-algo',
  'paypal-auth-version',
  'content-type',
  'user-agent',
];

/**
 * PayPal's webhook, in three steps: `receive` stores the delivery (raw bytes and headers, under its
 * event id) before anything else and answers at once; `verify` checks its signature; `process`
 * turns a verified event into a deposit or a refund. Steps 2 and 3 run from a queue (see
 * WebhookQueue), each a no-op for an event already past it, so retries and replicas are harmless.
 */
@Injectable()
export class PaypalWebhooks {
  constructor(
    private readonly database: DatabaseService,
    private readonly verifier: PaypalVerifier,
    private readonly deposits: DepositsService,
    private readonly audit: AuditService,
    private readonly events: EventBus,
    @Inject(CONFIG) private readonly config: Config,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  /**
   * Stores a delivery. What can be told at the door (not JSON, no event id, missing headers, another
   * algorithm, a certificate URL off PayPal's hosts) is refused with 400, stored as rejected. An
   * identical delivery (same event id, same bytes) is counted on the first, not stored again.
   */
  async receive(
    rawBody: Buffer,
    headers: Record<string, string | string[] | undefined>,
  ): Promise<{ receipt: WebhookReceipt; enqueue: boolean }> {
    if (!this.config.VILLAGE_PAYPAL_WEBHOOK_ID) {
      throw new ServiceUnavailableException('PayPal webhooks are not configured here: set VILLAGE_PAYPAL_WEBHOOK_ID');
    }
    let body: unknown;
    let problem: string | null = null;
    try {
      body = JSON.parse(rawBody.toString('utf8'));
    } catch {
      problem = 'the body is not JSON';
    }
    const envelope = problem ? null : envelopeOf(body);
    if (envelope && 'problem' in envelope) problem = envelope.problem;
    const read = transmissionOf(headers);
    if (!problem && 'problem' in read) problem = read.problem;
    if (!problem && 'transmission' in read)
      problem = certUrlProblem(read.transmission.certUrl, this.config.VILLAGE_PAYPAL_CERT_HOSTS);
    const named = envelope && 'id' in envelope ? envelope : null;
    const kept = Object.fromEntries(
      KEPT_HEADERS.flatMap((name) =>
        typeof headers[name] === 'string' ? [[name, String(headers[name]).slice(0, 2000)]] : [],
      ),
    );
    const status = problem ? 'rejected' : 'received';
    const announce: NewWorldEvent[] = [];
    const stored = await this.database.transaction(async (client) => {
      const { rows } = await client.query<{
        id: string;
        status: WebhookEvent['status'];
        error: string | null;
        inserted: boolean;
        previous: WebhookEvent['status'] | null;
      }>(
        `WITH previous AS (
           SELECT status FROM payment_webhook_events WHERE event_id = $1 AND body_sha256 = $3
         )
         INSERT INTO payment_webhook_events (event_id, event_type, body_sha256, raw_body, headers, status, error)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (event_id, body_sha256) DO UPDATE SET
           deliveries = payment_webhook_events.deliveries + 1,
           last_delivery_at = now(),
           -- A refused delivery may come again with other headers (PayPal's retry): it is checked anew.
           headers = CASE WHEN ${REOPEN} THEN EXCLUDED.headers ELSE payment_webhook_events.headers END,
           error = CASE WHEN ${REOPEN} THEN NULL ELSE payment_webhook_events.error END,
           status = CASE WHEN ${REOPEN} THEN 'received' ELSE payment_webhook_events.status END,
           updated_at = now()
         RETURNING id, status, error, (xmax = 0) AS inserted, (SELECT status FROM previous) AS previous`,
        [named?.id ?? null, named?.eventType ?? null, sha256(rawBody), rawBody, JSON.stringify(kept), status, problem],
      );
      const row = rows[0]!;
      const reopened = !row.inserted && row.previous === 'rejected' && row.status === 'received';
      const id = Number(row.id);
      const ref = { webhookEventId: id, paypalEventId: named?.id ?? null, eventType: named?.eventType ?? null };
      if (row.inserted || reopened) {
        await this.audit.record(client, {
          actor: undefined,
          action: problem ? 'payment.webhook_rejected' : 'payment.webhook_received',
          subject: { type: 'payment_webhook_event', id },
          after: { ...ref, status: row.status, error: problem },
          reason: problem,
        });
        announce.push(
          problem ? { type: 'payment.rejected', ...ref, reason: problem } : { type: 'payment.event_received', ...ref },
        );
      }
      return { id, status: row.status, error: row.error, duplicate: !row.inserted && !reopened };
    });
    await this.events.publish(announce);
    if (stored.status === 'rejected') {
      throw new BadRequestException(
        `refused: ${stored.error ?? 'this delivery was refused'} (webhook event ${stored.id})`,
      );
    }
    const receipt = { id: stored.id, status: stored.status, duplicate: stored.duplicate };
    return { receipt, enqueue: stored.status === 'received' || stored.status === 'verified' };
  }

  /** Verification, then processing; each step only for an event still waiting for it. */
  async handle(id: number): Promise<void> {
    const { rows } = await this.database.query<WebhookEventRow & { raw_body: Buffer }>(
      'SELECT * FROM payment_webhook_events WHERE id = $1',
      [id],
    );
    const row = rows[0];
    if (!row) return;
    if (row.status === 'received') {
      await this.database.query(
        'UPDATE payment_webhook_events SET attempts = attempts + 1, updated_at = now() WHERE id = $1',
        [id],
      );
      const verdict = await this.verifier.verify(row.headers, row.raw_body);
      if (!verdict.ok) return this.finish(row, 'rejected', verdict.reason);
      const verified = await this.markVerified(row, verdict.method);
      if (!verified) return;
    } else if (row.status !== 'verified') {
      return;
    }
    await this.process(id);
  }

  /** Retries ran out: recorded as failed, for an admin to retry. */
  async fail(id: number, error: string): Promise<void> {
    const { rows } = await this.database.query<WebhookEventRow>('SELECT * FROM payment_webhook_events WHERE id = $1', [
      id,
    ]);
    if (rows[0] && (rows[0].status === 'received' || rows[0].status === 'verified'))
      await this.finish(rows[0], 'failed', error);
  }

  /** Notes a transient error on the delivery, so operators see why it is being retried. */
  async noteError(id: number, error: string): Promise<void> {
    await this.database.query('UPDATE payment_webhook_events SET error = $2, updated_at = now() WHERE id = $1', [
      id,
      error.slice(0, 1000),
    ]);
  }

  /** An admin sends a failed delivery round again (verification included, if it was not verified). */
  async retry(id: number, principal: Principal, requestId: string | undefined): Promise<WebhookEvent> {
    const event = await this.database.transaction(async (client) => {
      const { rows } = await client.query<WebhookEventRow>(
        `UPDATE payment_webhook_events SET status = CASE WHEN verified_at IS NULL THEN 'received' ELSE 'verified' END,
                error = NULL, updated_at = now()
          WHERE id = $1 AND status = 'failed' RETURNING *`,
        [id],
      );
      if (!rows[0]) {
        const found = await client.query<{ status: string }>(
          'SELECT status FROM payment_webhook_events WHERE id = $1',
          [id],
        );
        if (!found.rows[0]) throw new NotFoundException(`there is no webhook event ${id}`);
        throw new ConflictException(`webhook event ${id} is ${found.rows[0].status}; only failed events are retried`);
      }
      const after = toWebhookEvent(rows[0]);
      await this.audit.record(client, {
        actor: principal,
        action: 'payment.webhook_retried',
        subject: { type: 'payment_webhook_event', id },
        after,
        requestId,
      });
      return after;
    });
    return event;
  }

  private async markVerified(row: WebhookEventRow, method: 'certificate' | 'api'): Promise<boolean> {
    const id = Number(row.id);
    const ref = { webhookEventId: id, paypalEventId: row.event_id, eventType: row.event_type };
    try {
      await this.database.transaction(async (client) => {
        const updated = await client.query(
          `UPDATE payment_webhook_events SET status = 'verified', verified_by = $2, verified_at = now(), error = NULL,
                  updated_at = now() WHERE id = $1 AND status = 'received'`,
          [id, method],
        );
        if (!updated.rowCount) return;
        await this.audit.record(client, {
          actor: undefined,
          action: 'payment.webhook_verified',
          subject: { type: 'payment_webhook_event', id },
          after: { ...ref, method },
        });
      });
    } catch (error) {
      // Another body claiming the same event id was acted on already: this one is a replay.
      if ((error as { constraint?: string }).constraint === 'payment_webhook_events_acted_on_key') {
        await this.finish(row, 'rejected', `event ${row.event_id} was already acted on under another body: a replay`);
        return false;
      }
      throw error;
    }
    await this.events.publish([{ type: 'payment.event_verified', ...ref, method }]);
    return true;
  }

  private async process(id: number): Promise<void> {
    const announce = new Announcements();
    await this.database.transaction(async (client) => {
      const { rows } = await client.query<WebhookEventRow & { raw_body: Buffer }>(
        'SELECT * FROM payment_webhook_events WHERE id = $1 FOR UPDATE',
        [id],
      );
      const row = rows[0];
      if (!row || row.status !== 'verified') return;
      const ref = { webhookEventId: id, paypalEventId: row.event_id, eventType: row.event_type };
      const intent = intentOf(JSON.parse(row.raw_body.toString('utf8')) as Record<string, unknown>);
      if (intent.kind === 'ignore') {
        await this.settle(client, row, 'ignored', { error: intent.reason });
        announce.events.push({ type: 'payment.ignored', ...ref, reason: intent.reason });
        return;
      }
      const amountMinor = parseMoney(intent.value, intent.currency);
      if (amountMinor === null || amountMinor === 0) {
        const reason = `the amount "${intent.value}" is not a positive amount of ${intent.currency}`;
        await this.settle(client, row, 'ignored', { error: reason });
        announce.events.push({ type: 'payment.ignored', ...ref, reason });
        return;
      }
      if (intent.kind === 'capture') {
        const outcome = await this.deposits.captureWith(
          client,
          {
            source: 'paypal',
            transactionId: intent.captureId,
            amountMinor,
            currency: intent.currency,
            requestedAgentId: intent.customId,
            webhookEventId: id,
            enteredBy: null,
            memo: null,
          },
          announce,
        );
        if (outcome.ignored) {
          await this.settle(client, row, 'ignored', {
            error: outcome.ignored,
            note: outcome.note,
            depositId: outcome.depositId,
          });
          announce.events.push({ type: 'payment.ignored', ...ref, reason: outcome.ignored });
        } else {
          await this.settle(client, row, 'processed', { note: outcome.note, depositId: outcome.depositId });
        }
        return;
      }
      const outcome = await this.deposits.refundWith(
        client,
        {
          refundId: intent.refundId,
          kind: intent.refundKind,
          transactionId: intent.captureId,
          amountMinor,
          currency: intent.currency,
          webhookEventId: id,
        },
        announce,
      );
      await this.settle(client, row, 'processed', { note: outcome.note, refundId: outcome.refundId });
    });
    await this.deposits.publish(announce);
  }

  /** The delivery's final state, audited, in the caller's transaction. */
  private async settle(
    client: Queryable,
    row: WebhookEventRow,
    status: 'processed' | 'ignored',
    outcome: { error?: string; note?: string; depositId?: number; refundId?: number },
  ) {
    await client.query(
      `UPDATE payment_webhook_events SET status = $2, error = $3, note = $4, deposit_id = $5, refund_id = $6,
              processed_at = now(), updated_at = now() WHERE id = $1`,
      [
        row.id,
        status,
        outcome.error ?? null,
        outcome.note ?? null,
        outcome.depositId ?? null,
        outcome.refundId ?? null,
      ],
    );
    await this.audit.record(client, {
      actor: undefined,
      action: status === 'processed' ? 'payment.webhook_processed' : 'payment.webhook_ignored',
      subject: { type: 'payment_webhook_event', id: row.id },
      after: { eventId: row.event_id, eventType: row.event_type, status, ...outcome },
      reason: outcome.error ?? null,
    });
  }

  private async finish(row: WebhookEventRow, status: 'rejected' | 'failed', reason: string) {
    const id = Number(row.id);
    const changed = await this.database.transaction(async (client) => {
      const updated = await client.query(
        `UPDATE payment_webhook_events SET status = $2, error = $3, updated_at = now()
          WHERE id = $1 AND status IN ('received', 'verified')`,
        [id, status, reason],
      );
      if (!updated.rowCount) return false;
      await this.audit.record(client, {
        actor: undefined,
        action: status === 'rejected' ? 'payment.webhook_rejected' : 'payment.webhook_failed',
        subject: { type: 'payment_webhook_event', id },
        after: { eventId: row.event_id, eventType: row.event_type, status, error: reason },
        reason,
      });
      return true;
    });
    if (!changed) return;
    if (status === 'failed')
      this.logger.error({ webhookEventId: id, error: reason }, 'PayPal webhook event failed; retries ran out');
    const ref = { webhookEventId: id, paypalEventId: row.event_id, eventType: row.event_type };
    await this.events.publish([
      status === 'rejected'
        ? { type: 'payment.rejected', ...ref, reason }
        : { type: 'payment.event_failed', ...ref, error: reason },
    ]);
  }
}

/** In the upsert: the stored delivery was refused, and this one has other headers and passed the door. */
const REOPEN = `payment_webhook_events.status = 'rejected' AND EXCLUDED.status = 'received'
  AND payment_webhook_events.headers IS DISTINCT FROM EXCLUDED.headers`;

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}
