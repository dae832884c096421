import { z } from 'zod';
import { AgentSchema } from './world.js';
import { AGENT_TOOLS, DEFAULT_TIER_TOOLS } from './tools.js';
import { EgressHostPatternSchema } from './egress.js';
import { DEFAULT_GPU_PRICE, GpuPriceSchema } from './gpu.js';

/**
 * The aiDollar economy: the ledger's accounts and transfers, rewards and penalties, and the compute
 * tiers a balance buys. Amounts are integers in mills: 1 aiDollar = 1,000 mills (never floats).
 */

export const MILLS_PER_AIDOLLAR = 1000;
/** The largest amount one transfer may move: 1,000,000,000 aiDollars. */
export const MAX_TRANSFER_AMOUNT = 1_000_000_000 * MILLS_PER_AIDOLLAR;

/** `12345` mills → `"12.345"`; the one formatting rule for people. */
export function formatAiDollars(mills: number): string {
  const sign = mills < 0 ? '-' : '';
  const abs = Math.abs(mills);
  const whole = Math.floor(abs / MILLS_PER_AIDOLLAR);
  const rest = abs % MILLS_PER_AIDOLLAR;
  return `${sign}${whole}${rest ? `.${String(rest).padStart(3, '0').replace(/0+$/, '')}` : ''}`;
}

/** Digits, then at most three decimals after a point: "2", "2.5", "0.125". */
const AIDOLLAR_AMOUNT = /^(\d+)(?:\.(\d{1,3}))?$/;

/**
 * What a person typed as aiDollars, in whole mills; or, for anything else, why not (in words for a
 * form). String arithmetic, so "0.1" is exactly 100 mills. The map's and the console's forms use it.
 */
export function parseAiDollars(text: string): { mills: number } | { error: string } {
  const trimmed = text.trim();
  if (!trimmed) return { error: 'Enter an amount in aiDollars, e.g. 2.5.' };
  const match = AIDOLLAR_AMOUNT.exec(trimmed);
  if (!match) {
    return /^\d*\.\d{4,}$/.test(trimmed)
      ? { error: 'At most three decimals: 1 aiDollar is 1,000 mills.' }
      : { error: 'Enter the amount as a number of aiDollars, e.g. 2 or 2.5 (a point for decimals).' };
  }
  const tooMuch = { error: `The amount can be at most ${formatAiDollars(MAX_TRANSFER_AMOUNT)} aiDollars.` };
  const whole = match[1]!.replace(/^0+(?=\d)/, '');
  if (whole.length > String(MAX_TRANSFER_AMOUNT / MILLS_PER_AIDOLLAR).length) return tooMuch;
  const mills = Number(whole) * MILLS_PER_AIDOLLAR + Number((match[2] ?? '').padEnd(3, '0'));
  if (mills <= 0) return { error: 'The amount must be more than 0.' };
  if (mills > MAX_TRANSFER_AMOUNT) return tooMuch;
  return { mills };
}

export const AmountSchema = z
  .number({ error: 'amount must be a number of mills (1 aiDollar = 1000 mills)' })
  .int('amount must be a whole number of mills (1 aiDollar = 1000 mills)')
  .positive('amount must be more than 0')
  .max(MAX_TRANSFER_AMOUNT, `amount must be at most ${MAX_TRANSFER_AMOUNT} mills`);

/** The village's own accounts. Agents' accounts are named `agent:<agent id>`. */
export const SYSTEM_ACCOUNTS = ['treasury', 'burn', 'compute_revenue', 'deposits_clearing', 'suspense'] as const;
export type SystemAccount = (typeof SYSTEM_ACCOUNTS)[number];
export const agentAccount = (agentId: string) => `agent:${agentId}`;

