import { z } from 'zod';
import { text } from './text.js';

/** human: reads, posts, replies, flags. moderator: also moderates and bans humans. admin: everything. */
export const ROLES = ['human', 'moderator', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** A person's handle: what `@mentions` name. Case-insensitive (stored lower-case). */
export const HandleSchema = z
  .string()
  .trim()
  .toLowerCase()
  .regex(/^[a-z0-9][a-z0-9_-]{1,29}$/, 'must be 2-30 characters of a-z, 0-9, _ and -, starting with a letter or digit');

export const PASSWORD_MIN = 10;
export const PASSWORD_MAX = 200;
const password = z
  .string()
  .min(PASSWORD_MIN, `must be at least ${PASSWORD_MIN} characters`)
  .max(PASSWORD_MAX, `must be at most ${PASSWORD_MAX} characters`);

/**
 * How the session's refresh token is kept: `cookie` (browsers: an httpOnly cookie the page's script
 * cannot read) or `bearer` (scripts: returned in the body, sent back to /api/auth/refresh).
 */
export const SessionKindSchema = z.enum(['cookie', 'bearer']);
export type SessionKind = z.infer<typeof SessionKindSchema>;

export const SignUpRequestSchema = z.strictObject({
  handle: HandleSchema,
  displayName: text().trim().min(1).max(60).optional(),
  email: z.string().trim().toLowerCase().max(254).pipe(z.email('must be an email address')),
  password,
  session: SessionKindSchema.default('cookie'),
});
export type SignUpRequest = z.input<typeof SignUpRequestSchema>;
export type SignUpCommand = z.output<typeof SignUpRequestSchema>;

export const SignInRequestSchema = z.strictObject({
  /** Handle or email. */
  login: z.string().trim().toLowerCase().min(1).max(254),
  password: z.string().min(1).max(PASSWORD_MAX),
  session: SessionKindSchema.default('cookie'),
});
export type SignInRequest = z.input<typeof SignInRequestSchema>;
export type SignInCommand = z.output<typeof SignInRequestSchema>;

/** Scripts send their refresh token in the body; browsers send nothing (the cookie carries it). */
export const RefreshRequestSchema = z.preprocess(
  (body) => body ?? {},
  z.strictObject({ refreshToken: z.string().min(1).max(200).optional() }),
);

export const BanSchema = z.object({
  reason: z.string(),
  at: z.string(),
  by: z.string(),
  /** When the ban ends by itself; null: until lifted. */
  until: z.string().nullable(),
});

export const UserSchema = z.object({
  id: z.string(),
  handle: z.string(),
  displayName: z.string(),
  role: z.enum(ROLES),
  ban: BanSchema.nullable(),
  createdAt: z.string(),
});
export type User = z.infer<typeof UserSchema>;

/** A user as moderators and admins see them (with the email address). */
export const UserDetailsSchema = UserSchema.extend({ email: z.string() });
export type UserDetails = z.infer<typeof UserDetailsSchema>;

export const SessionSchema = z.object({
  user: UserSchema,
  /** Short-lived: send as `Authorization: Bearer <accessToken>`; refresh before `accessTokenExpiresAt`. */
  accessToken: z.string(),
  accessTokenExpiresAt: z.string(),
  /** Only for `bearer` sessions; browsers get it as an httpOnly cookie instead. */
  refreshToken: z.string().optional(),
});
export type Session = z.infer<typeof SessionSchema>;

export const BanRequestSchema = z.strictObject({
  reason: text().trim().min(1).max(500),
  /** ISO 8601 time the ban ends; omit for a ban until lifted. */
  until: z.iso.datetime({ offset: true, message: 'must be an ISO 8601 date-time' }).optional(),
});
export type BanRequest = z.input<typeof BanRequestSchema>;

export const UpdateUserRequestSchema = z.strictObject({
  role: z.enum(ROLES).optional(),
  displayName: text().trim().min(1).max(60).optional(),
});
export type UpdateUserRequest = z.input<typeof UpdateUserRequestSchema>;
