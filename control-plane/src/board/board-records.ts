import type { Audience, Author, Mention, Post, PostStatus, Reply } from '../contract/index.js';

/** The columns of `posts` every read selects (never the search vector). */
export const POST_COLUMNS = `p.id, p.author_type, p.author_id, p.author_name, p.audience, p.audience_agent_id, p.title,
  p.body, p.body_html, p.tags, p.status, p.status_before_moderation, p.removed, p.locked, p.mentions, p.moderation,
  p.reply_count, p.open_flag_count, p.created_at, p.updated_at, p.last_activity_at`;

export const REPLY_COLUMNS = `r.id, r.post_id, r.author_type, r.author_id, r.author_name, r.body, r.body_html, r.status,
  r.mentions, r.moderation, r.open_flag_count, r.created_at`;

export interface PostRow {
  id: string;
  author_type: Author['type'];
  author_id: string;
  author_name: string;
  audience: Audience;
  audience_agent_id: string | null;
  title: string;
  body: string;
  body_html: string;
  tags: string[];
  status: PostStatus;
  status_before_moderation: PostStatus | null;
  removed: boolean;
  locked: boolean;
  mentions: Mention[];
  moderation: Post['moderation'];
  reply_count: number;
  open_flag_count: number;
  created_at: Date;
  updated_at: Date;
  last_activity_at: Date;
}

export interface ReplyRow {
  id: string;
  post_id: string;
  author_type: Author['type'];
  author_id: string;
  author_name: string;
  body: string;
  body_html: string;
  status: Reply['status'];
  mentions: Mention[];
  moderation: Reply['moderation'];
  open_flag_count: number;
  created_at: Date;
}

/** A post as the API shows it; flag counts only to moderators. */
export function toPost(row: PostRow, forModerator: boolean): Post & { removed: boolean } {
  return {
    id: Number(row.id),
    author: { type: row.author_type, id: row.author_id, name: row.author_name },
    audience: row.audience,
    audienceAgentId: row.audience_agent_id,
    title: row.title,
    body: row.body,
    bodyHtml: row.body_html,
    tags: row.tags,
    status: row.status,
    locked: row.locked,
    mentions: row.mentions,
    replyCount: row.reply_count,
    flagCount: forModerator ? row.open_flag_count : 0,
    moderation: row.moderation,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
    lastActivityAt: row.last_activity_at.toISOString(),
    removed: row.removed,
  };
}

export function toReply(row: ReplyRow, forModerator: boolean): Reply {
  return {
    id: Number(row.id),
    postId: Number(row.post_id),
    author: { type: row.author_type, id: row.author_id, name: row.author_name },
    body: row.body,
    bodyHtml: row.body_html,
    status: row.status,
    mentions: row.mentions,
    flagCount: forModerator ? row.open_flag_count : 0,
    moderation: row.moderation,
    createdAt: row.created_at.toISOString(),
  };
}

/** The API's Post, without the internal `removed` mark. */
export function publicPost({ removed: _removed, ...post }: Post & { removed?: boolean }): Post {
  return post;
}

/** What an event may carry about a post: a hidden one without its text, and no flag counts. */
export function eventPost(post: Post & { removed?: boolean }): Post {
  const shown = publicPost({ ...post, flagCount: 0 });
  return post.status === 'moderated' ? { ...shown, title: '', body: '', bodyHtml: '', tags: [], mentions: [] } : shown;
}

export function eventReply(reply: Reply): Reply {
  const shown = { ...reply, flagCount: 0 };
  return reply.status === 'visible' ? shown : { ...shown, body: '', bodyHtml: '', mentions: [] };
}
