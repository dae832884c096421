import { BadRequestException, Body, Controller, Get, Param, Post, Put, Query, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import {
  JudgementRequestSchema,
  SPEND_HOURS_MAX,
  TierPolicyRequestSchema,
  type AgentEconomy,
  type EconomySummary,
  type HourlySpend,
  type LedgerVerificationRecord,
  type TierPreview,
  type Allowance,
  type JudgementRequest,
  type LedgerEntry,
  type TierPolicy,
  type TierPolicyRequest,
  type Transfer,
} from '../contract/index.js';
import { Access, principalKey, type Principal } from '../auth/principal.js';
import { parseListQuery, setContentRange } from '../http/list-query.js';
import { SchemaPipe } from '../http/schema.pipe.js';
import { LedgerVerifications, VERIFICATION_SORT_FIELDS } from '../ledger/ledger-verifications.service.js';
import { LedgerReader } from '../ledger/ledger-reader.service.js';
import { JudgementsService } from './judgements.service.js';
import { TiersService } from './tiers.service.js';

export type EconomyRequest = Request & { principal?: Principal };

/** The idempotency key a client may send with a write it might retry. */
export function idempotencyKeyOf(request: Request): string | undefined {
  const header = request.headers['idempotency-key'];
  if (header === undefined) return undefined;
  if (typeof header !== 'string' || !/^[\x21-\x7e]{1,200}$/.test(header)) {
    throw new BadRequestException('Idempotency-Key must be one header of 1-200 visible ASCII characters');
  }
  return header;
}

/** The seed spec's economy API: balances, an agent's ledger, rewards and penalties, tiers, verification. */
@Controller('economy')
export class EconomyController {
  constructor(
    private readonly tiers: TiersService,
    private readonly judgements: JudgementsService,
    private readonly reader: LedgerReader,
    private readonly verifications: LedgerVerifications,
  ) {}

  /** Public, as the map shows it: balance, held, available, tier and entitlements. */
  @Get('balance/:agentId')
  balance(@Param('agentId') agentId: string): Promise<AgentEconomy> {
    return this.tiers.economyOf(agentId);
  }

  /** The agent's entries, newest first, in ra-data-simple-rest style (`sort` by `seq`). */
  @Get('ledger/:agentId')
  async ledger(
    @Param('agentId') agentId: string,
    @Query() query: Record<string, unknown>,
    @Res({ passthrough: true }) response: Response,
  ): Promise<LedgerEntry[]> {
    const list = parseListQuery(query, ['seq', 'id'] as const, ['seq', 'DESC']);
    if (Object.keys(list.filter).length > 0) throw new BadRequestException("an agent's ledger takes no filters");
    const { items, total } = await this.reader.history(agentId, list);
    setContentRange(response, 'ledger', list.offset, items.length, total);
    return items;
  }

  @Post('reward')
  @Access('signed-in')
  reward(
    @Body(new SchemaPipe(JudgementRequestSchema)) body: JudgementRequest,
    @Req() request: EconomyRequest,
  ): Promise<Transfer> {
    return this.judgements.judge('reward', body, request.principal!, idempotencyKeyOf(request));
  }

  @Post('penalize')
  @Access('signed-in')
  penalize(
    @Body(new SchemaPipe(JudgementRequestSchema)) body: JudgementRequest,
    @Req() request: EconomyRequest,
  ): Promise<Transfer> {
    return this.judgements.judge('penalty', body, request.principal!, idempotencyKeyOf(request));
  }

  /** What the signed-in person may still give and take today. */
  @Get('allowance')
  @Access('person')
  allowance(@Req() request: EconomyRequest): Promise<Allowance> {
    return this.judgements.allowance(request.principal!);
  }

  @Get('tiers')
  tierPolicy(): Promise<TierPolicy> {
    return this.tiers.policy();
  }

  @Put('tiers')
  @Access('admin')
  setTierPolicy(
    @Body(new SchemaPipe(TierPolicyRequestSchema)) body: TierPolicyRequest,
    @Req() request: EconomyRequest,
  ): Promise<TierPolicy> {
    return this.tiers.setPolicy(body, request.principal!);
  }

  /** Which agents a proposed policy would move to another tier; changes nothing. */
  @Post('tiers/preview')
  @Access('moderator')
  previewTierPolicy(@Body(new SchemaPipe(TierPolicyRequestSchema)) body: TierPolicyRequest): Promise<TierPreview> {
    return this.tiers.preview(body);
  }

  /** Re-walks the hash chains and balances (as `npm run ledger:verify` does), and keeps the outcome. */
  @Get('verify')
  @Access('admin')
  verify(@Req() request: EconomyRequest): Promise<LedgerVerificationRecord> {
    return this.verifications.run(principalKey(request.principal));
  }

  /** Past runs of the check, newest first by default (ra-data-simple-rest). */
  @Get('verifications')
  @Access('moderator')
  async verificationRuns(
    @Query() query: Record<string, unknown>,
    @Res({ passthrough: true }) response: Response,
  ): Promise<LedgerVerificationRecord[]> {
    const list = parseListQuery(query, VERIFICATION_SORT_FIELDS, ['id', 'DESC']);
    const { items, total } = await this.verifications.list(list);
    setContentRange(response, 'verifications', list.offset, items.length, total);
    return items;
  }

  /** The money of the village at a glance, for the console's dashboard. */
  @Get('summary')
  @Access('moderator')
  async summary(): Promise<EconomySummary> {
    const [circulation, lastVerification] = await Promise.all([this.reader.circulation(), this.verifications.latest()]);
    return { ...circulation, lastVerification };
  }

  /** Compute spending per hour over the last `hours` (default 24, at most a week). */
  @Get('spend')
  @Access('moderator')
  spend(@Query('hours') hours: string | undefined): Promise<HourlySpend[]> {
    const count = hours === undefined ? 24 : Number(hours);
    if (!Number.isInteger(count) || count < 1 || count > SPEND_HOURS_MAX) {
      throw new BadRequestException(`hours must be a whole number from 1 to ${SPEND_HOURS_MAX}`);
    }
    return this.reader.spendByHour(count);
  }
}