/** Why money moved. */
export const TRANSFER_REASONS = [
  'reward',
  'penalty',
  'deposit_credit',
  'deposit_refund',
  'compute_purchase',
  'gpu_usage',
  'transfer',
  'grant',
  'reversal',
] as const;
export type TransferReason = (typeof TRANSFER_REASONS)[number];
export const TRANSFER_KINDS = ['posted', 'pending', 'post_pending', 'void_pending'] as const;
export const SOURCE_TYPES = ['human', 'agent', 'admin', 'system', 'payment', 'flow'] as const;

export const TransferSchema = z.object({
  id: z.number().int().positive(),
  /** posted: money moved; pending: a hold; post_pending / void_pending: a hold settled / released. */
  kind: z.enum(TRANSFER_KINDS),
  /** The account rows (a system account's shard, e.g. `treasury#3`). */
  debitAccount: z.string(),
  creditAccount: z.string(),
  amount: z.number().int().nonnegative(),
  reason: z.string(),
  memo: z.string().nullable(),
  source: z.object({ type: z.string(), id: z.string().nullable() }),
  postId: z.number().int().nullable(),
  metadata: z.record(z.string(), z.unknown()),
  idempotencyKey: z.string(),
  pendingId: z.number().int().nullable(),
  expiresAt: z.string().nullable(),
  reversesId: z.number().int().nullable(),
  createdAt: z.string(),
  /** Hex SHA-256, chained to the previous transfers of both accounts. */
  hash: z.string(),
});
export type Transfer = z.infer<typeof TransferSchema>;

/** One line of an account's history. */
export const LedgerEntrySchema = z.object({
  /** The account's entry number (1, 2, 3, ...). */
  id: z.number().int().positive(),
  seq: z.number().int().positive(),
  account: z.string(),
  /** Signed change to the balance (0 for a hold) and to what is held. */
  amount: z.number().int(),
  heldChange: z.number().int(),
  balanceAfter: z.number().int(),
  heldAfter: z.number().int(),
  transfer: TransferSchema,
});
export type LedgerEntry = z.infer<typeof LedgerEntrySchema>;

export const EntitlementsSchema = z.object({
  /** Requests a minute on the agent API. */
  requestsPerMinute: z.number().int().positive(),
  llmTokensPerHour: z.number().int().nonnegative(),
  concurrentLlmCalls: z.number().int().nonnegative(),
  concurrentToolRuns: z.number().int().nonnegative(),
  /** The operator tools the agent may run in its container (a policy stored without it: file and http). */
  tools: z.array(z.enum(AGENT_TOOLS)).default(() => [...DEFAULT_TIER_TOOLS]),
  /**
   * Hosts the agent may reach through its node's egress proxy (patterns: `host`, `*.domain`, `*`, with
   * an optional `:port`). A policy stored without it allows none.
   */
  egressHosts: z.array(EgressHostPatternSchema).max(200).default([]),
  /** Models the agent may call (gateway model names). */
  models: z.array(z.string()),
  /** Container limits. */
  cpus: z.number().positive(),
  memoryMb: z.number().int().positive(),
  /** Share of a GPU (0-1) and scheduling priority (higher first). */
  gpuShare: z.number().min(0).max(1),
  gpuPriority: z.number().int().nonnegative(),
  /** What GPU time and memory cost the agent (its node's nvidia-smi measures them); a policy stored without it: the default. */
  gpuPrice: GpuPriceSchema.default(() => ({ ...DEFAULT_GPU_PRICE })),
});
export type Entitlements = z.infer<typeof EntitlementsSchema>;

export const TierSchema = z.object({
  level: z.number().int().nonnegative(),
  name: z.string().min(1).max(40),
  /** The balance (mills) that earns this tier. Tier 0 needs nothing. */
  minBalance: z.number().int().nonnegative(),
  entitlements: EntitlementsSchema,
});
export type Tier = z.infer<typeof TierSchema>;

