// The aiDollar economy as the page shows it: which events are the economy's, amounts for people
// (the contract's `formatAiDollars`), and reading an amount a person typed into whole mills.
import {
  OPERATOR_EVENT_TYPES,
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

const OPERATOR_TYPES: ReadonlySet<string> = new Set(OPERATOR_EVENT_TYPES);

/** Operators' events (the gateway, tools, payments, the fleet, flows): nothing the map draws. */
export function isOperatorEvent(event: WorldEvent): event is WorldEventOf<(typeof OPERATOR_EVENT_TYPES)[number]> {
  return OPERATOR_TYPES.has(event.type);
}
