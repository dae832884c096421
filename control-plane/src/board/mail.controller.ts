import { Controller, Get, Param, Query, Res } from '@nestjs/common';
import type { Response } from 'express';
import { Access } from '../auth/principal.js';
import { MailQuerySchema, type Mail } from '../contract/index.js';
import { SchemaPipe } from '../http/schema.pipe.js';
import { MailService } from './mail.service.js';

@Controller('agents')
export class MailController {
  constructor(private readonly mail: MailService) {}

  /** An agent's mail since `?cursor=` (or its last acknowledged cursor); the agent itself or an admin. */
  @Get(':id/mail')
  @Access('agent-self')
  read(
    @Param('id') id: string,
    @Query(new SchemaPipe(MailQuerySchema, 'query')) query: { cursor?: string; limit: number },
    @Res({ passthrough: true }) response: Response,
  ): Promise<Mail> {
    response.setHeader('Cache-Control', 'no-store');
    return this.mail.read(id, query.cursor, query.limit);
  }
}
