import { BadRequestException } from '@nestjs/common';
import type { Response } from 'express';
import { z } from 'zod';
import { SortOrderSchema } from '../contract/index.js';

/**
 * react-admin's ra-data-simple-rest list convention, in one place for every resource:
 * `?sort=["field","ASC"]&range=[0,24]&filter={...}` in, `Content-Range: <res> 0-24/319` out.
 */
export interface ListQuery<Field extends string> {
  sort: { field: Field; order: 'ASC' | 'DESC' };
  offset: number;
  limit: number;
  filter: Record<string, unknown>;
}

const MAX_PAGE = 1000;

export function parseListQuery<Field extends string>(
  query: Record<string, unknown>,
  sortable: readonly Field[],
  defaultSort: [Field, 'ASC' | 'DESC'],
): ListQuery<Field> {
  const json = (name: string) => {
    const raw = query[name];
    if (raw === undefined) return undefined;
    if (typeof raw !== 'string') throw new BadRequestException(`${name} must be given once, as JSON`);
    try {
      return JSON.parse(raw) as unknown;
    } catch {
      throw new BadRequestException(`${name} is not valid JSON: ${raw.slice(0, 80)}`);
    }
  };
  const sort = z
    .tuple([z.enum(sortable as unknown as [Field, ...Field[]]), SortOrderSchema])
    .safeParse(json('sort') ?? defaultSort);
  if (!sort.success) {
    throw new BadRequestException(`sort must be ["<field>","ASC"|"DESC"] with a field among: ${sortable.join(', ')}`);
  }
  const range = z
    .tuple([z.number().int().nonnegative(), z.number().int().nonnegative()])
    .refine(([start, end]) => end >= start && end - start < MAX_PAGE)
    .safeParse(json('range') ?? [0, 99]);
  if (!range.success)
    throw new BadRequestException(`range must be [start,end] with start ≤ end and at most ${MAX_PAGE} items`);
  const filter = z.record(z.string(), z.unknown()).safeParse(json('filter') ?? {});
  if (!filter.success) throw new BadRequestException('filter must be a JSON object');
  const [start, end] = range.data;
  return {
    sort: { field: sort.data[0], order: sort.data[1] },
    offset: start,
    limit: end - start + 1,
    filter: filter.data,
  };
}

export function setContentRange(response: Response, resource: string, offset: number, count: number, total: number) {
  // An empty page has no range to name (RFC 9110's unsatisfied-range form), only the total.
  const range = count === 0 ? '*' : `${offset}-${offset + count - 1}`;
  response.setHeader('Content-Range', `${resource} ${range}/${total}`);
}
