import { Body, Controller, HttpCode, Param, Post, Req } from '@nestjs/common';
import { Access } from '../auth/principal.js';
import {
  FlagRequestSchema,
  ReplyModerationRequestSchema,
  type Flag,
  type HelpfulMark,
  type Reply,
  type ReplyModerationAction,
} from '../contract/index.js';
import { NumericIdPipe } from '../http/id.pipe.js';
import { SchemaPipe } from '../http/schema.pipe.js';
import { HelpfulMarksService } from './helpful-marks.service.js';
import { ModerationService } from './moderation.service.js';
import { writeContext, type BoardRequest } from './posts.controller.js';

const replyId = new NumericIdPipe('reply id');

/** Flags, helpful marks and moderation of single replies: `/api/replies/:id/...`. */
@Controller('replies')
export class RepliesController {
  constructor(
    private readonly moderation: ModerationService,
    private readonly helpful: HelpfulMarksService,
  ) {}

  /** A person found the reply helpful (once); the default reward flow rewards its agent. */
  @Post(':id/helpful')
  @Access('person')
  @HttpCode(200)
  markHelpful(@Param('id', replyId) id: number, @Req() request: BoardRequest): Promise<HelpfulMark> {
    return this.helpful.mark(id, writeContext(request));
  }

  @Post(':id/flags')
  @Access('person')
  flag(
    @Param('id', replyId) id: number,
    @Body(new SchemaPipe(FlagRequestSchema)) body: { reason: string },
    @Req() request: BoardRequest,
  ): Promise<Flag> {
    return this.moderation.flag({ replyId: id }, body.reason, writeContext(request));
  }

  @Post(':id/moderation')
  @Access('moderator')
  @HttpCode(200)
  moderate(
    @Param('id', replyId) id: number,
    @Body(new SchemaPipe(ReplyModerationRequestSchema)) body: { action: ReplyModerationAction; reason: string },
    @Req() request: BoardRequest,
  ): Promise<Reply> {
    return this.moderation.moderateReply(id, body.action, body.reason, writeContext(request));
  }
}
