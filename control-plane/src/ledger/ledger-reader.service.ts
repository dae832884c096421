import { BadRequestException, Injectable, NotFoundException } from '@nestjs/common';
import { agentAccount, SPEND_REASONS, type HourlySpend, type LedgerEntry, type Transfer } from '../contract/index.js';
import { DatabaseService } from '../database/database.service.js';
import type { ListQuery } from '../http/list-query.js';
import { toLedgerEntry, toTransfer, type EntryRow, type TransferRow } from './ledger-records.js';

export const TRANSFER_SORT_FIELDS = ['id', 'createdAt', 'amount'] as const;
export type TransferSortField = (typeof TRANSFER_SORT_FIELDS)[number];
const TRANSFER_SORT_COLUMNS: Record<TransferSortField, string> = {
  id: 't.id',
  createdAt: 't.created_at',
  amount: 't.amount',
};
const TRANSFER_FILTERS = [
  'id',
  'kind',
  'reason',
  'sourceType',
  'sourceId',
  'postId',
  'account',
  'agentId',
  'since',
  'until',
];

/** Reading the ledger: an account's history and the transfers list of the console. */
@Injectable()
export class LedgerReader {
  constructor(private readonly database: DatabaseService) {}

  /** An agent's entries (newest first by default), each with its transfer. */
  async history(agentId: string, query: ListQuery<'seq' | 'id'>): Promise<{ items: LedgerEntry[]; total: number }> {
    const account = agentAccount(agentId);
    const { rows: accounts } = await this.database.query<{ entry_count: string }>(
      'SELECT entry_count FROM ledger_accounts WHERE id = $1',
      [account],
    );
    if (!accounts[0]) throw new NotFoundException(`there is no agent with id "${agentId}"`);
    const order = query.sort.order;
    const { rows } = await this.database.query<EntryRow>(
      `SELECT e.seq, e.account_id, e.amount, e.held_change, e.balance_after, e.held_after, to_jsonb(t) AS transfer
         FROM ledger_entries e JOIN ledger_transfers t ON t.id = e.transfer_id
        WHERE e.account_id = $1 ORDER BY e.seq ${order} OFFSET $2 LIMIT $3`,
      [account, query.offset, query.limit],
    );
    return { items: rows.map(toLedgerEntry), total: Number(accounts[0].entry_count) };
  }

