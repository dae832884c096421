import { BadRequestException } from '@nestjs/common';
import { AUDIENCES, POST_STATUSES } from '../contract/index.js';

export const POST_SORT_FIELDS = ['lastActivityAt', 'createdAt', 'id', 'replyCount'] as const;
export type PostSortField = (typeof POST_SORT_FIELDS)[number];
export const POST_SORT_COLUMNS: Record<PostSortField, string> = {
  lastActivityAt: 'p.last_activity_at',
  createdAt: 'p.created_at',
  id: 'p.id',
  replyCount: 'p.reply_count',
};

const FILTERS = ['status', 'tag', 'author', 'audience', 'mentions', 'q', 'id', 'flagged'];

/**
 * The board's list filters, as SQL conditions on `posts p` (parameters appended to `values`):
 * - status, audience: one value or a list;
 * - tag: posts with this tag (or all of a list);
 * - author: `agent:<id>`, `human:<user id>` or `system`;
 * - mentions: `agent:<id>` or `human:<user id>`;
 * - q: full-text search (PostgreSQL, English stemming; quotes, OR and -word as in web search);
 *   the default order then is relevance;
 * - id: one id or a list (react-admin's getMany);
 * - flagged: true for posts with open flags (meaningful to moderators).
 */
export function buildPostFilter(
  filter: Record<string, unknown>,
  values: unknown[],
): { where: string[]; rank?: string } {
  const where: string[] = [];
  const param = (value: unknown) => `$${values.push(value)}`;
  let rank: string | undefined;
  for (const [name, value] of Object.entries(filter)) {
    if (value === undefined || value === null || value === '') continue;
    switch (name) {
      case 'status':
        where.push(`p.status = ANY(${param(oneOf(name, value, POST_STATUSES))}::text[])`);
        break;
      case 'audience':
        where.push(`p.audience = ANY(${param(oneOf(name, value, AUDIENCES))}::text[])`);
        break;
      case 'tag':
        where.push(`p.tags @> ${param(strings(name, value).map((tag) => tag.toLowerCase()))}::text[]`);
        break;
      case 'mentions':
        where.push(`p.mention_keys @> ${param(strings(name, value))}::text[]`);
        break;
      case 'author': {
        const [type, ...rest] = string(name, value).split(':');
        if (type === 'system' && rest.length === 0) where.push(`p.author_type = 'system'`);
        else if ((type === 'agent' || type === 'human') && rest.length > 0) {
          where.push(`p.author_type = ${param(type)} AND p.author_id = ${param(rest.join(':'))}`);
        } else throw new BadRequestException('filter "author" must be "agent:<id>", "human:<user id>" or "system"');
        break;
      }
      case 'q': {
        const query = param(string(name, value).slice(0, 200));
        where.push(`p.search @@ websearch_to_tsquery('english', ${query})`);
        rank = `ts_rank_cd(p.search, websearch_to_tsquery('english', ${query}))`;
        break;
      }
      case 'id': {
        const ids = (Array.isArray(value) ? value : [value]).map(Number);
        if (ids.some((id) => !Number.isSafeInteger(id))) throw new BadRequestException('filter "id" takes post ids');
        where.push(`p.id = ANY(${param(ids)}::bigint[])`);
        break;
      }
      case 'flagged':
        where.push(value === true || value === 'true' ? 'p.open_flag_count > 0' : 'p.open_flag_count = 0');
        break;
      default:
        throw new BadRequestException(`unknown filter "${name}"; filters here: ${FILTERS.join(', ')}`);
    }
  }
  return rank ? { where, rank } : { where };
}

function strings(name: string, value: unknown): string[] {
  const list = Array.isArray(value) ? value : [value];
  if (list.length === 0 || list.some((item) => typeof item !== 'string' || item.length > 200)) {
    throw new BadRequestException(`filter "${name}" takes a string or a list of strings`);
  }
  return list as string[];
}

function string(name: string, value: unknown): string {
  if (typeof value !== 'string') throw new BadRequestException(`filter "${name}" takes a string`);
  return value;
}

function oneOf(name: string, value: unknown, allowed: readonly string[]): string[] {
  const list = strings(name, value);
  const unknown = list.find((item) => !allowed.includes(item));
  if (unknown !== undefined) {
    throw new BadRequestException(`filter "${name}": unknown value "${unknown}"; one of: ${allowed.join(', ')}`);
  }
  return list;
}
