import { Controller, Get, Param, Query, Res } from '@nestjs/common';
import type { Response } from 'express';
import type { AuditEntry } from '../contract/index.js';
import { Access } from '../auth/principal.js';
import { NumericIdPipe } from '../http/id.pipe.js';
import { parseListQuery, setContentRange } from '../http/list-query.js';
import { AUDIT_SORT_FIELDS, AuditService } from './audit.service.js';

@Controller('audit')
@Access('moderator')
export class AuditController {
  constructor(private readonly audit: AuditService) {}

  /** Read only, newest first by default. */
  @Get()
  async list(
    @Query() query: Record<string, unknown>,
    @Res({ passthrough: true }) response: Response,
  ): Promise<AuditEntry[]> {
    const list = parseListQuery(query, AUDIT_SORT_FIELDS, ['id', 'DESC']);
    const { items, total } = await this.audit.list(list);
    setContentRange(response, 'audit', list.offset, items.length, total);
    return items;
  }

  @Get(':id')
  get(@Param('id', new NumericIdPipe('audit entry id')) id: number): Promise<AuditEntry> {
    return this.audit.entry(id);
  }
}
