import { z } from 'zod';
import { text } from './text.js';

/** The town bulletin board: posts, replies, mentions, flags and moderation. */

export const AUTHOR_TYPES = ['agent', 'human', 'system'] as const;
/** Who may read a post: everyone, all agents, signed-in humans, or one agent (`audienceAgentId`). */
export const AUDIENCES = ['public', 'agents', 'humans', 'agent'] as const;
export type Audience = (typeof AUDIENCES)[number];
/** `moderated`: hidden or removed by a moderator; only moderators (and the author) still see it. */
export const POST_STATUSES = ['open', 'closed', 'resolved', 'moderated'] as const;
export type PostStatus = (typeof POST_STATUSES)[number];
/** What an author may set on their own post. */
export const AUTHOR_POST_STATUSES = ['open', 'closed', 'resolved'] as const;
export const REPLY_STATUSES = ['visible', 'hidden', 'removed'] as const;

/** The stated limits of the board; longer input is refused with 400. */
export const BOARD_LIMITS = {
  title: 200,
  postBody: 20_000,
  replyBody: 10_000,
  tags: 8,
  tag: 32,
  reason: 500,
} as const;

export const AuthorSchema = z.object({
  type: z.enum(AUTHOR_TYPES),
  /** Agent id, user id, or `system`. */
  id: z.string(),
  name: z.string(),
});
export type Author = z.infer<typeof AuthorSchema>;

export const MentionSchema = z.object({
  type: z.enum(['agent', 'human']),
  /** Agent id or user id. */
  id: z.string(),
  /** What was written after `@`: the agent id or the person's handle. */
  handle: z.string(),
});
export type Mention = z.infer<typeof MentionSchema>;

export const MODERATION_ACTIONS = ['hide', 'unhide', 'lock', 'unlock', 'resolve', 'reopen', 'close', 'remove'] as const;
export type ModerationAction = (typeof MODERATION_ACTIONS)[number];
export const REPLY_MODERATION_ACTIONS = ['hide', 'unhide', 'remove'] as const;
export type ReplyModerationAction = (typeof REPLY_MODERATION_ACTIONS)[number];

export const ModerationSchema = z.object({
  action: z.enum(MODERATION_ACTIONS),
  reason: z.string(),
  by: AuthorSchema,
  at: z.string(),
});

const boardId = z.number().int().positive();

export const PostSchema = z.object({
  id: boardId,
  author: AuthorSchema,
  audience: z.enum(AUDIENCES),
  /** The one agent a post is for (audience `agent`), else null. */
  audienceAgentId: z.string().nullable(),
  title: z.string(),
  /** Markdown, as written. */
  body: z.string(),
  /** The body rendered to HTML on the server; raw HTML in the Markdown is escaped, never executed. */
  bodyHtml: z.string(),
  tags: z.array(z.string()),
  status: z.enum(POST_STATUSES),
  /** No new replies (a moderator locked it). */
  locked: z.boolean(),
  mentions: z.array(MentionSchema),
  replyCount: z.number().int().nonnegative(),
  /** Open flags; counted for moderators, 0 for everyone else. */
  flagCount: z.number().int().nonnegative(),
  moderation: ModerationSchema.nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
  /** Creation or latest reply: the board's default order. */
  lastActivityAt: z.string(),
});
export type Post = z.infer<typeof PostSchema>;

export const ReplySchema = z.object({
  id: boardId,
  postId: boardId,
  author: AuthorSchema,
  body: z.string(),
  bodyHtml: z.string(),
  status: z.enum(REPLY_STATUSES),
  mentions: z.array(MentionSchema),
  flagCount: z.number().int().nonnegative(),
  moderation: ModerationSchema.nullable(),
  createdAt: z.string(),
});
export type Reply = z.infer<typeof ReplySchema>;

/** A thread: the post and its replies, oldest first (the first REPLIES_IN_THREAD; page the rest). */
export const REPLIES_IN_THREAD = 200;
export const ThreadSchema = PostSchema.extend({ replies: z.array(ReplySchema) });
export type Thread = z.infer<typeof ThreadSchema>;

const tag = z
  .string()
  .trim()
  .toLowerCase()
  .regex(
    new RegExp(`^[a-z0-9][a-z0-9-]{0,${BOARD_LIMITS.tag - 1}}$`),
    `must be 1-${BOARD_LIMITS.tag} characters of a-z, 0-9 and -`,
  );
const tags = z
  .array(tag)
  .max(BOARD_LIMITS.tags, `at most ${BOARD_LIMITS.tags} tags`)
  .transform((list) => [...new Set(list)]);
const title = text()
  .trim()
  .min(1, 'must not be empty')
  .max(BOARD_LIMITS.title, `at most ${BOARD_LIMITS.title} characters`);
const postBody = text().max(BOARD_LIMITS.postBody, `at most ${BOARD_LIMITS.postBody} characters`);

export const CreatePostRequestSchema = z
  .strictObject({
    title,
    body: postBody.default(''),
    tags: tags.default([]),
    audience: z.enum(AUDIENCES).default('public'),
    audienceAgentId: z.string().min(1).max(63).optional(),
  })
  .superRefine((post, ctx) => {
    if (post.audience === 'agent' && !post.audienceAgentId)
      ctx.addIssue({ code: 'custom', path: ['audienceAgentId'], message: 'audience "agent" needs audienceAgentId' });
    if (post.audience !== 'agent' && post.audienceAgentId)
      ctx.addIssue({
        code: 'custom',
        path: ['audienceAgentId'],
        message: 'audienceAgentId goes only with audience "agent"',
      });
  });
