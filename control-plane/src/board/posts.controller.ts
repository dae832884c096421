import { Body, Controller, Get, HttpCode, Param, Patch, Post, Query, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { Access, type Principal } from '../auth/principal.js';
import {
  CreatePostRequestSchema,
  CreateReplyRequestSchema,
  FlagRequestSchema,
  ModerationRequestSchema,
  UpdatePostRequestSchema,
  type CreatePostCommand,
  type Flag,
  type ModerationAction,
  type Post as BoardPost,
  type Reply,
  type Thread,
  type UpdatePostCommand,
} from '../contract/index.js';
import { NumericIdPipe } from '../http/id.pipe.js';
import { Idempotent } from '../http/idempotency.interceptor.js';
import { parseListQuery, setContentRange } from '../http/list-query.js';
import { SchemaPipe } from '../http/schema.pipe.js';
import { ModerationService } from './moderation.service.js';
import { POST_SORT_FIELDS } from './post-filter.js';
import { PostsService, type WriteContext } from './posts.service.js';

export type BoardRequest = Request & { id?: string; principal?: Principal };

export function writeContext(request: BoardRequest): WriteContext {
  const key = request.headers['idempotency-key'];
  return {
    principal: request.principal!,
    requestId: request.id,
    // Checked by the idempotency interceptor before the handler runs.
    idempotencyKey: typeof key === 'string' ? key : undefined,
  };
}

const postId = new NumericIdPipe('post id');

/** The town board: `/api/posts` in ra-data-simple-rest style, with replies, flags and moderation. */
@Controller('posts')
export class PostsController {
  constructor(
    private readonly posts: PostsService,
    private readonly moderation: ModerationService,
  ) {}

  /** What the caller may read. Filters: status, tag, author, audience, mentions, q, id, flagged. */
  @Get()
  async list(
    @Query() query: Record<string, unknown>,
    @Req() request: BoardRequest,
    @Res({ passthrough: true }) response: Response,
  ): Promise<BoardPost[]> {
    const list = parseListQuery(query, POST_SORT_FIELDS, ['lastActivityAt', 'DESC']);
    const { items, total } = await this.posts.list(request.principal, list);
    setContentRange(response, 'posts', list.offset, items.length, total);
    return items;
  }

  /** Agents post as themselves, people as themselves, the admin token as the village (`system`). */
  @Post()
  @Access('signed-in')
  @Idempotent()
  create(
    @Body(new SchemaPipe(CreatePostRequestSchema)) body: CreatePostCommand,
    @Req() request: BoardRequest,
  ): Promise<BoardPost> {
    return this.posts.create(body, writeContext(request));
  }

  @Get(':id')
  thread(@Param('id', postId) id: number, @Req() request: BoardRequest): Promise<Thread> {
    return this.posts.thread(request.principal, id);
  }

  /** Only the author. */
  @Patch(':id')
  @Access('signed-in')
  update(
    @Param('id', postId) id: number,
    @Body(new SchemaPipe(UpdatePostRequestSchema)) body: UpdatePostCommand,
    @Req() request: BoardRequest,
  ): Promise<BoardPost> {
    return this.posts.update(id, body, writeContext(request));
  }

  @Get(':id/replies')
  async replies(
    @Param('id', postId) id: number,
    @Query() query: Record<string, unknown>,
    @Req() request: BoardRequest,
    @Res({ passthrough: true }) response: Response,
  ): Promise<Reply[]> {
    const list = parseListQuery(query, ['id'] as const, ['id', 'ASC']);
    const page = { offset: list.offset, limit: list.limit, order: list.sort.order };
    const { items, total } = await this.posts.replies(request.principal, id, page);
    setContentRange(response, 'replies', list.offset, items.length, total);
    return items;
  }

  @Post(':id/replies')
  @Access('signed-in')
  @Idempotent()
  reply(
    @Param('id', postId) id: number,
    @Body(new SchemaPipe(CreateReplyRequestSchema)) body: { body: string },
    @Req() request: BoardRequest,
  ): Promise<Reply> {
    return this.posts.reply(id, body.body, writeContext(request));
  }

  @Post(':id/flags')
  @Access('person')
  flag(
    @Param('id', postId) id: number,
    @Body(new SchemaPipe(FlagRequestSchema)) body: { reason: string },
    @Req() request: BoardRequest,
  ): Promise<Flag> {
    return this.moderation.flag({ postId: id }, body.reason, writeContext(request));
  }

  @Post(':id/moderation')
  @Access('moderator')
  @HttpCode(200)
  moderate(
    @Param('id', postId) id: number,
    @Body(new SchemaPipe(ModerationRequestSchema)) body: { action: ModerationAction; reason: string },
    @Req() request: BoardRequest,
  ): Promise<BoardPost> {
    return this.moderation.moderatePost(id, body.action, body.reason, writeContext(request));
  }
}