  /**
   * Transfers for the console. Filters: id (one or many), kind, reason, sourceType, sourceId, postId,
   * account (a row such as `treasury#3`, or a whole account: `treasury`, `agent:ada`), agentId,
   * since and until (ISO 8601 times of creation).
   */
  async transfers(query: ListQuery<TransferSortField>): Promise<{ items: Transfer[]; total: number }> {
    const values: unknown[] = [];
    const param = (value: unknown) => `$${values.push(value)}`;
    const where: string[] = [];
    for (const [name, value] of Object.entries(query.filter)) {
      if (value === undefined || value === null || value === '') continue;
      const list = (Array.isArray(value) ? value : [value]).map(String);
      switch (name) {
        case 'id':
        case 'postId': {
          if (list.some((item) => !/^\d{1,15}$/.test(item))) {
            throw new BadRequestException(`filter "${name}" takes whole numbers`);
          }
          where.push(`t.${name === 'id' ? 'id' : 'post_id'} = ANY(${param(list)}::bigint[])`);
          break;
        }
        case 'kind':
        case 'reason':
        case 'sourceType':
        case 'sourceId': {
          const column = { kind: 'kind', reason: 'reason', sourceType: 'source_type', sourceId: 'source_id' }[name];
          where.push(`t.${column} = ANY(${param(list)}::text[])`);
          break;
        }
        case 'account':
        case 'agentId': {
          const rows = name === 'agentId' ? list.map(agentAccount) : list;
          const names = param(rows);
          where.push(
            `(t.debit_account = ANY(${names}::text[]) OR t.credit_account = ANY(${names}::text[])
              OR split_part(t.debit_account, '#', 1) = ANY(${names}::text[])
              OR split_part(t.credit_account, '#', 1) = ANY(${names}::text[]))`,
          );
          break;
        }
        case 'since':
        case 'until': {
          // A time range for the console: since is inclusive, until exclusive.
          const at = new Date(list[0]!);
          if (list.length !== 1 || Number.isNaN(at.getTime())) {
            throw new BadRequestException(`filter "${name}" takes one ISO 8601 time`);
          }
          where.push(`t.created_at ${name === 'since' ? '>=' : '<'} ${param(at)}`);
          break;
        }
        default:
          throw new BadRequestException(`unknown filter "${name}"; filters here: ${TRANSFER_FILTERS.join(', ')}`);
      }
    }
    const conditions = where.length ? `WHERE ${where.join(' AND ')}` : '';
    const countValues = [...values];
    values.push(query.offset, query.limit);
    const column = TRANSFER_SORT_COLUMNS[query.sort.field];
    const [page, count] = await Promise.all([
      this.database.query<{ transfer: TransferRow }>(
        // The page's ids first, then only those rows as JSON: rows skipped by OFFSET are never
        // serialised (page 361 of 10,000 transfers: p50 91 ms the other way, 12 ms this way).
        `SELECT to_jsonb(t) AS transfer
           FROM (SELECT t.id FROM ledger_transfers t ${conditions}
                  ORDER BY ${column} ${query.sort.order}, t.id ${query.sort.order}
                 OFFSET $${values.length - 1} LIMIT $${values.length}) page
           JOIN ledger_transfers t USING (id)
          ORDER BY ${column} ${query.sort.order}, t.id ${query.sort.order}`,
        values,
      ),
      this.database.query<{ total: string }>(
        `SELECT count(*) AS total FROM ledger_transfers t ${conditions}`,
        countValues,
      ),
    ]);
    return { items: page.rows.map((row) => toTransfer(row.transfer)), total: Number(count.rows[0]!.total) };
  }

  /** Mills in agents' accounts and the part of it held, and how many agents there are. */
  async circulation(): Promise<{ agents: number; inCirculation: number; held: number }> {
    const { rows } = await this.database.query<{ agents: string; balance: string; held: string }>(
      `SELECT count(*) AS agents, coalesce(sum(balance), 0) AS balance, coalesce(sum(held), 0) AS held
         FROM ledger_accounts WHERE kind = 'agent'`,
    );
    const row = rows[0]!;
    return { agents: Number(row.agents), inCirculation: Number(row.balance), held: Number(row.held) };
  }

  /** Compute spending (settled charges, not holds) per hour over the last `hours`, the current hour last. */
  async spendByHour(hours: number): Promise<HourlySpend[]> {
    const { rows } = await this.database.query<{ hour: Date; reason: string | null; spent: string }>(
      `SELECT h.hour, t.reason, coalesce(sum(t.amount), 0) AS spent
         FROM generate_series(date_trunc('hour', now()) - ($1::int - 1) * interval '1 hour',
                              date_trunc('hour', now()), interval '1 hour') h(hour)
         LEFT JOIN ledger_transfers t ON t.reason = ANY($2::text[]) AND t.kind IN ('posted', 'post_pending')
               AND t.created_at >= h.hour AND t.created_at < h.hour + interval '1 hour'
        GROUP BY h.hour, t.reason ORDER BY h.hour`,
      [hours, SPEND_REASONS],
    );
    const byHour = new Map<string, HourlySpend>();
    for (const row of rows) {
      const hour = row.hour.toISOString();
      const entry = byHour.get(hour) ?? byHour.set(hour, { hour, byReason: {}, total: 0 }).get(hour)!;
      if (row.reason === null) continue;
      entry.byReason[row.reason] = Number(row.spent);
      entry.total += Number(row.spent);
    }
    return [...byHour.values()];
  }
}
