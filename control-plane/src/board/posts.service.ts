import {
  BadRequestException,
  ConflictException,
  ForbiddenException,
  Injectable,
  NotFoundException,
} from '@nestjs/common';
import type pg from 'pg';
import { AuditService } from '../audit/audit.service.js';
import { authorOf, isModerator, type Principal } from '../auth/principal.js';
import {
  REPLIES_IN_THREAD,
  type CreatePostCommand,
  type Post,
  type Reply,
  type Thread,
  type UpdatePostCommand,
} from '../contract/index.js';
import { DatabaseService } from '../database/database.service.js';
import { EventBus } from '../events/event-bus.service.js';
import type { ListQuery } from '../http/list-query.js';
import { visibleSql, type Viewer } from './audience.js';
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
import { deliverMail, takeBoardOrderLock } from './mail-delivery.js';
import { renderMarkdown } from './markdown.js';
import { mentionKeys, resolveMentions } from './mentions.js';
import { buildPostFilter, POST_SORT_COLUMNS, type PostSortField } from './post-filter.js';

/** Lists count exactly (and rank search results) up to this many matches. */
export const EXACT_COUNT_UP_TO = 1000;

export interface WriteContext {
  principal: Principal;
  requestId?: string | undefined;
  /**
   * The request's Idempotency-Key, kept beside the post or reply in the same transaction: a retry whose
   * first answer was lost (the connection dropped during COMMIT) finds the first write instead of making
   * a second one. The interceptor's Redis record answers ordinary retries; this one survives it.
   */
  idempotencyKey?: string | undefined;
}

/** Posts and replies: writing them (with their mail, audit record and event) and reading them. */
@Injectable()
export class PostsService {
  constructor(
    private readonly database: DatabaseService,
    private readonly events: EventBus,
    private readonly audit: AuditService,
  ) {}

  async create(command: CreatePostCommand, context: WriteContext): Promise<Post> {
    const author = authorOf(context.principal);
    const { post, repeated } = await this.database.transaction(async (client) => {
      if (command.audienceAgentId) await requireAgent(client, command.audienceAgentId);
      const mentions = await resolveMentions(client, `${command.title}\n${command.body}`);
      await takeBoardOrderLock(client);
      const { rows } = await client.query<PostRow>(
        `INSERT INTO posts AS p (author_type, author_id, author_name, audience, audience_agent_id, title, body, body_html,
                                 tags, mentions, mention_keys, client_key)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
         ON CONFLICT (author_type, author_id, client_key) WHERE client_key IS NOT NULL DO NOTHING
         RETURNING ${POST_COLUMNS}`,
        [
          author.type,
          author.id,
          author.name,
          command.audience,
          command.audienceAgentId ?? null,
          command.title,
          command.body,
          renderMarkdown(command.body, mentions),
          command.tags,
          JSON.stringify(mentions),
          mentionKeys(mentions),
          context.idempotencyKey ?? null,
        ],
      );
      if (!rows[0]) return { post: await this.writtenBefore(client, author, context), repeated: true };
      const post = toPost(rows[0], isModerator(context.principal));
      await deliverMail(client, {
        itemId: post.id,
        postId: post.id,
        replyId: null,
        post,
        writer: author,
        mentions,
      });
      await this.audit.record(client, {
        actor: context.principal,
        action: 'post.created',
        subject: { type: 'post', id: post.id },
        after: publicPost(post),
        requestId: context.requestId,
      });
      return { post, repeated: false };
    });
    if (!repeated) await this.events.publish([{ type: 'post.created', post: eventPost(post) }]);
    return publicPost(post);
  }

  /** A page of the posts the viewer may read. See post-filter.ts for filters and order. */
  async list(viewer: Viewer, query: ListQuery<PostSortField>): Promise<{ items: Post[]; total: number }> {
    const values: unknown[] = [];
    if (query.filter.flagged !== undefined && !isModerator(viewer)) {
      throw new ForbiddenException('the "flagged" filter is for moderators');
    }
    const { where, rank } = buildPostFilter(query.filter, values);
    const conditions = [visibleSql(viewer, values), ...where].join(' AND ');
    const counting = this.countPosts(conditions, values);
    const byRelevance = rank && query.sort.field === 'lastActivityAt' && query.sort.order === 'DESC';
    // Ranking reads every match, so it waits for the count: beyond EXACT_COUNT_UP_TO matches the
    // newest come first instead. Any other page is read alongside the count.
    const order =
      byRelevance && (await counting) <= EXACT_COUNT_UP_TO
        ? `${rank} DESC, p.id DESC`
        : `${POST_SORT_COLUMNS[query.sort.field]} ${query.sort.order}, p.id ${query.sort.order}`;
    const pageValues = [...values, query.offset, query.limit];
    const [page, total] = await Promise.all([
      this.database.query<PostRow>(
        `SELECT ${POST_COLUMNS} FROM posts p WHERE ${conditions} ORDER BY ${order}
         OFFSET $${pageValues.length - 1} LIMIT $${pageValues.length}`,
        pageValues,
      ),
      counting,
    ]);
    const forModerator = isModerator(viewer);
    return { items: page.rows.map((row) => publicPost(toPost(row, forModerator))), total };
  }

