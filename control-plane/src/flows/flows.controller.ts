import { Body, Controller, Get, HttpCode, Param, Post, Query, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { Access, type Principal } from '../auth/principal.js';
import {
  RollbackFlowsRequestSchema,
  type FlowDeploy,
  type FlowDeployDetails,
  type RollbackFlowsRequest,
} from '../contract/index.js';
import { NumericIdPipe } from '../http/id.pipe.js';
import { parseListQuery, setContentRange } from '../http/list-query.js';
import { SchemaPipe } from '../http/schema.pipe.js';
import { FLOW_DEPLOY_SORT_FIELDS, FlowStore } from './flow-store.js';
import { FlowsRuntime } from './flows-runtime.service.js';

const deployId = new NumericIdPipe('deploy id');

/** `/api/flows/deploys`: the flows' deploy history (ra-data-simple-rest) and rollback, for admins. */
@Controller('flows/deploys')
@Access('admin')
export class FlowsController {
  constructor(
    private readonly store: FlowStore,
    private readonly runtime: FlowsRuntime,
  ) {}

  @Get()
  async list(
    @Query() query: Record<string, unknown>,
    @Res({ passthrough: true }) response: Response,
  ): Promise<FlowDeploy[]> {
    const list = parseListQuery(query, FLOW_DEPLOY_SORT_FIELDS, ['id', 'DESC']);
    const { items, total } = await this.store.list(list);
    setContentRange(response, 'deploys', list.offset, items.length, total);
    return items;
  }

  @Get(':id')
  get(@Param('id', deployId) id: number): Promise<FlowDeployDetails> {
    return this.store.get(id);
  }

  /** Runs deploy `id`'s flows (and credentials) again, as a new deploy that names it. */
  @Post(':id/rollback')
  @HttpCode(200)
  rollback(
    @Param('id', deployId) id: number,
    @Body(new SchemaPipe(RollbackFlowsRequestSchema)) body: RollbackFlowsRequest,
    @Req() request: Request & { principal?: Principal },
  ): Promise<FlowDeploy> {
    return this.runtime.rollback(id, body.reason, request.principal!);
  }
}
