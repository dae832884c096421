import { z } from 'zod';

/**
 * Real-money deposits: what an admin enters by hand or PayPal reports by webhook, the refunds and
 * reversals that take it back, the webhook events as received, and the reconciliation of deposits
 * against the ledger. Money is kept as PayPal writes it (a decimal string such as "12.50") and as
 * whole minor units (cents; yen for JPY); aiDollars are mills, as everywhere.
 */

export const PAYMENT_SOURCES = ['manual', 'paypal'] as const;
/** Where a deposit's money went: to an agent, to `suspense` (no known agent), or nowhere (refused). */
export const DEPOSIT_STATUSES = ['credited', 'suspense', 'refused'] as const;
export const WEBHOOK_EVENT_STATUSES = ['received', 'verified', 'rejected', 'processed', 'ignored', 'failed'] as const;
export type WebhookEventStatus = (typeof WEBHOOK_EVENT_STATUSES)[number];
/** waiting: its capture is not known yet (it arrived first); applied: taken back; refused: nothing to take. */
export const REFUND_STATUSES = ['waiting', 'applied', 'refused'] as const;
export const REFUND_KINDS = ['refund', 'reversal'] as const;

/** PayPal's currencies without decimals; every other currency has two. */
const ZERO_DECIMAL_CURRENCIES = new Set(['HUF', 'JPY', 'TWD']);

export function currencyDecimals(currency: string): number {
  return ZERO_DECIMAL_CURRENCIES.has(currency) ? 0 : 2;
}

/**
 * `"12.50"` in USD → 1250 (minor units), exactly; null when the text is not an amount of that
 * currency (too many decimals, a sign, an exponent, more than 12 whole digits).
 */
export function parseMoney(value: string, currency: string): number | null {
  const decimals = currencyDecimals(currency);
  const match = /^(\d{1,12})(?:\.(\d+))?$/.exec(value);
  if (!match) return null;
  const fraction = match[2] ?? '';
  if (fraction.length > decimals) return null;
  return Number(match[1]) * 10 ** decimals + Number(fraction.padEnd(decimals, '0') || '0');
}

/** 1250 minor units of USD → `"12.50"`. */
export function formatMoney(minor: number, currency: string): string {
  const decimals = currencyDecimals(currency);
  const sign = minor < 0 ? '-' : '';
  const abs = Math.abs(minor);
  if (decimals === 0) return `${sign}${abs}`;
  const unit = 10 ** decimals;
  return `${sign}${Math.floor(abs / unit)}.${String(abs % unit).padStart(decimals, '0')}`;
}

export const TransactionIdSchema = z
  .string()
  .trim()
  .regex(/^[A-Za-z0-9-]{6,64}$/, 'transactionId must be 6-64 letters, digits or "-" (PayPal shows it on the payment)')
  // PayPal writes its ids in capitals; a hand-typed one must meet the webhook's.
  .transform((id) => id.toUpperCase());

const memo = z.string().trim().min(1, 'must not be empty').max(500, 'must be at most 500 characters');

/** `POST /api/payments/deposits` (admins): money that reached the village's PayPal account. */
export const ManualDepositRequestSchema = z
  .object({
    transactionId: TransactionIdSchema,
    /** As PayPal shows it: "12.50" (no decimals for JPY, HUF and TWD). */
    amount: z.string().regex(/^\d{1,12}(\.\d{1,2})?$/, 'amount must be a decimal string such as "12.50"'),
    currency: z.string().regex(/^[A-Z]{3}$/, 'currency must be an ISO 4217 code in capitals, e.g. USD'),
    agentId: z.string().min(1).max(64),
    memo: memo.optional(),
  })
  .strict();
export type ManualDepositRequest = z.infer<typeof ManualDepositRequestSchema>;

/** `POST /api/payments/deposits/:id/assign` (admins): money parked in suspense goes to an agent. */
export const AssignDepositRequestSchema = z.object({ agentId: z.string().min(1).max(64), reason: memo }).strict();
export type AssignDepositRequest = z.infer<typeof AssignDepositRequestSchema>;

