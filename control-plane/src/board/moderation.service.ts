import { ConflictException, Injectable, NotFoundException } from '@nestjs/common';
import type pg from 'pg';
import { AuditService } from '../audit/audit.service.js';
import { authorOf, type Principal } from '../auth/principal.js';
import type { Flag, ModerationAction, Post, PostStatus, Reply, ReplyModerationAction } from '../contract/index.js';
import { DatabaseService } from '../database/database.service.js';
import { whereClause } from '../database/sql-filter.js';
import { EventBus } from '../events/event-bus.service.js';
import type { ListQuery } from '../http/list-query.js';
import {
  eventPost,
  eventReply,
  POST_COLUMNS,
  publicPost,
  REPLY_COLUMNS,
  toPost,
  toReply,
  type PostRow,
  type ReplyRow,
} from './board-records.js';
import { PostsService, postRef, type WriteContext } from './posts.service.js';

export const FLAG_SORT_FIELDS = ['id', 'createdAt'] as const;
export type FlagSortField = (typeof FLAG_SORT_FIELDS)[number];

/** How each moderation act changes a post: the new status (or null to keep it) and the lock. */
function postChange(
  post: PostRow,
  action: ModerationAction,
): { status: PostStatus; locked: boolean; removed: boolean } {
  const hidden = post.status === 'moderated';
  if (post.removed) throw new ConflictException('this post was removed; nothing more can be done to it');
  const keep = { status: post.status, locked: post.locked, removed: false };
  switch (action) {
    case 'hide':
      if (hidden) throw new ConflictException('this post is already hidden');
      return { ...keep, status: 'moderated' };
    case 'unhide':
      if (!hidden) throw new ConflictException('this post is not hidden');
      return { ...keep, status: post.status_before_moderation ?? 'open' };
    case 'remove':
      return { ...keep, status: 'moderated', removed: true };
    case 'lock':
    case 'unlock':
      if (post.locked === (action === 'lock')) throw new ConflictException(`this post is already ${action}ed`);
      return { ...keep, locked: action === 'lock' };
    case 'resolve':
    case 'reopen':
    case 'close': {
      if (hidden) throw new ConflictException('this post is hidden; unhide it first');
      const status = ({ resolve: 'resolved', reopen: 'open', close: 'closed' } as const)[action];
      if (post.status === status) throw new ConflictException(`this post is already ${status}`);
      return { ...keep, status };
    }
  }
}

/** Flags and what moderators do about them: hide, lock, resolve, remove; every act audited and published. */
@Injectable()
export class ModerationService {
  constructor(
    private readonly database: DatabaseService,
    private readonly events: EventBus,
    private readonly audit: AuditService,
    private readonly posts: PostsService,
  ) {}

  async moderatePost(id: number, action: ModerationAction, reason: string, context: WriteContext): Promise<Post> {
    const moderator = authorOf(context.principal);
    const after = await this.database.transaction(async (client) => {
      const { rows } = await client.query<PostRow>(`SELECT ${POST_COLUMNS} FROM posts p WHERE p.id = $1 FOR UPDATE`, [
        id,
      ]);
      if (!rows[0]) throw new NotFoundException(`there is no post ${id}`);
      const before = rows[0];
      const change = postChange(before, action);
      const moderation = { action, reason, by: moderator, at: new Date().toISOString() };
      const { rows: updated } = await client.query<PostRow>(
        `UPDATE posts AS p SET status = $2, locked = $3, removed = $4, moderation = $5, updated_at = now(),
                status_before_moderation = CASE WHEN $2 = 'moderated' AND p.status <> 'moderated' THEN p.status
                                                ELSE p.status_before_moderation END,
                title = CASE WHEN $4 THEN '[removed]' ELSE title END,
                body = CASE WHEN $4 THEN '' ELSE body END,
                body_html = CASE WHEN $4 THEN '' ELSE body_html END,
                mentions = CASE WHEN $4 THEN '[]'::jsonb ELSE mentions END,
                mention_keys = CASE WHEN $4 THEN '{}'::text[] ELSE mention_keys END
          WHERE id = $1 RETURNING ${POST_COLUMNS}`,
        [id, change.status, change.locked, change.removed, JSON.stringify(moderation)],
      );
      const flagsResolved = await resolveFlags(client, id, null, `${action}: ${reason}`, moderator);
      const after = toPost({ ...updated[0]!, open_flag_count: updated[0]!.open_flag_count - flagsResolved }, true);
      await this.audit.record(client, {
        actor: context.principal,
        action: `post.${action}`,
        subject: { type: 'post', id },
        before: publicPost(toPost(before, true)),
        after: publicPost(after),
        reason,
        requestId: context.requestId,
      });
      return after;
    });
    await this.events.publish([{ type: 'post.moderated', post: eventPost(after), action, reason, moderator }]);
    return publicPost(after);
  }

