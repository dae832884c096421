import {
  Body,
  ConflictException,
  Controller,
  Delete,
  Get,
  HttpCode,
  Param,
  Post,
  Put,
  Query,
  Req,
  Res,
} from '@nestjs/common';
import type { Request, Response } from 'express';
import {
  ModelPriceRequestSchema,
  PutLlmUpstreamRequestSchema,
  type PutLlmUpstreamCommand,
  ResumeComputeRequestSchema,
  UpstreamNameSchema,
  type AgentEconomy,
  type LlmUpstream,
  type ModelPrice,
  type ModelPriceRequest,
  type PausedAgent,
  type QueueStats,
  type SpendSummary,
  type UsageRecord,
} from '../contract/index.js';
import { Access, type Principal } from '../auth/principal.js';
import { TiersService } from '../economy/tiers.service.js';
import { NumericIdPipe } from '../http/id.pipe.js';
import { parseListQuery, setContentRange } from '../http/list-query.js';
import { SchemaPipe } from '../http/schema.pipe.js';
import { AdmissionQueue } from './admission-queue.service.js';
import { LlmPrices } from './llm-prices.service.js';
import { LlmUpstreams } from './llm-upstreams.service.js';
import { LoopBreaker, PAUSED_AGENT_SORT_FIELDS } from './loop-breaker.service.js';
import { USAGE_SORT_FIELDS, UsageService } from './usage.service.js';

type AdminRequest = Request & { principal?: Principal };

/** Operating the gateway: upstreams and prices (admins), the queue and paused agents (moderators). */
@Controller('llm')
export class LlmAdminController {
  constructor(
    private readonly upstreams: LlmUpstreams,
    private readonly prices: LlmPrices,
    private readonly queue: AdmissionQueue,
    private readonly loopBreaker: LoopBreaker,
  ) {}

  /** Every upstream with its health and calls in flight (API keys are never shown). */
  @Get('upstreams')
  @Access('admin')
  async listUpstreams(@Res({ passthrough: true }) response: Response): Promise<LlmUpstream[]> {
    const items = await this.upstreams.status();
    setContentRange(response, 'upstreams', 0, items.length, items.length);
    return items;
  }

  @Put('upstreams/:name')
  @Access('admin')
  putUpstream(
    @Param('name') name: string,
    @Body(new SchemaPipe(PutLlmUpstreamRequestSchema)) body: PutLlmUpstreamCommand,
    @Req() request: AdminRequest,
  ): Promise<LlmUpstream> {
    return this.upstreams.put(
      new SchemaPipe(UpstreamNameSchema, 'upstream name').transform(name),
      body,
      request.principal!,
    );
  }

  @Delete('upstreams/:name')
  @Access('admin')
  @HttpCode(204)
  async removeUpstream(@Param('name') name: string, @Req() request: AdminRequest): Promise<void> {
    await this.upstreams.remove(name, request.principal!);
  }

  /** What each model costs (public: agents plan with it). */
  @Get('models')
  async listModels(@Res({ passthrough: true }) response: Response): Promise<ModelPrice[]> {
    const items = await this.prices.list(this.upstreams.servedModels());
    setContentRange(response, 'models', 0, items.length, items.length);
    return items;
  }

  @Put('models/:name')
  @Access('admin')
  priceModel(
    @Param('name') name: string,
    @Body(new SchemaPipe(ModelPriceRequestSchema)) body: ModelPriceRequest,
    @Req() request: AdminRequest,
  ): Promise<ModelPrice> {
    return this.prices.put(name.slice(0, 100), body, request.principal!);
  }

  @Get('queue')
  @Access('moderator')
  queueStats(): Promise<QueueStats> {
    return this.queue.stats();
  }

  /** Agents whose LLM calls are paused, longest first by default (ra-data-simple-rest: sort and range). */
  @Get('paused-agents')
  @Access('moderator')
  async pausedAgents(
    @Query() query: Record<string, unknown>,
    @Res({ passthrough: true }) response: Response,
  ): Promise<PausedAgent[]> {
    const list = parseListQuery(query, PAUSED_AGENT_SORT_FIELDS, ['pausedAt', 'ASC']);
    const { items, total } = await this.loopBreaker.paused(list);
    setContentRange(response, 'paused-agents', list.offset, items.length, total);
    return items;
  }
}

/** Usage records (moderators, ra-data-simple-rest) and an agent's spending (public, like its balance). */
@Controller('usage')
export class UsageController {
  constructor(
    private readonly usage: UsageService,
    private readonly tiers: TiersService,
  ) {}

  @Get()
  @Access('moderator')
  async list(
    @Query() query: Record<string, unknown>,
    @Res({ passthrough: true }) response: Response,
  ): Promise<UsageRecord[]> {
    const list = parseListQuery(query, USAGE_SORT_FIELDS, ['id', 'DESC']);
    const { items, total } = await this.usage.list(list);
    setContentRange(response, 'usage', list.offset, items.length, total);
    return items;
  }

  @Get(':id')
  @Access('moderator')
  get(@Param('id', new NumericIdPipe('usage record id')) id: number): Promise<UsageRecord> {
    return this.usage.get(id);
  }

  @Get('summary/:agentId')
  async summary(@Param('agentId') agentId: string, @Query('since') since: string | undefined): Promise<SpendSummary> {
    await this.tiers.economyOf(agentId); // 404 for an unknown agent
    return this.usage.summary(agentId, since);
  }
}

/** `POST /api/agents/:id/compute/pause|resume`: a moderator stops an agent's LLM calls, or lets it think again. */
@Controller('agents')
export class ComputePauseController {
  constructor(
    private readonly loopBreaker: LoopBreaker,
    private readonly tiers: TiersService,
  ) {}

  /** A moderator (or a flow) stops a misbehaving agent's LLM calls until someone resumes it. */
  @Post(':id/compute/pause')
  @Access('moderator')
  @HttpCode(200)
  async pause(
    @Param('id') id: string,
    @Body(new SchemaPipe(ResumeComputeRequestSchema)) body: { reason: string },
    @Req() request: AdminRequest,
  ): Promise<AgentEconomy> {
    await this.tiers.economyOf(id); // 404 for an unknown agent
    if (!(await this.loopBreaker.pause(id, body.reason, request.principal!))) {
      throw new ConflictException(`agent ${id}'s compute is already paused`);
    }
    return this.tiers.economyOf(id);
  }

  @Post(':id/compute/resume')
  @Access('moderator')
  @HttpCode(200)
  async resume(
    @Param('id') id: string,
    @Body(new SchemaPipe(ResumeComputeRequestSchema)) body: { reason: string },
    @Req() request: AdminRequest,
  ): Promise<AgentEconomy> {
    await this.tiers.economyOf(id); // 404 for an unknown agent
    await this.loopBreaker.resume(id, body.reason, request.principal!);
    return this.tiers.economyOf(id);
  }
}