  /**
   * How many posts match: exact up to EXACT_COUNT_UP_TO, the planner's estimate beyond (an exact count
   * of 100,000 visible posts visits them all on every page, which is what made the list slow).
   */
  private async countPosts(conditions: string, values: unknown[]): Promise<number> {
    const { rows } = await this.database.query<{ total: number }>(
      `SELECT count(*)::int AS total FROM (SELECT 1 FROM posts p WHERE ${conditions} LIMIT ${EXACT_COUNT_UP_TO + 1}) m`,
      values,
    );
    const exact = rows[0]!.total;
    if (exact <= EXACT_COUNT_UP_TO) return exact;
    const plan = await this.database.query<{ 'QUERY PLAN': [{ Plan: { 'Plan Rows': number } }] }>(
      `EXPLAIN (FORMAT JSON) SELECT 1 FROM posts p WHERE ${conditions}`,
      values,
    );
    return Math.max(exact, Math.round(plan.rows[0]!['QUERY PLAN'][0].Plan['Plan Rows']));
  }

  async thread(viewer: Viewer, id: number): Promise<Thread> {
    const post = await this.visiblePost(this.database.pool, viewer, id);
    const { items } = await this.replies(viewer, id, { offset: 0, limit: REPLIES_IN_THREAD, order: 'ASC' }, post);
    return { ...publicPost(post), replies: items };
  }

  /** Replies of a post the viewer may read, oldest first by default; hidden ones only to moderators. */
  async replies(
    viewer: Viewer,
    postId: number,
    page: { offset: number; limit: number; order: 'ASC' | 'DESC' },
    knownPost?: Post,
  ): Promise<{ items: Reply[]; total: number }> {
    if (!knownPost) await this.visiblePost(this.database.pool, viewer, postId);
    const forModerator = isModerator(viewer);
    const onlyVisible = forModerator ? '' : `AND r.status = 'visible'`;
    const [rows, count] = await Promise.all([
      this.database.query<ReplyRow>(
        `SELECT ${REPLY_COLUMNS} FROM replies r WHERE r.post_id = $1 ${onlyVisible}
         ORDER BY r.id ${page.order} OFFSET $2 LIMIT $3`,
        [postId, page.offset, page.limit],
      ),
      this.database.query<{ total: number }>(
        `SELECT count(*)::int AS total FROM replies r WHERE r.post_id = $1 ${onlyVisible}`,
        [postId],
      ),
    ]);
    return { items: rows.rows.map((row) => toReply(row, forModerator)), total: count.rows[0]!.total };
  }

  /** The author edits their own post (title, body, tags, or open/closed/resolved). */
  async update(id: number, change: UpdatePostCommand, context: WriteContext): Promise<Post> {
    const author = authorOf(context.principal);
    const { after, changed } = await this.database.transaction(async (client) => {
      const before = await this.visiblePost(client, context.principal, id, true);
      if (before.author.type !== author.type || before.author.id !== author.id) {
        throw new ForbiddenException('only its author may edit a post');
      }
      if (before.status === 'moderated') throw new ConflictException('a moderator hid this post; it cannot be edited');
      if (before.locked) throw new ConflictException('this post is locked by a moderator; it cannot be edited');
      if (change.status && before.moderation?.action === 'close' && before.status === 'closed') {
        throw new ConflictException('a moderator closed this post; only a moderator can reopen it');
      }
      const title = change.title ?? before.title;
      const body = change.body ?? before.body;
      const mentions =
        change.title !== undefined || change.body !== undefined
          ? await resolveMentions(client, `${title}\n${body}`)
          : before.mentions;
      const { rows } = await client.query<PostRow>(
        `UPDATE posts AS p SET title = $2, body = $3, body_html = $4, tags = $5, status = $6, mentions = $7,
                mention_keys = $8, updated_at = now()
          WHERE id = $1 RETURNING ${POST_COLUMNS}`,
        [
          id,
          title,
          body,
          renderMarkdown(body, mentions),
          change.tags ?? before.tags,
          change.status ?? before.status,
          JSON.stringify(mentions),
          mentionKeys(mentions),
        ],
      );
      const after = toPost(rows[0]!, isModerator(context.principal));
      await this.audit.record(client, {
        actor: context.principal,
        action: 'post.updated',
        subject: { type: 'post', id },
        before: publicPost(before),
        after: publicPost(after),
        requestId: context.requestId,
      });
      return { after, changed: Object.keys(change) };
    });
    await this.events.publish([{ type: 'post.updated', post: eventPost(after), changed }]);
    return publicPost(after);
  }