export const DepositSchema = z.object({
  id: z.number().int().positive(),
  source: z.enum(PAYMENT_SOURCES),
  /** PayPal's transaction id: the capture id of a webhook, or what the admin entered. */
  transactionId: z.string(),
  amount: z.string(),
  amountMinor: z.number().int().positive(),
  currency: z.string(),
  /** The exchange rate used: mills per minor unit (10 = 1 aiDollar per US dollar). */
  rate: z.number().int().nonnegative(),
  /** The aiDollars (mills) the deposit brought in; 0 when refused. */
  mills: z.number().int().nonnegative(),
  /** The agent the payer named (PayPal's `custom_id`, or the admin's choice). */
  requestedAgentId: z.string().nullable(),
  /** The agent that has the money; null while in suspense or when refused. */
  agentId: z.string().nullable(),
  status: z.enum(DEPOSIT_STATUSES),
  refusedReason: z.string().nullable(),
  /** The ledger transfer that brought the money in (to the agent or to suspense). */
  transferId: z.number().int().nullable(),
  /** The transfer from suspense to the agent an admin assigned it to. */
  assignTransferId: z.number().int().nullable(),
  assignedBy: z.string().nullable(),
  assignedAt: z.string().nullable(),
  /** Refunded and reversed so far, in minor units of the deposit's currency. */
  refundedMinor: z.number().int().nonnegative(),
  /** aiDollars (mills) taken back by refunds, and what could not be taken (the agent had spent it). */
  refundedMills: z.number().int().nonnegative(),
  shortfallMills: z.number().int().nonnegative(),
  webhookEventId: z.number().int().nullable(),
  /** The admin who entered a manual deposit. */
  enteredBy: z.string().nullable(),
  memo: z.string().nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type Deposit = z.infer<typeof DepositSchema>;

export const DepositRefundSchema = z.object({
  id: z.number().int().positive(),
  /** PayPal's refund id (or the reversal's). */
  refundId: z.string(),
  kind: z.enum(REFUND_KINDS),
  /** The capture it takes back. */
  transactionId: z.string(),
  depositId: z.number().int().nullable(),
  amount: z.string(),
  amountMinor: z.number().int().positive(),
  currency: z.string(),
  /** aiDollars (mills) to take back at the deposit's rate, what was taken, and what could not be. */
  mills: z.number().int().nonnegative(),
  taken: z.number().int().nonnegative(),
  shortfall: z.number().int().nonnegative(),
  /** The account debited: `agent:<id>` or `suspense`. */
  account: z.string().nullable(),
  transferId: z.number().int().nullable(),
  status: z.enum(REFUND_STATUSES),
  note: z.string().nullable(),
  webhookEventId: z.number().int().nullable(),
  createdAt: z.string(),
  appliedAt: z.string().nullable(),
});
export type DepositRefund = z.infer<typeof DepositRefundSchema>;

/** One delivery of a PayPal webhook, as stored before anything else was done with it. */
export const WebhookEventSchema = z.object({
  id: z.number().int().positive(),
  provider: z.literal('paypal'),
  /** PayPal's event id (`WH-...`); null when the body had none. */
  eventId: z.string().nullable(),
  eventType: z.string().nullable(),
  status: z.enum(WEBHOOK_EVENT_STATUSES),
  /** How the signature was verified: offline with PayPal's certificate, or by PayPal's API. */
  verifiedBy: z.enum(['certificate', 'api']).nullable(),
  /** Why it was rejected, ignored or failed (or the last error of a retry). */
  error: z.string().nullable(),
  /** What processing did. */
  note: z.string().nullable(),
  transmissionId: z.string().nullable(),
  certUrl: z.string().nullable(),
  bodySha256: z.string(),
  /** Identical deliveries (PayPal retries, replays) counted on the first. */
  deliveries: z.number().int().positive(),
  attempts: z.number().int().nonnegative(),
  depositId: z.number().int().nullable(),
  refundId: z.number().int().nullable(),
  receivedAt: z.string(),
  lastDeliveryAt: z.string(),
  verifiedAt: z.string().nullable(),
  processedAt: z.string().nullable(),
});
export type WebhookEvent = z.infer<typeof WebhookEventSchema>;
/** `GET /api/payments/webhook-events/:id`: with the headers and the raw body as received. */
export const WebhookEventDetailsSchema = WebhookEventSchema.extend({
  headers: z.record(z.string(), z.string()),
  /** The raw body, as UTF-8 text (the bytes verified are kept as they came). */
  body: z.string(),
});
export type WebhookEventDetails = z.infer<typeof WebhookEventDetailsSchema>;

/** What the webhook answers PayPal (2xx): the stored delivery, or that it is one already stored. */
export const WebhookReceiptSchema = z.object({
  id: z.number().int().positive(),
  status: z.enum(WEBHOOK_EVENT_STATUSES),
  duplicate: z.boolean(),
});
export type WebhookReceipt = z.infer<typeof WebhookReceiptSchema>;

/** One deposit against the ledger's transfers for it. */
export const ReconciliationRowSchema = z.object({
  depositId: z.number().int(),
  source: z.enum(PAYMENT_SOURCES),
  transactionId: z.string(),
  createdAt: z.string(),
  currency: z.string(),
  amount: z.string(),
  refunded: z.string(),
  status: z.enum(DEPOSIT_STATUSES),
  agentId: z.string().nullable(),
  /** What the deposit says came in, and what the ledger's credit transfer moved. */
  expectedMills: z.number().int(),
  ledgerCreditMills: z.number().int(),
  creditTransferId: z.number().int().nullable(),
  /** Where the ledger put it (`agent:<id>` or `suspense`). */
  creditAccount: z.string().nullable(),
  assignedMills: z.number().int(),
  /** Refunds: what the deposit records as taken back, and what the ledger's refund transfers moved. */
  refundedMills: z.number().int(),
  ledgerRefundMills: z.number().int(),
  shortfallMills: z.number().int(),
  /** In circulation because of this deposit: credited minus taken back. */
  netMills: z.number().int(),
  matches: z.boolean(),
  problems: z.array(z.string()),
});
export type ReconciliationRow = z.infer<typeof ReconciliationRowSchema>;

export const ReconciliationSchema = z.object({
  generatedAt: z.string(),
  from: z.string().nullable(),
  to: z.string().nullable(),
  rows: z.array(ReconciliationRowSchema),
  totals: z.object({
    deposits: z.number().int(),
    byCurrency: z.array(z.object({ currency: z.string(), amount: z.string(), refunded: z.string() })),
    creditedMills: z.number().int(),
    refundedMills: z.number().int(),
    shortfallMills: z.number().int(),
    /** Deposit money waiting in suspense for an admin to assign it. */
    inSuspenseMills: z.number().int(),
    /** Refunds that wait for their capture. */
    waitingRefunds: z.number().int(),
  }),
  /** Only for the whole history (no from/to): the ledger's own accounts against the deposits. */
  ledger: z
    .object({
      /** Minus the aiDollars deposits brought into circulation, net of refunds. */
      depositsClearingBalance: z.number().int(),
      expectedDepositsClearingBalance: z.number().int(),
      suspenseBalance: z.number().int(),
      /** `deposit_credit` transfers that belong to no deposit (moved by hand). */
      transfersWithoutDeposit: z.array(z.number().int()),
    })
    .nullable(),
  ok: z.boolean(),
});
export type Reconciliation = z.infer<typeof ReconciliationSchema>;