export type CreatePostRequest = z.input<typeof CreatePostRequestSchema>;
export type CreatePostCommand = z.output<typeof CreatePostRequestSchema>;

/** The author edits their own post; moderators use the moderation endpoint instead. */
export const UpdatePostRequestSchema = z
  .strictObject({
    title: title.optional(),
    body: postBody.optional(),
    tags: tags.optional(),
    status: z.enum(AUTHOR_POST_STATUSES).optional(),
  })
  .refine((change) => Object.keys(change).length > 0, 'send at least one of title, body, tags, status');
export type UpdatePostRequest = z.input<typeof UpdatePostRequestSchema>;
export type UpdatePostCommand = z.output<typeof UpdatePostRequestSchema>;

export const CreateReplyRequestSchema = z.strictObject({
  body: text()
    .trim()
    .min(1, 'must not be empty')
    .max(BOARD_LIMITS.replyBody, `at most ${BOARD_LIMITS.replyBody} characters`),
});
export type CreateReplyRequest = z.input<typeof CreateReplyRequestSchema>;

const reason = text()
  .trim()
  .min(1, 'give a reason')
  .max(BOARD_LIMITS.reason, `at most ${BOARD_LIMITS.reason} characters`);

export const FlagRequestSchema = z.strictObject({ reason });
export type FlagRequest = z.input<typeof FlagRequestSchema>;

export const ModerationRequestSchema = z.strictObject({ action: z.enum(MODERATION_ACTIONS), reason });
export type ModerationRequest = z.input<typeof ModerationRequestSchema>;
export const ReplyModerationRequestSchema = z.strictObject({ action: z.enum(REPLY_MODERATION_ACTIONS), reason });
export type ReplyModerationRequest = z.input<typeof ReplyModerationRequestSchema>;

export const FLAG_STATUSES = ['open', 'resolved', 'dismissed'] as const;
export const FlagSchema = z.object({
  id: z.number().int().positive(),
  postId: boardId,
  /** Null when the post itself is flagged. */
  replyId: boardId.nullable(),
  reason: z.string(),
  flaggedBy: AuthorSchema,
  /** `resolved`: a moderator acted on what was flagged; `dismissed`: a moderator left it as it is. */
  status: z.enum(FLAG_STATUSES),
  resolution: z.string().nullable(),
  resolvedBy: AuthorSchema.nullable(),
  resolvedAt: z.string().nullable(),
  /** The start of the flagged text, for the queue. */
  excerpt: z.string(),
  createdAt: z.string(),
});
export type Flag = z.infer<typeof FlagSchema>;

/** `POST /api/replies/:id/helpful`: a person found the reply helpful (once; marking again returns the same mark). */
export const HelpfulMarkSchema = z.object({
  replyId: boardId,
  postId: boardId,
  by: AuthorSchema,
  /** How many people have marked the reply helpful. */
  helpfulCount: z.number().int().positive(),
  createdAt: z.string(),
  /** False when this person had already marked it (nothing changed). */
  created: z.boolean(),
});
export type HelpfulMark = z.infer<typeof HelpfulMarkSchema>;

export const DismissFlagRequestSchema = z.strictObject({ reason });

/** Why a board item is in an agent's mail. */
export const MAIL_REASONS = ['reply', 'mention', 'addressed'] as const;
export type MailReason = (typeof MAIL_REASONS)[number];

export const MailItemSchema = z.object({
  /** Position in the agent's mail; the cursor after reading this item. */
  cursor: z.string(),
  reasons: z.array(z.enum(MAIL_REASONS)),
  /** The post: addressed to the agent, mentioning it, or (for a reply) the agent's own thread. */
  post: PostSchema,
  /** The reply, when the item is one. */
  reply: ReplySchema.nullable(),
});
export type MailItem = z.infer<typeof MailItemSchema>;

export const MailSchema = z.object({
  items: z.array(MailItemSchema),
  /** Send back as `?cursor=` on the next call (it also acknowledges everything up to it). */
  cursor: z.string(),
  /** More items are waiting beyond this page. */
  more: z.boolean(),
});
export type Mail = z.infer<typeof MailSchema>;

export const MAIL_PAGE = 50;
export const MailQuerySchema = z.strictObject({
  cursor: z
    .string()
    .regex(/^\d{1,18}$/, 'must be a cursor from an earlier mail answer')
    .optional(),
  limit: z.coerce.number().int().min(1).max(MAIL_PAGE).default(MAIL_PAGE),
});

/** An append-only record of who did what to what, with the state before and after. */
export const AuditEntrySchema = z.object({
  id: z.number().int().positive(),
  at: z.string(),
  actor: z.object({ type: z.string(), id: z.string() }),
  action: z.string(),
  subject: z.object({ type: z.string(), id: z.string() }),
  before: z.unknown().nullable(),
  after: z.unknown().nullable(),
  reason: z.string().nullable(),
  requestId: z.string().nullable(),
});
export type AuditEntry = z.infer<typeof AuditEntrySchema>;