  async moderateReply(
    id: number,
    action: ReplyModerationAction,
    reason: string,
    context: WriteContext,
  ): Promise<Reply> {
    const moderator = authorOf(context.principal);
    const { after, post } = await this.database.transaction(async (client) => {
      const { rows } = await client.query<ReplyRow>(
        `SELECT ${REPLY_COLUMNS} FROM replies r WHERE r.id = $1 FOR UPDATE`,
        [id],
      );
      if (!rows[0]) throw new NotFoundException(`there is no reply ${id}`);
      const before = rows[0];
      if (before.status === 'removed')
        throw new ConflictException('this reply was removed; nothing more can be done to it');
      const status = { hide: 'hidden', unhide: 'visible', remove: 'removed' }[action];
      if (before.status === status) throw new ConflictException(`this reply is already ${status}`);
      const moderation = { action, reason, by: moderator, at: new Date().toISOString() };
      const { rows: updated } = await client.query<ReplyRow>(
        `UPDATE replies AS r SET status = $2, moderation = $3,
                body = CASE WHEN $2 = 'removed' THEN '' ELSE body END,
                body_html = CASE WHEN $2 = 'removed' THEN '' ELSE body_html END,
                mentions = CASE WHEN $2 = 'removed' THEN '[]'::jsonb ELSE mentions END
          WHERE id = $1 RETURNING ${REPLY_COLUMNS}`,
        [id, status, JSON.stringify(moderation)],
      );
      // A thread's reply count is what readers can see.
      const delta = (status === 'visible' ? 1 : 0) - (before.status === 'visible' ? 1 : 0);
      if (delta)
        await client.query('UPDATE posts SET reply_count = reply_count + $2 WHERE id = $1', [before.post_id, delta]);
      const flagsResolved = await resolveFlags(client, Number(before.post_id), id, `${action}: ${reason}`, moderator);
      const after = toReply({ ...updated[0]!, open_flag_count: updated[0]!.open_flag_count - flagsResolved }, true);
      await this.audit.record(client, {
        actor: context.principal,
        action: `reply.${action}`,
        subject: { type: 'reply', id },
        before: toReply(before, true),
        after,
        reason,
        requestId: context.requestId,
      });
      const post = await this.posts.visiblePost(client, context.principal, Number(before.post_id));
      return { after, post };
    });
    await this.events.publish([
      { type: 'reply.moderated', reply: eventReply(after), post: postRef(post), action, reason, moderator },
    ]);
    return after;
  }

  /** A person flags a post (replyId null) or a reply they can read; one open flag each. */
  async flag(target: { postId?: number; replyId?: number }, reason: string, context: WriteContext): Promise<Flag> {
    const principal = context.principal as Extract<Principal, { kind: 'user' }>;
    const flag = await this.database.transaction(async (client) => {
      let postId = target.postId;
      let excerpt: string;
      if (target.replyId !== undefined) {
        const { rows } = await client.query<{ post_id: string; body: string; status: string }>(
          'SELECT post_id, body, status FROM replies WHERE id = $1',
          [target.replyId],
        );
        if (!rows[0] || rows[0].status !== 'visible')
          throw new NotFoundException(`there is no reply ${target.replyId}`);
        postId = Number(rows[0].post_id);
        excerpt = rows[0].body;
      }
      const post = await this.posts.visiblePost(client, principal, postId!);
      excerpt ??= `${post.title}\n${post.body}`;
      const { rows } = await client
        .query<FlagRow>(
          `INSERT INTO flags (post_id, reply_id, flagged_by, reason) VALUES ($1, $2, $3, $4) RETURNING *,
             (SELECT display_name FROM users WHERE id = $3) AS flagger_name, $5::text AS excerpt`,
          [postId, target.replyId ?? null, principal.userId, reason, excerpt.slice(0, 200)],
        )
        .catch((error: unknown) => {
          if ((error as { code?: string }).code === '23505')
            throw new ConflictException('you have already flagged this');
          throw error;
        });
      await client.query(
        `UPDATE ${target.replyId ? 'replies' : 'posts'} SET open_flag_count = open_flag_count + 1 WHERE id = $1`,
        [target.replyId ?? postId],
      );
      const flag = toFlag(rows[0]!);
      await this.audit.record(client, {
        actor: principal,
        action: target.replyId ? 'reply.flagged' : 'post.flagged',
        subject: target.replyId ? { type: 'reply', id: target.replyId } : { type: 'post', id: postId! },
        after: flag,
        reason,
        requestId: context.requestId,
      });
      return flag;
    });
    await this.events.publish([{ type: 'flag.created', flag }]);
    return flag;
  }

