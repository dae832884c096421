// Board events (posts, replies, moderation, flags) come on the world stream with the agents' events, but
// they change nothing about the agents: main.ts hands them to the board's views, past VillageState.
import {
  BOARD_EVENT_TYPES,
  type Post,
  type Reply,
  type WorldEvent,
  type WorldEventOf,
} from '@ai-village/control-plane/contract';

export type BoardEvent = WorldEventOf<(typeof BOARD_EVENT_TYPES)[number]>;

const BOARD_TYPES: ReadonlySet<string> = new Set(BOARD_EVENT_TYPES);

export function isBoardEvent(event: WorldEvent): event is BoardEvent {
  return BOARD_TYPES.has(event.type);
}

/**
 * A moderation event leaves the hidden post's text out (every viewer of the post gets the same event).
 * Whoever may still read it (a moderator, the author) keeps the text already on the page.
 */
export function keepHiddenPostText(held: Post, incoming: Post): Post {
  if (incoming.status !== 'moderated' || incoming.bodyHtml || incoming.title) return incoming;
  const { title, body, bodyHtml, tags, mentions } = held;
  return { ...incoming, title, body, bodyHtml, tags, mentions };
}

/** The same for a hidden reply. */
export function keepHiddenReplyText(held: Reply, incoming: Reply): Reply {
  if (incoming.status === 'visible' || incoming.bodyHtml) return incoming;
  const { body, bodyHtml, mentions } = held;
  return { ...incoming, body, bodyHtml, mentions };
}
