import { Body, Controller, Get, HttpCode, Param, Patch, Post, Put, Query, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { Access, type Principal } from '../auth/principal.js';
import {
  BanRequestSchema,
  UpdateUserRequestSchema,
  type BanRequest,
  type UpdateUserRequest,
  type UserDetails,
} from '../contract/index.js';
import { parseListQuery, setContentRange } from '../http/list-query.js';
import { SchemaPipe } from '../http/schema.pipe.js';
import { PeopleService, USER_SORT_FIELDS } from './people.service.js';

type UserRequest = Request & { id?: string; principal: Principal };

/** People, for moderators and admins: `/api/users` in ra-data-simple-rest style. */
@Controller('users')
@Access('moderator')
export class UsersController {
  constructor(private readonly people: PeopleService) {}

  @Get()
  async list(
    @Query() query: Record<string, unknown>,
    @Res({ passthrough: true }) response: Response,
  ): Promise<UserDetails[]> {
    const list = parseListQuery(query, USER_SORT_FIELDS, ['createdAt', 'DESC']);
    const { items, total } = await this.people.list(list);
    setContentRange(response, 'users', list.offset, items.length, total);
    return items;
  }

  @Get(':id')
  get(@Param('id') id: string): Promise<UserDetails> {
    return this.people.get(id);
  }

  @Patch(':id')
  @Access('admin')
  update(
    @Param('id') id: string,
    @Body(new SchemaPipe(UpdateUserRequestSchema)) body: UpdateUserRequest,
    @Req() request: UserRequest,
  ): Promise<UserDetails> {
    return this.people.update(id, body, request.principal, { requestId: request.id });
  }

  /** The same as PATCH, for ra-data-simple-rest's update (the console sends only role and displayName). */
  @Put(':id')
  @Access('admin')
  replace(
    @Param('id') id: string,
    @Body(new SchemaPipe(UpdateUserRequestSchema)) body: UpdateUserRequest,
    @Req() request: UserRequest,
  ): Promise<UserDetails> {
    return this.update(id, body, request);
  }

  @Post(':id/ban')
  @HttpCode(200)
  ban(
    @Param('id') id: string,
    @Body(new SchemaPipe(BanRequestSchema)) body: BanRequest,
    @Req() request: UserRequest,
  ): Promise<UserDetails> {
    return this.people.ban(id, body, request.principal, { requestId: request.id });
  }

  @Post(':id/unban')
  @HttpCode(200)
  unban(@Param('id') id: string, @Req() request: UserRequest): Promise<UserDetails> {
    return this.people.unban(id, request.principal, { requestId: request.id });
  }
}
