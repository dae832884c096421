// The scripted brain's sense of where it stands in the aiDollar economy, read from `self.economy`
// (`GET /api/agents/:id`) every loop. A balance that drops is a penalty: it grows careful on the
// board for a while (no questions of its own) and says so. One that rises is a reward: it says thank
// you. Its compute tier sets how often it posts: the free commons saves its requests, higher tiers
// speak up a little more. Deterministic like the rest of the brain: no clock, no I/O.
import { formatAiDollars } from '@ai-village/control-plane/contract';
import type { AgentEconomy } from '@ai-village/control-plane/contract';

/** Own posts wait this many usual intervals, by tier level; the last entry holds for higher tiers. */
export const POST_PACE_BY_TIER: readonly number[] = [1.5, 1, 0.75];
/** After a penalty it pins nothing of its own for this many usual post intervals (300 loops by default). */
export const CAREFUL_POST_INTERVALS = 2;
/** At most one remark of a kind per this many loops, so a burst of rewards gets one thank-you. */
export const REMARK_EVERY_LOOPS_AT_MOST = 20;

export type BalanceVerdict = 'penalty' | 'reward';

/**
 * The one rule for what a change of balance means. The brain spends nothing yet, so every drop is
 * a penalty and every rise a reward (a deposit or a grant counts as one). Once it spends (compute,
 * tools), pass what it spent since `previous` as `spent`: only a drop beyond that is a penalty.
 */
export function judgeBalanceChange(previous: number, now: number, spent = 0): BalanceVerdict | null {
  const expected = previous - spent;
  if (now < expected) return 'penalty';
  if (now > expected) return 'reward';
  return null;
}

/** A penalty or a reward, noticed this loop. */
export interface StandingNews {
  verdict: BalanceVerdict;
  /** How far the balance moved, in mills (positive). */
  amount: number;
  /** The tier's name, when the tier changed along with the balance. */
  newTier?: string;
  /** Whether to say something about it (not when the same kind was remarked on just before). */
  remark: boolean;
}

export class Standing {
  private last: AgentEconomy | null = null;
  /** The decision from which it posts again after a penalty. */
  private carefulUntil = 0;
  private readonly remarkedAt: Record<BalanceVerdict, number> = { penalty: -Infinity, reward: -Infinity };

  /** `carefulLoops`: how long a penalty keeps its own posts back. */
  constructor(private readonly carefulLoops: number) {}

  /** Compares this loop's economy with the last one seen; the first one is only remembered. */
  notice(economy: AgentEconomy, decision: number): StandingNews | null {
    const previous = this.last;
    this.last = economy;
    if (!previous) return null;
    const verdict = judgeBalanceChange(previous.balance, economy.balance);
    if (!verdict) return null;
    if (verdict === 'penalty') this.carefulUntil = Math.max(this.carefulUntil, decision + this.carefulLoops);
    const remark = decision - this.remarkedAt[verdict] >= REMARK_EVERY_LOOPS_AT_MOST;
    if (remark) this.remarkedAt[verdict] = decision;
    return {
      verdict,
      amount: Math.abs(economy.balance - previous.balance),
      ...(economy.tier.level !== previous.tier.level ? { newTier: economy.tier.name } : {}),
      remark,
    };
  }

  /** Posts nothing of its own: after a penalty, for a while, and all the time it is quarantined. */
  careful(decision: number): boolean {
    return decision < this.carefulUntil || this.last?.tier.quarantined === true;
  }

  /** The multiplier on its wait between posts, from its tier (the commons' before any economy is seen). */
  postPace(): number {
    const level = Math.min(this.last?.tier.level ?? 0, POST_PACE_BY_TIER.length - 1);
    return POST_PACE_BY_TIER[level]!;
  }
}

/** `1500` mills → `"1.5 aiDollars"`, `1000` → `"1 aiDollar"`. */
export function aiDollarsText(mills: number): string {
  const amount = formatAiDollars(mills);
  return `${amount} aiDollar${amount === '1' ? '' : 's'}`;
}
