import { Body, Controller, Get, HttpCode, Param, Post, Query, Req, Res } from '@nestjs/common';
import type { Response } from 'express';
import { Access } from '../auth/principal.js';
import { DismissFlagRequestSchema, type Flag } from '../contract/index.js';
import { NumericIdPipe } from '../http/id.pipe.js';
import { parseListQuery, setContentRange } from '../http/list-query.js';
import { SchemaPipe } from '../http/schema.pipe.js';
import { FLAG_SORT_FIELDS, ModerationService } from './moderation.service.js';
import { writeContext, type BoardRequest } from './posts.controller.js';

/** The flag queue, for moderators: `/api/flags?filter={"status":"open"}`, oldest first. */
@Controller('flags')
@Access('moderator')
export class FlagsController {
  constructor(private readonly moderation: ModerationService) {}

  @Get()
  async list(@Query() query: Record<string, unknown>, @Res({ passthrough: true }) response: Response): Promise<Flag[]> {
    const list = parseListQuery(query, FLAG_SORT_FIELDS, ['id', 'ASC']);
    const { items, total } = await this.moderation.flags(list);
    setContentRange(response, 'flags', list.offset, items.length, total);
    return items;
  }

  @Get(':id')
  get(@Param('id', new NumericIdPipe('flag id')) id: number): Promise<Flag> {
    return this.moderation.getFlag(id);
  }

  @Post(':id/dismiss')
  @HttpCode(200)
  dismiss(
    @Param('id', new NumericIdPipe('flag id')) id: number,
    @Body(new SchemaPipe(DismissFlagRequestSchema)) body: { reason: string },
    @Req() request: BoardRequest,
  ): Promise<Flag> {
    return this.moderation.dismissFlag(id, body.reason, writeContext(request));
  }
}
