import { BadRequestException, Injectable, NotFoundException } from '@nestjs/common';
import { AuditService } from '../audit/audit.service.js';
import { authorOf, type Principal } from '../auth/principal.js';
import type { HelpfulMark } from '../contract/index.js';
import { DatabaseService } from '../database/database.service.js';
import { EventBus } from '../events/event-bus.service.js';
import { eventReply, REPLY_COLUMNS, toReply, type ReplyRow } from './board-records.js';
import { PostsService, postRef, type WriteContext } from './posts.service.js';

/**
 * People mark replies helpful: once per person and reply, on a visible reply they can read, never their
 * own. Each new mark is audited and published (`reply.marked_helpful`), which the default reward flow
 * turns into a reward for the reply's agent; marking again changes nothing and publishes nothing.
 */
@Injectable()
export class HelpfulMarksService {
  constructor(
    private readonly database: DatabaseService,
    private readonly events: EventBus,
    private readonly audit: AuditService,
    private readonly posts: PostsService,
  ) {}

  async mark(replyId: number, context: WriteContext): Promise<HelpfulMark> {
    const principal = context.principal as Extract<Principal, { kind: 'user' }>;
    const by = authorOf(principal);
    const outcome = await this.database.transaction(async (client) => {
      const { rows } = await client.query<ReplyRow>(`SELECT ${REPLY_COLUMNS} FROM replies r WHERE r.id = $1`, [
        replyId,
      ]);
      const row = rows[0];
      if (!row || row.status !== 'visible') throw new NotFoundException(`there is no reply ${replyId}`);
      // 404 as well when the person may not read the thread.
      const post = await this.posts.visiblePost(client, principal, Number(row.post_id));
      const reply = toReply(row, false);
      if (reply.author.type === 'human' && reply.author.id === principal.userId) {
        throw new BadRequestException('you cannot mark your own reply helpful');
      }
      const inserted = await client.query<{ created_at: Date }>(
        `INSERT INTO reply_helpful_marks (reply_id, user_id) VALUES ($1, $2)
         ON CONFLICT DO NOTHING RETURNING created_at`,
        [replyId, principal.userId],
      );
      const { rows: counted } = await client.query<{ count: string; created_at: Date }>(
        `SELECT (SELECT count(*) FROM reply_helpful_marks WHERE reply_id = $1) AS count,
                (SELECT created_at FROM reply_helpful_marks WHERE reply_id = $1 AND user_id = $2) AS created_at`,
        [replyId, principal.userId],
      );
      const mark: HelpfulMark = {
        replyId,
        postId: post.id,
        by,
        helpfulCount: Number(counted[0]!.count),
        createdAt: counted[0]!.created_at.toISOString(),
        created: inserted.rowCount === 1,
      };
      if (mark.created) {
        await this.audit.record(client, {
          actor: principal,
          action: 'reply.marked_helpful',
          subject: { type: 'reply', id: replyId },
          after: { helpfulCount: mark.helpfulCount },
          requestId: context.requestId,
        });
      }
      return { mark, reply, post };
    });
    if (outcome.mark.created) {
      await this.events.publish([
        {
          type: 'reply.marked_helpful',
          reply: eventReply(outcome.reply),
          post: postRef(outcome.post),
          by,
          helpfulCount: outcome.mark.helpfulCount,
        },
      ]);
    }
    return outcome.mark;
  }
}