  /** The flag queue. Filters: status, postId, replyId. Oldest first by default. */
  async flags(query: ListQuery<FlagSortField>): Promise<{ items: Flag[]; total: number }> {
    const { sql, values } = whereClause(query.filter, {
      status: 'f.status',
      postId: 'f.post_id',
      replyId: 'f.reply_id',
      id: 'f.id',
    });
    const order = `f.${query.sort.field === 'createdAt' ? 'created_at' : 'id'} ${query.sort.order}`;
    const [page, count] = await Promise.all([
      this.database.query<FlagRow>(
        `SELECT f.*, u.display_name AS flagger_name,
                left(coalesce(r.body, p.title || E'\\n' || p.body), 200) AS excerpt
           FROM flags f JOIN users u ON u.id = f.flagged_by JOIN posts p ON p.id = f.post_id
           LEFT JOIN replies r ON r.id = f.reply_id
           ${sql} ORDER BY ${order} OFFSET $${values.length + 1} LIMIT $${values.length + 2}`,
        [...values, query.offset, query.limit],
      ),
      this.database.query<{ total: number }>(`SELECT count(*)::int AS total FROM flags f ${sql}`, values),
    ]);
    return { items: page.rows.map(toFlag), total: count.rows[0]!.total };
  }

  /** One flag, as the queue shows it. */
  async getFlag(id: number): Promise<Flag> {
    const { items } = await this.flags({ sort: { field: 'id', order: 'ASC' }, offset: 0, limit: 1, filter: { id } });
    if (!items[0]) throw new NotFoundException(`there is no flag ${id}`);
    return items[0];
  }

  /** A moderator looked and leaves the post as it is. */
  async dismissFlag(id: number, reason: string, context: WriteContext): Promise<Flag> {
    const moderator = authorOf(context.principal);
    return this.database.transaction(async (client) => {
      const { rows } = await client.query<FlagRow>(
        `UPDATE flags f SET status = 'dismissed', resolution = $2, resolved_by = $3, resolved_at = now()
           FROM users u WHERE f.id = $1 AND f.status = 'open' AND u.id = f.flagged_by
         RETURNING f.*, u.display_name AS flagger_name, ''::text AS excerpt`,
        [id, reason, JSON.stringify(moderator)],
      );
      if (!rows[0]) throw new NotFoundException(`there is no open flag ${id}`);
      const flag = rows[0];
      await client.query(
        `UPDATE ${flag.reply_id ? 'replies' : 'posts'} SET open_flag_count = greatest(open_flag_count - 1, 0) WHERE id = $1`,
        [flag.reply_id ?? flag.post_id],
      );
      const dismissed = toFlag(flag);
      await this.audit.record(client, {
        actor: context.principal,
        action: 'flag.dismissed',
        subject: { type: 'flag', id },
        after: dismissed,
        reason,
        requestId: context.requestId,
      });
      return dismissed;
    });
  }
}

/** Open flags on what a moderator just acted on are settled by that act; returns how many. */
async function resolveFlags(
  client: pg.PoolClient,
  postId: number,
  replyId: number | null,
  resolution: string,
  moderator: ReturnType<typeof authorOf>,
): Promise<number> {
  const { rowCount } = await client.query(
    `UPDATE flags SET status = 'resolved', resolution = $3, resolved_by = $4, resolved_at = now()
      WHERE post_id = $1 AND reply_id IS NOT DISTINCT FROM $2 AND status = 'open'`,
    [postId, replyId, resolution, JSON.stringify(moderator)],
  );
  const resolved = rowCount ?? 0;
  if (resolved) {
    await client.query(`UPDATE ${replyId ? 'replies' : 'posts'} SET open_flag_count = 0 WHERE id = $1`, [
      replyId ?? postId,
    ]);
  }
  return resolved;
}

interface FlagRow {
  id: string;
  post_id: string;
  reply_id: string | null;
  flagged_by: string;
  flagger_name: string;
  reason: string;
  status: Flag['status'];
  resolution: string | null;
  resolved_by: Flag['resolvedBy'];
  resolved_at: Date | null;
  created_at: Date;
  excerpt: string;
}

function toFlag(row: FlagRow): Flag {
  return {
    id: Number(row.id),
    postId: Number(row.post_id),
    replyId: row.reply_id === null ? null : Number(row.reply_id),
    reason: row.reason,
    flaggedBy: { type: 'human', id: row.flagged_by, name: row.flagger_name },
    status: row.status,
    resolution: row.resolution,
    resolvedBy: row.resolved_by,
    resolvedAt: row.resolved_at?.toISOString() ?? null,
    excerpt: row.excerpt,
    createdAt: row.created_at.toISOString(),
  };
}