export const TierPolicyRequestSchema = z
  .object({
    tiers: z.array(TierSchema).min(1).max(20),
    /** How far (mills) below its tier's threshold a balance may fall before the tier is lost. */
    hysteresis: z.number().int().nonnegative(),
  })
  .strict()
  .superRefine((policy, context) => {
    policy.tiers.forEach((tier, index) => {
      if (tier.level !== index) context.addIssue({ code: 'custom', message: `tiers[${index}].level must be ${index}` });
      if (index === 0 && tier.minBalance !== 0) {
        context.addIssue({ code: 'custom', message: 'tier 0 must need no balance (minBalance 0): the free commons' });
      }
      if (index > 0 && tier.minBalance <= policy.tiers[index - 1]!.minBalance) {
        context.addIssue({ code: 'custom', message: `tiers[${index}].minBalance must be above the tier below's` });
      }
    });
  });
/** What a client sends: entitlements added later (tools, egressHosts, gpuPrice) may be left out and get their defaults. */
export type TierPolicyRequest = z.input<typeof TierPolicyRequestSchema>;
export const TierPolicySchema = z.object({
  version: z.number().int().positive(),
  tiers: z.array(TierSchema),
  hysteresis: z.number().int().nonnegative(),
  createdBy: z.string(),
  createdAt: z.string(),
});
export type TierPolicy = z.infer<typeof TierPolicySchema>;

/** An agent's money and what it buys (`GET /api/economy/balance/:agentId`, and in `GET /api/agents/:id`). */
export const AgentEconomySchema = z.object({
  agentId: z.string(),
  balance: z.number().int(),
  held: z.number().int(),
  available: z.number().int(),
  tier: z.object({
    level: z.number().int().nonnegative(),
    name: z.string(),
    /** What the balance earns, whatever is pinned. */
    earned: z.number().int().nonnegative(),
    pinned: z.number().int().nonnegative().nullable(),
    quarantined: z.boolean(),
    policyVersion: z.number().int().nullable(),
    changedAt: z.string(),
  }),
  entitlements: EntitlementsSchema,
  /** Set while the loop breaker holds the agent's LLM calls (until a moderator resumes it). */
  computePaused: z.object({ at: z.string(), reason: z.string() }).nullable(),
});
export type AgentEconomy = z.infer<typeof AgentEconomySchema>;
/** `GET /api/agents/:id`: the agent with its economy. */
export const AgentDetailsSchema = AgentSchema.extend({ economy: AgentEconomySchema });
export type AgentDetails = z.infer<typeof AgentDetailsSchema>;

const memo = z.string().trim().min(1, 'reason must not be empty').max(500, 'reason must be at most 500 characters');

/** `POST /api/economy/reward` and `/penalize` (the seed spec's snake_case). */
export const JudgementRequestSchema = z
  .object({
    agent_id: z.string().min(1).max(64),
    amount: AmountSchema,
    reason: memo,
    post_id: z.number().int().positive().optional(),
  })
  .strict();
export type JudgementRequest = z.infer<typeof JudgementRequestSchema>;

