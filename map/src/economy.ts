// The aiDollar economy as the page shows it: which events are the economy's, amounts for people
// (the contract's `formatAiDollars`), and reading an amount a person typed into whole mills.
import {
  COMPUTE_EVENT_TYPES,
  PAYMENT_EVENT_TYPES,
  formatAiDollars,
  MAX_TRANSFER_AMOUNT,
  MILLS_PER_AIDOLLAR,
  type WorldEvent,
  type WorldEventOf,
} from '@ai-village/control-plane/contract';

export const ECONOMY_EVENT_TYPES = ['economy.balance_changed', 'agent.tier_changed'] as const;
export type EconomyEvent = WorldEventOf<(typeof ECONOMY_EVENT_TYPES)[number]>;

const ECONOMY_TYPES: ReadonlySet<string> = new Set(ECONOMY_EVENT_TYPES);

/** Economy events change no agent on the map: main.ts hands them to the card and the feed, past VillageState. */
export function isEconomyEvent(event: WorldEvent): event is EconomyEvent {
  return ECONOMY_TYPES.has(event.type);
}

/** `2500` → `"2.5 aiDollars"`, `1000` → `"1 aiDollar"`. */
export function aiDollars(mills: number): string {
  return `${formatAiDollars(mills)} ${Math.abs(mills) === MILLS_PER_AIDOLLAR ? 'aiDollar' : 'aiDollars'}`;
}

/** Digits, then at most three decimals after a point: "2", "2.5", "0.125". */
const AMOUNT = /^(\d+)(?:\.(\d{1,3}))?$/;

/**
 * What a person typed as aiDollars, in whole mills; or, for anything else, why not (in words for the
 * form). String arithmetic, so "0.1" is exactly 100 mills.
 */
export function parseAiDollars(text: string): { mills: number } | { error: string } {
  const trimmed = text.trim();
  if (!trimmed) return { error: 'Enter an amount in aiDollars, e.g. 2.5.' };
  const match = AMOUNT.exec(trimmed);
  if (!match) {
    return /^\d*\.\d{4,}$/.test(trimmed)
      ? { error: 'At most three decimals: 1 aiDollar is 1,000 mills.' }
      : { error: 'Enter the amount as a number of aiDollars, e.g. 2 or 2.5 (a point for decimals).' };
  }
  const whole = match[1]!.replace(/^0+(?=\d)/, '');
  if (whole.length > String(MAX_TRANSFER_AMOUNT / MILLS_PER_AIDOLLAR).length) return tooMuch();
  const mills = Number(whole) * MILLS_PER_AIDOLLAR + Number((match[2] ?? '').padEnd(3, '0'));
  if (mills <= 0) return { error: 'The amount must be more than 0.' };
  if (mills > MAX_TRANSFER_AMOUNT) return tooMuch();
  return { mills };
}

function tooMuch(): { error: string } {
  return { error: `The amount can be at most ${aiDollars(MAX_TRANSFER_AMOUNT)}.` };
}

const COMPUTE_TYPES: ReadonlySet<string> = new Set(COMPUTE_EVENT_TYPES);

/** The gateway's events (upstream health, paused compute): nothing the map draws. */
export function isComputeEvent(event: WorldEvent): event is WorldEventOf<(typeof COMPUTE_EVENT_TYPES)[number]> {
  return COMPUTE_TYPES.has(event.type);
}

const PAYMENT_TYPES: ReadonlySet<string> = new Set(PAYMENT_EVENT_TYPES);

/** Payment events (deposits, webhook deliveries): operators' business, nothing the map draws. */
export function isPaymentEvent(event: WorldEvent): event is WorldEventOf<(typeof PAYMENT_EVENT_TYPES)[number]> {
  return PAYMENT_TYPES.has(event.type);
}
