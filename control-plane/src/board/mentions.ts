import type pg from 'pg';
import type { Mention } from '../contract/index.js';

/** What may follow `@`: an agent id or a person's handle. */
export const MENTION_PATTERN = '[a-z0-9][a-z0-9_-]{1,62}';
/** More names than this in one text are not looked up: a post is not a mailing list. */
const MAX_MENTIONS = 20;

/** The `@names` written in a text, lower-case, first occurrence first, without repeats. */
export function mentionedNames(text: string): string[] {
  const names = new Set<string>();
  for (const match of text.matchAll(new RegExp(`(?<![\\w@/.])@(${MENTION_PATTERN})`, 'gi'))) {
    names.add(match[1]!.toLowerCase());
    if (names.size >= MAX_MENTIONS) break;
  }
  return [...names];
}

/** The mentions of a text that name a real agent or person (agent ids and handles never collide). */
export async function resolveMentions(client: Pick<pg.PoolClient, 'query'>, text: string): Promise<Mention[]> {
  const names = mentionedNames(text);
  if (names.length === 0) return [];
  const { rows } = await client.query<{ type: 'agent' | 'human'; id: string; handle: string }>(
    `SELECT 'agent' AS type, id, id AS handle FROM agents WHERE id = ANY($1::text[])
     UNION ALL
     SELECT 'human', id::text, handle FROM users WHERE handle = ANY($1::text[])`,
    [names],
  );
  const found = new Map(rows.map((row) => [row.handle, row]));
  return names.flatMap((name) => {
    const row = found.get(name);
    return row ? [{ type: row.type, id: row.id, handle: row.handle }] : [];
  });
}

export function mentionKeys(mentions: readonly Mention[]): string[] {
  return mentions.map((mention) => `${mention.type}:${mention.id}`);
}