/** `POST /api/transfers` (admins): move money between any two accounts. */
/** An account as the API names it: `agent:<agent id>` or a system account. */
export const AccountNameSchema = z
  .string()
  .max(100)
  .refine(
    (name) => /^agent:[^#\s]+$/.test(name) || (SYSTEM_ACCOUNTS as readonly string[]).includes(name),
    `must be "agent:<agent id>" or a system account (${SYSTEM_ACCOUNTS.join(', ')})`,
  );

export const CreateTransferRequestSchema = z
  .object({
    debitAccount: AccountNameSchema,
    creditAccount: AccountNameSchema,
    amount: AmountSchema,
    reason: z.enum(TRANSFER_REASONS).exclude(['reversal']),
    memo: memo.optional(),
    postId: z.number().int().positive().optional(),
    metadata: z.record(z.string(), z.unknown()).optional(),
  })
  .strict()
  .refine((transfer) => transfer.debitAccount !== transfer.creditAccount, {
    message: 'debitAccount and creditAccount must be different accounts',
    path: ['creditAccount'],
  });
export type CreateTransferRequest = z.infer<typeof CreateTransferRequestSchema>;

export const ReverseTransferRequestSchema = z.object({ reason: memo }).strict();

/** `PUT /api/agents/:id/tier` (admins): pin a tier (or `null` to follow the balance), quarantine. */
export const AgentTierSettingsRequestSchema = z
  .object({
    pinnedTier: z.number().int().nonnegative().nullable().optional(),
    quarantined: z.boolean().optional(),
    reason: memo,
  })
  .strict();
export type AgentTierSettingsRequest = z.infer<typeof AgentTierSettingsRequestSchema>;

export const AllowanceSchema = z.object({
  reward: z.object({ limit: z.number().int().nullable(), used: z.number().int() }),
  penalty: z.object({ limit: z.number().int().nullable(), used: z.number().int() }),
  /** When today's allowance renews (midnight UTC). */
  renewsAt: z.string(),
});
export type Allowance = z.infer<typeof AllowanceSchema>;

/** What `npm run ledger:verify` and `GET /api/economy/verify` report. */
export const LedgerVerificationSchema = z.object({
  ok: z.boolean(),
  transfers: z.number().int(),
  entries: z.number().int(),
  accounts: z.number().int(),
  /** The sum of every entry: 0 in a sound ledger. */
  sumOfEntries: z.number().int(),
  /** The first problem found (lowest transfer id), or null. */
  firstDiscrepancy: z
    .object({ transferId: z.number().int().nullable(), account: z.string().nullable(), problem: z.string() })
    .nullable(),
  durationMs: z.number(),
});
export type LedgerVerification = z.infer<typeof LedgerVerificationSchema>;

/** One run of the ledger check, as kept for the console (`GET /api/economy/verifications`). */
export const LedgerVerificationRecordSchema = LedgerVerificationSchema.extend({
  id: z.number().int().positive(),
  /** Who asked for it: `human:<user id>`, or `system:system` for the admin token. */
  verifiedBy: z.string(),
  verifiedAt: z.string(),
});
export type LedgerVerificationRecord = z.infer<typeof LedgerVerificationRecordSchema>;

/** `GET /api/economy/summary` (moderators): the money of the village at a glance. */
export const EconomySummarySchema = z.object({
  agents: z.number().int().nonnegative(),
  /** Mills in agents' accounts (held included), and the part held by open holds. */
  inCirculation: z.number().int(),
  held: z.number().int(),
  lastVerification: LedgerVerificationRecordSchema.nullable(),
});
export type EconomySummary = z.infer<typeof EconomySummarySchema>;

/** Reasons that count as spending compute (the LLM gateway's charges and GPU shares). */
export const SPEND_REASONS = ['compute_purchase', 'gpu_usage'] as const satisfies readonly TransferReason[];

/** `GET /api/economy/spend` (moderators): mills spent on compute per hour, oldest first, empty hours included. */
export const HourlySpendSchema = z.object({
  hour: z.string(),
  /** Mills by reason (`compute_purchase`, `gpu_usage`) and in total. */
  byReason: z.record(z.string(), z.number().int()),
  total: z.number().int(),
});
export type HourlySpend = z.infer<typeof HourlySpendSchema>;
export const SPEND_HOURS_MAX = 168;

/** One agent whose tier a proposed policy would change (`POST /api/economy/tiers/preview`). */
export const TierPreviewRowSchema = z.object({
  agentId: z.string(),
  balance: z.number().int(),
  from: z.number().int().nonnegative(),
  to: z.number().int().nonnegative(),
  pinned: z.number().int().nonnegative().nullable(),
  quarantined: z.boolean(),
});
export const TierPreviewSchema = z.object({
  agents: z.number().int().nonnegative(),
  changes: z.array(TierPreviewRowSchema),
});
export type TierPreview = z.infer<typeof TierPreviewSchema>;
