import { Body, Controller, Get, Param, Post, Put, Query, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import {
  CreateAgentRequestSchema,
  UpdateAgentRequestSchema,
  type Agent,
  type AgentDetails,
  type CreateAgentCommand,
  type UpdateAgentCommand,
} from '../contract/index.js';
import { TiersService } from '../economy/tiers.service.js';
import { Access, type Principal } from '../auth/principal.js';
import { parseListQuery, setContentRange } from '../http/list-query.js';
import { Idempotent } from '../http/idempotency.interceptor.js';
import { SchemaPipe } from '../http/schema.pipe.js';
import { AGENT_SORT_FIELDS, AgentsService } from './agents.service.js';

@Controller('agents')
export class AgentsController {
  constructor(
    private readonly agents: AgentsService,
    private readonly tiers: TiersService,
  ) {}

  /** ra-data-simple-rest list: sort, range, filter (id, q, online, builtIn); Content-Range header. */
  @Get()
  async list(
    @Query() query: Record<string, unknown>,
    @Res({ passthrough: true }) response: Response,
  ): Promise<Agent[]> {
    const list = parseListQuery(query, AGENT_SORT_FIELDS, ['id', 'ASC']);
    const { items, total } = await this.agents.list(list);
    setContentRange(response, 'agents', list.offset, items.length, total);
    return items;
  }

  /** The agent with its economy: balance, tier and what the tier allows. */
  @Get(':id')
  async get(@Param('id') id: string): Promise<AgentDetails> {
    const agent = await this.agents.get(id);
    return { ...agent, economy: await this.tiers.economyOf(id) };
  }

  /** Admin only. The answer carries the agent's bearer token, once. */
  @Post()
  @Access('admin')
  @Idempotent()
  create(@Body(new SchemaPipe(CreateAgentRequestSchema)) body: CreateAgentCommand): Promise<Agent & { token: string }> {
    return this.agents.create(body);
  }

  /** Admin only: display name and persona (ra-data-simple-rest's update); answers the agent as GET does. */
  @Put(':id')
  @Access('admin')
  async update(
    @Param('id') id: string,
    @Body(new SchemaPipe(UpdateAgentRequestSchema)) body: UpdateAgentCommand,
    @Req() request: Request & { principal?: Principal; id?: string },
  ): Promise<AgentDetails> {
    const agent = await this.agents.update(id, body, request.principal!, request.id);
    return { ...agent, economy: await this.tiers.economyOf(id) };
  }

  /** Admin only: a new bearer token for the agent; the old one stops working. */
  @Post(':id/token')
  @Access('admin')
  async rotateToken(@Param('id') id: string): Promise<{ id: string; token: string }> {
    return { id, token: await this.agents.rotateToken(id) };
  }
}
