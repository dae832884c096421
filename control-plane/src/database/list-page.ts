import type pg from 'pg';
import type { ListQuery } from '../http/list-query.js';
import type { DatabaseService } from './database.service.js';
import { whereClause } from './sql-filter.js';

/** A table listed in ra-data-simple-rest terms: which columns sort and filter for which field names. */
export interface ListedTable {
  table: string;
  /** What to select (`*` by default). */
  columns?: string;
  sort: Record<string, string>;
  filter: Record<string, string>;
}

/**
 * One page of a table and the total that matches: equality filters on the listed columns, the asked
 * order with ties broken by `id` (so pages never overlap), the page and the count read together.
 */
export async function listPage<Row extends pg.QueryResultRow, Item>(
  database: Pick<DatabaseService, 'query'>,
  listed: ListedTable,
  query: ListQuery<string>,
  toItem: (row: Row) => Item,
): Promise<{ items: Item[]; total: number }> {
  const { sql, values } = whereClause(query.filter, listed.filter);
  const order = `${listed.sort[query.sort.field]} ${query.sort.order}, id ${query.sort.order}`;
  const [page, count] = await Promise.all([
    database.query<Row>(
      `SELECT ${listed.columns ?? '*'} FROM ${listed.table} ${sql} ORDER BY ${order}
       OFFSET $${values.length + 1} LIMIT $${values.length + 2}`,
      [...values, query.offset, query.limit],
    ),
    database.query<{ total: number }>(`SELECT count(*)::int AS total FROM ${listed.table} ${sql}`, values),
  ]);
  return { items: page.rows.map(toItem), total: count.rows[0]!.total };
}
