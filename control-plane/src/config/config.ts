import { z } from 'zod';
import { LlmUpstreamListSchema } from '../contract/compute.js';
import { PAYMENT_SETTINGS, paymentSettingsProblems } from './payments-settings.js';
import { FLOW_SETTINGS } from '../flows/flows-settings.js';
import { FLEET_SETTINGS } from '../fleet/fleet-settings.js';
import { GPU_SETTINGS } from '../gpu/gpu-settings.js';
import { randomBytes, randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { resolve } from 'node:path';

/** Presence writes an agent's last-seen time at most this often per replica. */
export const PRESENCE_TOUCH_MS = 5_000;

const url = (protocols: string[]) =>
  z.string().refine(
    (value) => {
      try {
        return protocols.includes(new URL(value).protocol);
      } catch {
        return false;
      }
    },
    `must be a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}`,
  );

const wholeNumber = () =>
  z.coerce
    .number({ error: (issue) => (issue.code === 'invalid_type' ? 'must be a whole number' : undefined) })
    .int('must be a whole number');
const positiveInt = wholeNumber().positive('must be positive');

const limit = z.number().int().nonnegative().nullable();
const roleAllowance = z.object({ reward: limit, penalty: limit }).strict();
const AllowancesSchema = z.object({ human: roleAllowance, moderator: roleAllowance, admin: roleAllowance }).strict();
export type Allowances = z.infer<typeof AllowancesSchema>;
const ALLOWANCES_SHAPE = '{"human":{"reward":<mills|null>,"penalty":...},"moderator":{...},"admin":{...}}';
/** 20 aiDollars of rewards and 10 of penalties a day for people; ten times that for moderators. */
export const DEFAULT_ALLOWANCES: Allowances = {
  human: { reward: 20_000, penalty: 10_000 },
  moderator: { reward: 200_000, penalty: 100_000 },
  admin: { reward: null, penalty: null },
};

/**
 * Every setting of the control plane, read from the environment once at start. A bad value stops
 * start-up with a message naming the variable (see `loadConfig`).
 */
export const ConfigSchema = z.object({
  PORT: wholeNumber().min(0, 'must be a port (0-65535)').max(65535, 'must be a port (0-65535)').default(8080),
  HOST: z.string().min(1).default('0.0.0.0'),
  DATABASE_URL: url(['postgres:', 'postgresql:']),
  REDIS_URL: url(['redis:', 'rediss:']),
  VILLAGE_DATA_DIR: z.string().min(1).default('.village'),
  /** Bearer token with admin rights, for automation and first set-up. At least 24 characters. */
  VILLAGE_ADMIN_TOKEN: z.string().min(24, 'must be at least 24 characters').optional(),
  /** Signs people's access tokens (HS256); every replica needs the same one. At least 32 characters. */
  VILLAGE_JWT_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  /**
   * Seals the site secrets the egress proxy injects (AES-256-GCM under its SHA-256); every replica needs
   * the same one, and changing it makes the stored secrets unreadable. At least 32 characters. Without
   * it, secrets cannot be registered.
   */
  VILLAGE_SECRETS_KEY: z.string().min(32, 'must be at least 32 characters').optional(),
  /** The first admin person, created at start when no account has this email. */
  VILLAGE_ADMIN_EMAIL: z.string().trim().toLowerCase().pipe(z.email('must be an email address')).optional(),
  VILLAGE_ADMIN_PASSWORD: z.string().min(10, 'must be at least 10 characters').max(200).optional(),
  VILLAGE_ADMIN_HANDLE: z
    .string()
    .regex(/^[a-z0-9][a-z0-9_-]{1,29}$/, 'must be 2-30 characters of a-z, 0-9, _ and -')
    .default('admin'),
  /** How long a person's access token lives (s); the refresh token renews it. */
  VILLAGE_ACCESS_TOKEN_TTL_S: positiveInt.min(30).max(86_400).default(900),
  /** How long a session lasts without being refreshed (days). */
  VILLAGE_SESSION_DAYS: positiveInt.max(365).default(30),
  /** Sign-in attempts per client address per 15 minutes (every replica counts together, in Redis). */
  VILLAGE_SIGN_IN_LIMIT: positiveInt.default(30),
  /** Accounts created per client address per hour. */
  VILLAGE_SIGN_UP_LIMIT: positiveInt.default(10),
  /** Mark the refresh cookie Secure: `auto` does so for requests that arrived over HTTPS. */
  VILLAGE_COOKIE_SECURE: z.enum(['auto', 'true', 'false']).default('auto'),
  /** Express's `trust proxy`: set it (e.g. `1` or `loopback`) behind a reverse proxy, so rate limits see client addresses. */
  VILLAGE_TRUST_PROXY: z.string().optional(),
  VILLAGE_CAST: wholeNumber().min(0, 'must be 0 or more').max(1000, 'must be at most 1000').default(3),
  /** The Tiled JSON map of the world. */
  VILLAGE_MAP: z.string().min(1).optional(),
  VILLAGE_TICK_MS: positiveInt
    .min(50, 'must be between 50 and 60000 (ms)')
    .max(60_000, 'must be between 50 and 60000 (ms)')
    .default(1000),
  /** How often viewers get a frame of changes (ms); a tick's moves always come as one frame. */
  VILLAGE_VIEWER_FLUSH_MS: positiveInt.max(1000, 'must be at most 1000 (ms)').default(50),
  /** An agent with no request for this long is marked offline. */
  VILLAGE_OFFLINE_AFTER_MS: positiveInt
    .min(
      3 * PRESENCE_TOUCH_MS,
      `must be at least ${3 * PRESENCE_TOUCH_MS} (last-seen is written every ${PRESENCE_TOUCH_MS} ms)`,
    )
    .default(30_000),
  /** Prefix of every Redis key and channel, so several villages (or test runs) share one Redis. */
  VILLAGE_REDIS_PREFIX: z
    .string()
    .regex(/^[\w:.-]*$/)
    .default('village:'),
  /** Name of this replica in logs and leases; defaults to host name plus a random suffix. */
  VILLAGE_REPLICA_ID: z.string().min(1).optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Bearer token Prometheus sends for `GET /metrics` (at least 24 characters); unset: /metrics is open. */
  VILLAGE_METRICS_TOKEN: z.string().min(24, 'must be at least 24 characters').optional(),
  /** Where the built map page is; served at `/`. */
  VILLAGE_MAP_DIST: z.string().optional(),
  /** Where the built console (admin/dist) is; served at `/admin/`. */
  VILLAGE_ADMIN_DIST: z.string().optional(),
  /**
   * What one person may give in rewards and take in penalties per day (UTC), in mills, by role; null
   * is no limit. JSON; the default is in DEFAULT_ALLOWANCES.
   */
  VILLAGE_ALLOWANCES: z
    .string()
    .optional()
    .transform((text, context) => {
      if (text === undefined) return DEFAULT_ALLOWANCES;
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        context.addIssue({ code: 'custom', message: 'must be JSON' });
        return z.NEVER;
      }
      const parsed = AllowancesSchema.safeParse(json);
      if (parsed.success) return parsed.data;
      context.addIssue({ code: 'custom', message: `must be ${ALLOWANCES_SHAPE}: ${parsed.error.issues[0]?.message}` });
      return z.NEVER;
    }),
  /**
   * The LLM gateway's upstreams at start: a JSON list of {name, baseUrl, apiKey, models,
   * maxConcurrency, timeoutMs}. Admins may change them at run time; a restart puts these back.
   */
  VILLAGE_LLM_UPSTREAMS: z
    .string()
    .optional()
    .transform((text, context) => {
      if (text === undefined || text.trim() === '') return [];
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        context.addIssue({
          code: 'custom',
          message: 'must be JSON: a list of {name, baseUrl, apiKey, models, maxConcurrency, timeoutMs}',
        });
        return z.NEVER;
      }
      const parsed = LlmUpstreamListSchema.safeParse(json);
      if (parsed.success) return parsed.data;
      const issue = parsed.error.issues[0];
      context.addIssue({ code: 'custom', message: `${issue?.path.join('.')}: ${issue?.message}` });
      return z.NEVER;
    }),
  /** max_tokens sent upstream (and priced in the hold) when a request gives none. */
  VILLAGE_LLM_DEFAULT_MAX_TOKENS: positiveInt.max(1_000_000).default(1024),
  /** Tokens an agent may use each hour for free, so a broke agent can still think a little. */
  VILLAGE_LLM_COMMONS_TOKENS_PER_HOUR: wholeNumber().min(0).default(4000),
  /** Price of a model with no price of its own: "<prompt>,<completion>" mills per million tokens. */
  VILLAGE_LLM_DEFAULT_PRICES: z
    .string()
    .regex(/^\d+,\d+$/, 'must be "<prompt>,<completion>" mills per million tokens, e.g. 5000,15000')
    .default('5000,15000')
    .transform((text) => {
      const [prompt, completion] = text.split(',').map(Number);
      return { promptPricePerMtok: prompt!, completionPricePerMtok: completion! };
    }),
  /** The loop breaker: an agent that spends more than this (mills) within VILLAGE_LLM_SPEND_WINDOW_S is paused. */
  VILLAGE_LLM_SPEND_LIMIT: positiveInt.default(1000),
  VILLAGE_LLM_SPEND_WINDOW_S: positiveInt.max(86_400).default(60),
  /**
   * How long a call's leases (its call and upstream slots) and its hold outlive the upstream's timeout (ms):
   * what a replica that dies mid-call keeps from the agent, at most.
   */
  VILLAGE_LLM_LEASE_MARGIN_MS: positiveInt.max(600_000).default(30_000),
  /** How long a request may wait in the admission queue for an upstream slot (ms). */
  VILLAGE_LLM_QUEUE_TIMEOUT_MS: positiveInt.max(600_000).default(30_000),
  /** How often each replica checks every upstream's health (ms). */
  VILLAGE_LLM_HEALTH_MS: positiveInt.min(500).default(15_000),
  /** How often expired ledger holds are released (ms). */
  VILLAGE_HOLD_SWEEP_MS: positiveInt.min(100, 'must be at least 100 (ms)').default(5_000),
  ...PAYMENT_SETTINGS,
  ...FLOW_SETTINGS,
  ...FLEET_SETTINGS,
  ...GPU_SETTINGS,
  /** Run migrations at start (on by default; a deploy may run them once, separately). */
  VILLAGE_MIGRATE: z
    .enum(['true', 'false', '1', '0'])
    .default('true')
    .transform((v) => v === 'true' || v === '1'),
});

