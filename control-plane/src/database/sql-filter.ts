import { BadRequestException } from '@nestjs/common';

/**
 * `WHERE` for ra-data-simple-rest equality filters: each allowed filter names a column and takes one
 * value or a list of values (react-admin's getMany sends `{ id: [...] }`). Unknown filters are refused.
 */
export function whereClause(
  filter: Record<string, unknown>,
  columns: Record<string, string>,
  startAt = 1,
): { sql: string; values: unknown[] } {
  const conditions: string[] = [];
  const values: unknown[] = [];
  for (const [name, value] of Object.entries(filter)) {
    const column = columns[name];
    if (!column) {
      throw new BadRequestException(`unknown filter "${name}"; filters here: ${Object.keys(columns).join(', ')}`);
    }
    const list = Array.isArray(value) ? value : [value];
    if (list.some((item) => !['string', 'number', 'boolean'].includes(typeof item))) {
      throw new BadRequestException(`filter "${name}" takes a string, a number, true/false or a list of them`);
    }
    values.push(list.map(String));
    conditions.push(`${column}::text = ANY($${startAt + values.length - 1}::text[])`);
  }
  return { sql: conditions.length ? `WHERE ${conditions.join(' AND ')}` : '', values };
}
