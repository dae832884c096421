import { Injectable, NotFoundException } from '@nestjs/common';
import type pg from 'pg';
import type { AuditEntry } from '../contract/index.js';
import { DatabaseService } from '../database/database.service.js';
import type { ListQuery } from '../http/list-query.js';
import { authorOf, type Principal } from '../auth/principal.js';
import { listPage } from '../database/list-page.js';

export interface AuditRecord {
  /** Who did it; undefined for the village itself (a timer, a rule). */
  actor: Principal | undefined;
  action: string;
  subject: { type: string; id: string | number };
  before?: unknown;
  after?: unknown;
  reason?: string | null;
  requestId?: string | undefined;
}

export const AUDIT_SORT_FIELDS = ['id', 'at'] as const;
export type AuditSortField = (typeof AUDIT_SORT_FIELDS)[number];
const SORT_COLUMNS: Record<AuditSortField, string> = { id: 'id', at: 'at' };
const FILTER_COLUMNS = {
  id: 'id',
  action: 'action',
  actorType: 'actor_type',
  actorId: 'actor_id',
  subjectType: 'subject_type',
  subjectId: 'subject_id',
} as const;

type Queryable = Pick<pg.PoolClient, 'query'>;

/**
 * The audit log: who did what to what, when, with the state before and after. Written in the same
 * transaction as the change it records (so neither exists without the other); append-only in the
 * database itself (a trigger refuses UPDATE, DELETE and TRUNCATE).
 */
@Injectable()
export class AuditService {
  constructor(private readonly database: DatabaseService) {}

  async record(client: Queryable, entry: AuditRecord): Promise<void> {
    const actor = entry.actor ? authorOf(entry.actor) : { type: 'system', id: 'system' };
    await client.query(
      `INSERT INTO audit_log (actor_type, actor_id, action, subject_type, subject_id, before, after, reason, request_id)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
      [
        actor.type,
        actor.id,
        entry.action,
        entry.subject.type,
        String(entry.subject.id),
        entry.before === undefined ? null : JSON.stringify(entry.before),
        entry.after === undefined ? null : JSON.stringify(entry.after),
        entry.reason ?? null,
        entry.requestId ?? null,
      ],
    );
  }

  async entry(id: number): Promise<AuditEntry> {
    const { rows } = await this.database.query<AuditRow>('SELECT * FROM audit_log WHERE id = $1', [id]);
    if (!rows[0]) throw new NotFoundException(`there is no audit entry ${id}`);
    return toAuditEntry(rows[0]);
  }

  /** A page of the log. Filters: id, action, actorType, actorId, subjectType, subjectId (each one value or a list). */
  list(query: ListQuery<AuditSortField>): Promise<{ items: AuditEntry[]; total: number }> {
    return listPage(
      this.database,
      { table: 'audit_log', sort: SORT_COLUMNS, filter: FILTER_COLUMNS },
      query,
      toAuditEntry,
    );
  }
}

interface AuditRow {
  id: string;
  at: Date;
  actor_type: string;
  actor_id: string;
  action: string;
  subject_type: string;
  subject_id: string;
  before: unknown;
  after: unknown;
  reason: string | null;
  request_id: string | null;
}

function toAuditEntry(row: AuditRow): AuditEntry {
  return {
    id: Number(row.id),
    at: row.at.toISOString(),
    actor: { type: row.actor_type, id: row.actor_id },
    action: row.action,
    subject: { type: row.subject_type, id: row.subject_id },
    before: row.before ?? null,
    after: row.after ?? null,
    reason: row.reason,
    requestId: row.request_id,
  };
}