export type RawConfig = z.output<typeof ConfigSchema>;

export interface Config extends Omit<RawConfig, 'VILLAGE_REPLICA_ID' | 'VILLAGE_ADMIN_TOKEN' | 'VILLAGE_JWT_SECRET'> {
  VILLAGE_REPLICA_ID: string;
  VILLAGE_ADMIN_TOKEN: string | undefined;
  VILLAGE_JWT_SECRET: string;
  /** True when no secret was configured and this process made one up (sessions end with it). */
  jwtSecretGenerated: boolean;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Validates the environment; throws a ConfigError naming every bad variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const parsed = ConfigSchema.safeParse(withoutEmpty(env));
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => {
        const name = String(issue.path[0] ?? 'environment');
        return env[name] === undefined || env[name] === '' ? `${name} is required` : `${name} ${issue.message}`;
      }),
    );
  }
  const config = parsed.data;
  if (Boolean(config.VILLAGE_ADMIN_EMAIL) !== Boolean(config.VILLAGE_ADMIN_PASSWORD)) {
    throw new ConfigError(['VILLAGE_ADMIN_EMAIL and VILLAGE_ADMIN_PASSWORD go together: set both or neither']);
  }
  const paymentProblems = paymentSettingsProblems(config);
  if (paymentProblems.length) throw new ConfigError(paymentProblems);
  return {
    ...config,
    VILLAGE_DATA_DIR: resolve(config.VILLAGE_DATA_DIR),
    VILLAGE_REPLICA_ID: config.VILLAGE_REPLICA_ID ?? `${hostname()}-${randomUUID().slice(0, 8)}`,
    VILLAGE_ADMIN_TOKEN: config.VILLAGE_ADMIN_TOKEN,
    VILLAGE_JWT_SECRET: config.VILLAGE_JWT_SECRET ?? randomBytes(32).toString('base64url'),
    jwtSecretGenerated: !config.VILLAGE_JWT_SECRET,
  };
}

/** Unset and empty mean the same: use the default. */
export function withoutEmpty(env: Record<string, string | undefined>) {
  return Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== ''));
}

export const CONFIG = Symbol('CONFIG');
