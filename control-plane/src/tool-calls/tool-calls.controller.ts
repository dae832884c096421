import { Body, Controller, Get, HttpCode, Param, Post, Query, Res } from '@nestjs/common';
import type { Response } from 'express';
import {
  ToolCallBatchRequestSchema,
  type ToolCall,
  type ToolCallBatchRequest,
  type ToolCallBatchResult,
} from '../contract/index.js';
import { Access } from '../auth/principal.js';
import { NumericIdPipe } from '../http/id.pipe.js';
import { parseListQuery, setContentRange } from '../http/list-query.js';
import { SchemaPipe } from '../http/schema.pipe.js';
import { TOOL_CALL_SORT_FIELDS, ToolCallsService } from './tool-calls.service.js';

@Controller()
export class ToolCallsController {
  constructor(private readonly toolCalls: ToolCallsService) {}

  /** The agent reports the tool calls it ran (its own token only; or an admin). */
  @Post('agents/:id/tool-calls')
  @Access('agent-self')
  @HttpCode(201)
  report(
    @Param('id') agentId: string,
    @Body(new SchemaPipe(ToolCallBatchRequestSchema)) body: ToolCallBatchRequest,
  ): Promise<ToolCallBatchResult> {
    return this.toolCalls.record(agentId, body.calls);
  }

  /** The log, newest first by default (moderators). */
  @Get('tool-calls')
  @Access('moderator')
  async list(
    @Query() query: Record<string, unknown>,
    @Res({ passthrough: true }) response: Response,
  ): Promise<ToolCall[]> {
    const list = parseListQuery(query, TOOL_CALL_SORT_FIELDS, ['id', 'DESC']);
    const { items, total } = await this.toolCalls.list(list);
    setContentRange(response, 'tool-calls', list.offset, items.length, total);
    return items;
  }

  @Get('tool-calls/:id')
  @Access('moderator')
  get(@Param('id', new NumericIdPipe('the tool call id')) id: number): Promise<ToolCall> {
    return this.toolCalls.get(id);
  }
}
