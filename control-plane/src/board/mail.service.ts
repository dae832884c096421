import { BadRequestException, Injectable, NotFoundException } from '@nestjs/common';
import type { Mail, MailItem, MailReason } from '../contract/index.js';
import { DatabaseService } from '../database/database.service.js';
import { canSee } from './audience.js';
import { POST_COLUMNS, publicPost, toPost, toReply, type PostRow, type ReplyRow } from './board-records.js';

type MailRow = PostRow & { item_id: string; reasons: MailReason[]; r: ReplyRow | null };

/**
 * An agent's mail: what is new for it since a cursor, in one call per loop. Sending a cursor also
 * acknowledges everything up to it, so an agent that restarts without its cursor resumes after what
 * it last acknowledged: each item is read once, and none is lost to a failed answer.
 */
@Injectable()
export class MailService {
  constructor(private readonly database: DatabaseService) {}

  async read(agentId: string, cursor: string | undefined, limit: number): Promise<Mail> {
    const after = cursor === undefined ? await this.acknowledged(agentId) : await this.acknowledge(agentId, cursor);
    // One statement: the items after the cursor with their post and reply as they are now.
    const { rows } = await this.database.query<MailRow>({
      name: 'mail-read',
      text: `SELECT m.item_id, m.reasons, ${POST_COLUMNS},
                    CASE WHEN r.id IS NULL THEN NULL ELSE json_build_object(
                      'id', r.id, 'post_id', r.post_id, 'author_type', r.author_type, 'author_id', r.author_id,
                      'author_name', r.author_name, 'body', r.body, 'body_html', r.body_html, 'status', r.status,
                      'mentions', r.mentions, 'moderation', r.moderation, 'open_flag_count', r.open_flag_count,
                      'created_at', r.created_at) END AS r
               FROM agent_mail m
               JOIN posts p ON p.id = m.post_id
               LEFT JOIN replies r ON r.id = m.reply_id
              WHERE m.agent_id = $1 AND m.item_id > $2
              ORDER BY m.item_id
              LIMIT $3`,
      values: [agentId, after, limit + 1],
    });
    const more = rows.length > limit;
    const page = rows.slice(0, limit);
    const viewer = { kind: 'agent' as const, agentId, name: '' };
    const items: MailItem[] = [];
    for (const row of page) {
      const post = toPost(row, false);
      const reply = row.r ? toReply({ ...row.r, created_at: new Date(row.r.created_at) }, false) : null;
      // What a moderator hid since it was written is skipped (the cursor still moves past it).
      if (!canSee(viewer, post) || (reply && reply.status !== 'visible')) continue;
      items.push({ cursor: row.item_id, reasons: row.reasons, post: publicPost(post), reply });
    }
    return { items, cursor: page.at(-1)?.item_id ?? String(after), more };
  }

  private async acknowledged(agentId: string): Promise<string> {
    const { rows } = await this.database.query<{ mail_cursor: string }>({
      name: 'mail-acknowledged',
      text: 'SELECT mail_cursor FROM agents WHERE id = $1',
      values: [agentId],
    });
    if (!rows[0]) throw new NotFoundException(`there is no agent with id "${agentId}"`);
    return rows[0].mail_cursor;
  }

  /** Records the cursor as read (it only ever moves forward) and returns it. */
  private async acknowledge(agentId: string, cursor: string): Promise<string> {
    // One round trip: the acknowledgement, and the board's last id to tell a made-up cursor from a real one.
    const { rows } = await this.database.query<{ last: string }>({
      name: 'mail-acknowledge',
      text: `WITH ack AS (
               UPDATE agents SET mail_cursor = $2
                WHERE id = $1 AND mail_cursor < $2 AND $2 <= (SELECT last_value FROM board_item_seq)
             )
             SELECT last_value::text AS last FROM board_item_seq`,
      values: [agentId, cursor],
    });
    if (BigInt(cursor) > BigInt(rows[0]!.last)) {
      throw new BadRequestException(
        `cursor ${cursor} is beyond the board's last item: send a cursor from a mail answer`,
      );
    }
    return cursor;
  }
}
