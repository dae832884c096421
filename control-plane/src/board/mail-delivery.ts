import type pg from 'pg';
import type { MailReason, Mention } from '../contract/index.js';
import { canSee, type PostAudience } from './audience.js';

/** Taken by every transaction that adds a post or reply, before it draws an id: ids then become
 * visible in the order they were drawn, so a mail cursor never skips an item committed late. */
const BOARD_ORDER_LOCK = 72_707_370;

export async function takeBoardOrderLock(client: pg.PoolClient) {
  await client.query('SELECT pg_advisory_xact_lock($1)', [BOARD_ORDER_LOCK]);
}

export interface NewItem {
  itemId: number;
  postId: number;
  replyId: number | null;
  post: PostAudience;
  /** The agent or person who wrote the item: never mailed their own words. */
  writer: { type: string; id: string };
  mentions: readonly Mention[];
}

/**
 * Puts a new post or reply in the mail of the agents it concerns: the agent a post is addressed to
 * (and, for its thread's replies, again), the agent whose post got a reply, and agents mentioned
 * who may read the post. One row per agent, with every reason that applies.
 */
export async function deliverMail(client: pg.PoolClient, item: NewItem) {
  const reasons = new Map<string, Set<MailReason>>();
  const add = (agentId: string | null, reason: MailReason) => {
    if (!agentId || (item.writer.type === 'agent' && item.writer.id === agentId)) return;
    if (!canSee({ kind: 'agent', agentId, name: '' }, item.post)) return;
    (reasons.get(agentId) ?? reasons.set(agentId, new Set()).get(agentId)!).add(reason);
  };
  if (item.post.audience === 'agent') add(item.post.audienceAgentId, item.replyId === null ? 'addressed' : 'reply');
  if (item.replyId !== null && item.post.author.type === 'agent') add(item.post.author.id, 'reply');
  for (const mention of item.mentions) if (mention.type === 'agent') add(mention.id, 'mention');
  if (reasons.size === 0) return;
  const agents = [...reasons.keys()];
  await client.query(
    `INSERT INTO agent_mail (agent_id, item_id, post_id, reply_id, reasons)
     SELECT agent, $2, $3, $4, string_to_array(reasons, ',')
       FROM unnest($1::text[], $5::text[]) AS m(agent, reasons)`,
    [agents, item.itemId, item.postId, item.replyId, agents.map((id) => [...reasons.get(id)!].join(','))],
  );
}
