// The aiDollar economy as the page shows it: which events are the economy's, amounts for people
// (the contract's `formatAiDollars`), and reading an amount a person typed into whole mills.
import {
  COMPUTE_EVENT_TYPES,
  PAYMENT_EVENT_TYPES,
  formatAiDollars,
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

// The one rule for typed aiDollars lives in the contract, shared with the console.
export { parseAiDollars } from '@ai-village/control-plane/contract';

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
