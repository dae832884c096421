import { z } from 'zod';

/**
 * List parameters in react-admin's ra-data-simple-rest convention: JSON-encoded `sort`, `range` and
 * `filter` query parameters; the reply carries `Content-Range: <resource> <start>-<end>/<total>`.
 */
export interface ListParams {
  sort?: [field: string, order: 'ASC' | 'DESC'];
  range?: [start: number, end: number];
  filter?: Record<string, unknown>;
}

export interface ListPage<T> {
  items: T[];
  total: number;
  /** The positions of `items` in the whole list; null for an empty page. */
  range: [number, number] | null;
}

export function listQueryString(params: ListParams): string {
  const query = new URLSearchParams();
  if (params.sort) query.set('sort', JSON.stringify(params.sort));
  if (params.range) query.set('range', JSON.stringify(params.range));
  if (params.filter) query.set('filter', JSON.stringify(params.filter));
  const text = query.toString();
  return text ? `?${text}` : '';
}

/** Parses `Content-Range: agents 0-24/319` (or `agents *\/319` for an empty page). */
export function parseContentRange(header: string | null): { range: [number, number] | null; total: number } | null {
  const match = header && /^\w[\w-]* (?:(\d+)-(\d+)|\*)\/(\d+)$/.exec(header.trim());
  if (!match) return null;
  return { range: match[1] === undefined ? null : [Number(match[1]), Number(match[2])], total: Number(match[3]) };
}

export const SortOrderSchema = z.enum(['ASC', 'DESC']);
