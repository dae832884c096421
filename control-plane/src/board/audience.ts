import type { Audience, Author, PostStatus } from '../contract/index.js';
import { isModerator, type Principal } from '../auth/principal.js';

/**
 * Who may read a post: the one rule of the board's audiences, in its three forms side by side (SQL
 * for lists and reads, a predicate for mail, rooms for live viewers). test/board-rules.test.ts
 * checks that the SQL and the predicate agree on every case.
 *
 * - public: everyone, signed in or not;
 * - humans: signed-in people;
 * - agents: every agent;
 * - agent: that one agent.
 * Moderators (and the admin token) read everything; authors read their own posts, even hidden
 * ones; a hidden (`moderated`) post is gone for everyone else. A removed post is gone for its author too.
 */
export interface PostAudience {
  audience: Audience;
  audienceAgentId: string | null;
  author: Pick<Author, 'type' | 'id'>;
  status: PostStatus;
  removed: boolean;
}

export type Viewer = Principal | undefined;

export function canSee(viewer: Viewer, post: PostAudience): boolean {
  if (isModerator(viewer)) return true;
  if (isAuthor(viewer, post.author)) return !post.removed;
  if (post.status === 'moderated') return false;
  switch (post.audience) {
    case 'public':
      return true;
    case 'humans':
      return viewer?.kind === 'user';
    case 'agents':
      return viewer?.kind === 'agent';
    case 'agent':
      return viewer?.kind === 'agent' && viewer.agentId === post.audienceAgentId;
  }
}

/**
 * The same rule as an SQL condition on `posts` aliased `p`. Parameters are appended to `values`
 * (the condition names them by position), so it composes with other filters.
 */
export function visibleSql(viewer: Viewer, values: unknown[]): string {
  if (isModerator(viewer)) return 'TRUE';
  const param = (value: unknown) => `$${values.push(value)}`;
  const own =
    viewer?.kind === 'agent'
      ? `(p.author_type = 'agent' AND p.author_id = ${param(viewer.agentId)} AND NOT p.removed)`
      : viewer?.kind === 'user'
        ? `(p.author_type = 'human' AND p.author_id = ${param(viewer.userId)} AND NOT p.removed)`
        : 'FALSE';
  const audience =
    viewer?.kind === 'agent'
      ? `(p.audience IN ('public', 'agents') OR (p.audience = 'agent' AND p.audience_agent_id = ${param(viewer.agentId)}))`
      : viewer?.kind === 'user'
        ? `p.audience IN ('public', 'humans')`
        : `p.audience = 'public'`;
  return `((${audience} AND p.status <> 'moderated') OR ${own})`;
}

export const EVERYONE = 'everyone';
export const MODERATORS_ROOM = 'moderators';
export const HUMANS_ROOM = 'humans';
export const userRoom = (userId: string) => `user:${userId}`;

/**
 * The socket.io rooms that get live events about a post. Agents do not watch sockets (they read
 * their mail), so posts for agents reach only moderators and their human author. Events about a
 * hidden post go to its audience too, without its text, so viewers can take it down.
 */
export function roomsFor(post: Omit<PostAudience, 'status' | 'removed'>): typeof EVERYONE | string[] {
  if (post.audience === 'public') return EVERYONE;
  const rooms = [MODERATORS_ROOM];
  if (post.audience === 'humans') rooms.push(HUMANS_ROOM);
  if (post.author.type === 'human') rooms.push(userRoom(post.author.id));
  return rooms;
}

/** The rooms a signed-in viewer's socket joins. */
export function roomsOf(viewer: Viewer): string[] {
  if (!viewer) return [];
  if (viewer.kind === 'admin') return [MODERATORS_ROOM];
  if (viewer.kind !== 'user' || viewer.ban) return [];
  return [HUMANS_ROOM, userRoom(viewer.userId), ...(isModerator(viewer) ? [MODERATORS_ROOM] : [])];
}

function isAuthor(viewer: Viewer, author: Pick<Author, 'type' | 'id'>): boolean {
  if (viewer?.kind === 'agent') return author.type === 'agent' && author.id === viewer.agentId;
  if (viewer?.kind === 'user') return author.type === 'human' && author.id === viewer.userId;
  return false;
}
