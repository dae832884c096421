import {
  Body,
  Controller,
  Get,
  HttpCode,
  InternalServerErrorException,
  Param,
  Post,
  Query,
  Req,
  Res,
} from '@nestjs/common';
import type { Request, Response } from 'express';
import { z } from 'zod';
import {
  AssignDepositRequestSchema,
  ManualDepositRequestSchema,
  type AssignDepositRequest,
  type Deposit,
  type DepositRefund,
  type ManualDepositRequest,
  type Reconciliation,
  type WebhookEvent,
  type WebhookEventDetails,
  type WebhookReceipt,
} from '../contract/index.js';
import { Access, type Principal } from '../auth/principal.js';
import { NumericIdPipe } from '../http/id.pipe.js';
import { parseListQuery, setContentRange } from '../http/list-query.js';
import { SchemaPipe } from '../http/schema.pipe.js';
import { DepositsService } from './deposits.service.js';
import {
  DEPOSIT_SORT_FIELDS,
  PaymentsReader,
  REFUND_SORT_FIELDS,
  WEBHOOK_EVENT_SORT_FIELDS,
} from './payments-reader.service.js';
import { PaypalWebhooks } from './paypal-webhooks.service.js';
import { ReconciliationService, reconciliationCsv } from './reconciliation.service.js';
import { WebhookQueue } from './webhook-queue.service.js';

type PaymentsRequest = Request & { principal?: Principal; id?: string };

const depositId = new NumericIdPipe('deposit id');
const webhookEventId = new NumericIdPipe('webhook event id');

const ReconciliationQuerySchema = z
  .object({
    from: z.iso.datetime({ offset: true, error: 'from must be an ISO 8601 date-time' }).optional(),
    to: z.iso.datetime({ offset: true, error: 'to must be an ISO 8601 date-time' }).optional(),
    format: z.enum(['json', 'csv'], { error: 'format must be json or csv' }).default('json'),
  })
  .strict();

/** PayPal's webhook: public (PayPal has no token); what makes it PayPal's is the signature. */
@Controller('payments/paypal')
export class PaypalWebhookController {
  constructor(
    private readonly webhooks: PaypalWebhooks,
    private readonly queue: WebhookQueue,
  ) {}

  @Post('webhook')
  @HttpCode(200)
  async receive(@Req() request: PaymentsRequest): Promise<WebhookReceipt> {
    // The raw parser in front (payments/raw-body.ts) must have kept the bytes; parsed JSON cannot be verified.
    const body: unknown = request.body;
    if (body !== undefined && !Buffer.isBuffer(body)) {
      throw new InternalServerErrorException('the webhook did not get the raw request body');
    }
    const { receipt, enqueue } = await this.webhooks.receive(body ?? Buffer.alloc(0), request.headers);
    // Stored is what PayPal needs to hear; if the queue is away, the sweep queues it later.
    if (enqueue) await this.queue.enqueue(receipt.id).catch(() => undefined);
    return receipt;
  }
}

/** Deposits, refunds, webhook deliveries and the reconciliation: moderators read, admins act. */
@Controller('payments')
export class PaymentsController {
  constructor(
    private readonly deposits: DepositsService,
    private readonly reader: PaymentsReader,
    private readonly webhooks: PaypalWebhooks,
    private readonly queue: WebhookQueue,
    private readonly reconciliation: ReconciliationService,
  ) {}

  @Get('deposits')
  @Access('moderator')
  async listDeposits(
    @Query() query: Record<string, unknown>,
    @Res({ passthrough: true }) response: Response,
  ): Promise<Deposit[]> {
    const list = parseListQuery(query, DEPOSIT_SORT_FIELDS, ['id', 'DESC']);
    const { items, total } = await this.reader.deposits(list);
    setContentRange(response, 'deposits', list.offset, items.length, total);
    return items;
  }

  @Get('deposits/:id')
  @Access('moderator')
  getDeposit(@Param('id', depositId) id: number): Promise<Deposit> {
    return this.reader.deposit(id);
  }

  /** An admin enters a PayPal transaction by hand: 201 the first time, 200 with the same deposit after. */
  @Post('deposits')
  @Access('admin')
  async enter(
    @Body(new SchemaPipe(ManualDepositRequestSchema)) body: ManualDepositRequest,
    @Req() request: PaymentsRequest,
    @Res({ passthrough: true }) response: Response,
  ): Promise<Deposit> {
    const { deposit, created } = await this.deposits.enterManual(body, request.principal!, request.id);
    response.status(created ? 201 : 200);
    return deposit;
  }

  @Post('deposits/:id/assign')
  @Access('admin')
  @HttpCode(200)
  assign(
    @Param('id', depositId) id: number,
    @Body(new SchemaPipe(AssignDepositRequestSchema)) body: AssignDepositRequest,
    @Req() request: PaymentsRequest,
  ): Promise<Deposit> {
    return this.deposits.assign(id, body, request.principal!, request.id);
  }

  @Get('refunds')
  @Access('moderator')
  async listRefunds(
    @Query() query: Record<string, unknown>,
    @Res({ passthrough: true }) response: Response,
  ): Promise<DepositRefund[]> {
    const list = parseListQuery(query, REFUND_SORT_FIELDS, ['id', 'DESC']);
    const { items, total } = await this.reader.refunds(list);
    setContentRange(response, 'refunds', list.offset, items.length, total);
    return items;
  }

  @Get('webhook-events')
  @Access('moderator')
  async listWebhookEvents(
    @Query() query: Record<string, unknown>,
    @Res({ passthrough: true }) response: Response,
  ): Promise<WebhookEvent[]> {
    const list = parseListQuery(query, WEBHOOK_EVENT_SORT_FIELDS, ['id', 'DESC']);
    const { items, total } = await this.reader.webhookEvents(list);
    setContentRange(response, 'webhook-events', list.offset, items.length, total);
    return items;
  }

  @Get('webhook-events/:id')
  @Access('moderator')
  getWebhookEvent(@Param('id', webhookEventId) id: number): Promise<WebhookEventDetails> {
    return this.reader.webhookEvent(id);
  }

  /** A failed delivery goes round again (retries ran out while PayPal or the database was away). */
  @Post('webhook-events/:id/retry')
  @Access('admin')
  @HttpCode(200)
  async retry(@Param('id', webhookEventId) id: number, @Req() request: PaymentsRequest): Promise<WebhookEvent> {
    const event = await this.webhooks.retry(id, request.principal!, request.id);
    await this.queue.enqueue(id);
    return event;
  }

  /** Deposits against the ledger; `?format=csv` for a spreadsheet, `from`/`to` to bound it. */
  @Get('reconciliation')
  @Access('moderator')
  async reconcile(
    @Query(new SchemaPipe(ReconciliationQuerySchema, 'query')) query: z.infer<typeof ReconciliationQuerySchema>,
    @Res({ passthrough: true }) response: Response,
  ): Promise<Reconciliation | string> {
    const report = await this.reconciliation.report(
      query.from ? new Date(query.from) : null,
      query.to ? new Date(query.to) : null,
    );
    if (query.format === 'json') return report;
    response.setHeader('Content-Type', 'text/csv; charset=utf-8');
    response.setHeader('Content-Disposition', 'attachment; filename="reconciliation.csv"');
    return reconciliationCsv(report);
  }
}
