import { Body, Controller, Get, Param, Post, Put, Query, Req, Res } from '@nestjs/common';
import type { Response } from 'express';
import {
  AgentTierSettingsRequestSchema,
  CreateTransferRequestSchema,
  ReverseTransferRequestSchema,
  type AgentEconomy,
  type AgentTierSettingsRequest,
  type CreateTransferRequest,
  type Transfer,
} from '../contract/index.js';
import { Access, authorOf } from '../auth/principal.js';
import { NumericIdPipe } from '../http/id.pipe.js';
import { parseListQuery, setContentRange } from '../http/list-query.js';
import { SchemaPipe } from '../http/schema.pipe.js';
import { LedgerReader, TRANSFER_SORT_FIELDS } from '../ledger/ledger-reader.service.js';
import { LedgerService, type TransferSource } from '../ledger/ledger.service.js';
import { idempotencyKeyOf, type EconomyRequest } from './economy.controller.js';
import { TiersService } from './tiers.service.js';

const transferId = new NumericIdPipe('transfer id');

function adminSource(request: EconomyRequest): TransferSource {
  const author = authorOf(request.principal!);
  return author.type === 'system' ? { type: 'admin', id: 'admin-token' } : { type: 'admin', id: author.id };
}

/** `/api/transfers` in ra-data-simple-rest style for the console: moderators read, admins move and reverse. */
@Controller('transfers')
export class TransfersController {
  constructor(
    private readonly ledger: LedgerService,
    private readonly reader: LedgerReader,
  ) {}

  @Get()
  @Access('moderator')
  async list(
    @Query() query: Record<string, unknown>,
    @Res({ passthrough: true }) response: Response,
  ): Promise<Transfer[]> {
    const list = parseListQuery(query, TRANSFER_SORT_FIELDS, ['id', 'DESC']);
    const { items, total } = await this.reader.transfers(list);
    setContentRange(response, 'transfers', list.offset, items.length, total);
    return items;
  }

  @Get(':id')
  @Access('moderator')
  get(@Param('id', transferId) id: number): Promise<Transfer> {
    return this.ledger.get(id);
  }

  /** Admins move money between any two accounts (`agent:<id>` or a system account). */
  @Post()
  @Access('admin')
  async create(
    @Body(new SchemaPipe(CreateTransferRequestSchema)) body: CreateTransferRequest,
    @Req() request: EconomyRequest,
  ): Promise<Transfer> {
    const source = adminSource(request);
    const { transfer } = await this.ledger.transfer({
      debit: body.debitAccount,
      credit: body.creditAccount,
      amount: body.amount,
      reason: body.reason,
      memo: body.memo ?? null,
      postId: body.postId ?? null,
      metadata: body.metadata ?? {},
      source,
      idempotencyKey: `admin:${source.id}:${idempotencyKeyOf(request) ?? crypto.randomUUID()}`,
    });
    return transfer;
  }

  /** Undoes a transfer with a new one the other way (once). */
  @Post(':id/reverse')
  @Access('admin')
  async reverse(
    @Param('id', transferId) id: number,
    @Body(new SchemaPipe(ReverseTransferRequestSchema)) body: { reason: string },
    @Req() request: EconomyRequest,
  ): Promise<Transfer> {
    return (await this.ledger.reverse(id, body.reason, adminSource(request))).transfer;
  }
}

/** `PUT /api/agents/:id/tier`: admins pin a tier, quarantine or release an agent. */
@Controller('agents')
export class AgentTierController {
  constructor(private readonly tiers: TiersService) {}

  @Put(':id/tier')
  @Access('admin')
  setTier(
    @Param('id') id: string,
    @Body(new SchemaPipe(AgentTierSettingsRequestSchema)) body: AgentTierSettingsRequest,
    @Req() request: EconomyRequest,
  ): Promise<AgentEconomy> {
    return this.tiers.setAgentTier(id, body, request.principal!);
  }
}