  async reply(postId: number, body: string, context: WriteContext): Promise<Reply> {
    const author = authorOf(context.principal);
    const { reply, post, repeated } = await this.database.transaction(async (client) => {
      const post = await this.visiblePost(client, context.principal, postId, true);
      if (post.status === 'moderated') throw new ConflictException('this post is hidden; it takes no replies');
      if (post.locked) throw new ConflictException('this post is locked; it takes no more replies');
      if (post.status === 'closed') throw new ConflictException('this post is closed; it takes no more replies');
      const mentions = await resolveMentions(client, body);
      await takeBoardOrderLock(client);
      const { rows } = await client.query<ReplyRow>(
        `INSERT INTO replies AS r (post_id, author_type, author_id, author_name, body, body_html, mentions, client_key)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (post_id, author_type, author_id, client_key) WHERE client_key IS NOT NULL DO NOTHING
         RETURNING ${REPLY_COLUMNS}`,
        [
          postId,
          author.type,
          author.id,
          author.name,
          body,
          renderMarkdown(body, mentions),
          JSON.stringify(mentions),
          context.idempotencyKey ?? null,
        ],
      );
      if (!rows[0]) {
        const { rows: before } = await client.query<ReplyRow>(
          `SELECT ${REPLY_COLUMNS} FROM replies r
            WHERE r.post_id = $1 AND r.author_type = $2 AND r.author_id = $3 AND r.client_key = $4`,
          [postId, author.type, author.id, context.idempotencyKey],
        );
        return { reply: toReply(before[0]!, isModerator(context.principal)), post, repeated: true };
      }
      const reply = toReply(rows[0], isModerator(context.principal));
      await client.query(`UPDATE posts SET reply_count = reply_count + 1, last_activity_at = now() WHERE id = $1`, [
        postId,
      ]);
      await deliverMail(client, { itemId: reply.id, postId, replyId: reply.id, post, writer: author, mentions });
      await this.audit.record(client, {
        actor: context.principal,
        action: 'reply.created',
        subject: { type: 'reply', id: reply.id },
        after: reply,
        requestId: context.requestId,
      });
      return { reply, post, repeated: false };
    });
    if (!repeated)
      await this.events.publish([{ type: 'reply.created', reply: eventReply(reply), post: postRef(post) }]);
    return reply;
  }

  /** The post this author wrote before with this Idempotency-Key (its first answer was lost). */
  private async writtenBefore(
    client: Pick<pg.PoolClient, 'query'>,
    author: { type: string; id: string },
    context: WriteContext,
  ): Promise<Post> {
    const { rows } = await client.query<PostRow>(
      `SELECT ${POST_COLUMNS} FROM posts p WHERE p.author_type = $1 AND p.author_id = $2 AND p.client_key = $3`,
      [author.type, author.id, context.idempotencyKey],
    );
    return toPost(rows[0]!, isModerator(context.principal));
  }

  /** The post, if the viewer may read it; 404 otherwise (whether it exists is not the viewer's business). */
  async visiblePost(
    client: Pick<pg.PoolClient, 'query'>,
    viewer: Viewer,
    id: number,
    forUpdate = false,
  ): Promise<Post & { removed: boolean }> {
    const values: unknown[] = [id];
    const { rows } = await client.query<PostRow>(
      `SELECT ${POST_COLUMNS} FROM posts p WHERE p.id = $1 AND ${visibleSql(viewer, values)} ${forUpdate ? 'FOR UPDATE' : ''}`,
      values,
    );
    if (!rows[0]) throw new NotFoundException(`there is no post ${id}`);
    return toPost(rows[0], isModerator(viewer));
  }
}

export function postRef(post: Post) {
  return {
    id: post.id,
    title: post.status === 'moderated' ? '' : post.title,
    author: post.author,
    audience: post.audience,
    audienceAgentId: post.audienceAgentId,
  };
}

async function requireAgent(client: Pick<pg.PoolClient, 'query'>, agentId: string) {
  const { rowCount } = await client.query('SELECT 1 FROM agents WHERE id = $1', [agentId]);
  if (!rowCount) throw new BadRequestException(`invalid request body: audienceAgentId: there is no agent "${agentId}"`);
}
