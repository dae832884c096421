// The scripted brain's sense of where it stands in the aiDollar economy, read from `self.economy`
// (`GET /api/agents/:id`) and the perception's penalty tally every loop. A penalty (its ledger says
// so; its own spending is none) makes it careful on the board for a while (no questions of its own)
// and it says so. A balance that rises is a reward: it says thank you. Its compute tier sets how
// often it posts: the free commons saves its requests, higher tiers speak up a little more.
// Deterministic like the rest of the brain: no clock, no I/O.
import { formatAiDollars } from '@ai-village/control-plane/contract';
import type { AgentEconomy } from '@ai-village/control-plane/contract';

/** Own posts wait this many usual intervals, by tier level; the last entry holds for higher tiers. */
export const POST_PACE_BY_TIER: readonly number[] = [1.5, 1, 0.75];
/** After a penalty it pins nothing of its own for this many usual post intervals (300 loops by default). */
export const CAREFUL_POST_INTERVALS = 2;
/** At most one remark of a kind per this many loops, so a burst of rewards gets one thank-you. */
export const REMARK_EVERY_LOOPS_AT_MOST = 20;

export type BalanceVerdict = 'penalty' | 'reward';

/** What the brain saw of its money in one perception. */
export interface MoneySeen {
  balance: number;
  /** The perception's `penalized` tally (mills taken by penalties so far), when the loop counted it. */
  penalized?: number | undefined;
}

/**
 * The one rule for what a change between two perceptions means. Penalties are what the tally (read
 * from the ledger's reasons) grew by; any other drop is the agent's own spending (LLM calls, GPU
 * bills, tools), which is no penalty. A rise is a reward (a deposit or a grant counts as one).
 */
export function judgeBalanceChange(
  previous: MoneySeen,
  now: MoneySeen,
): { verdict: BalanceVerdict; amount: number } | null {
  const penalized =
    now.penalized === undefined || previous.penalized === undefined ? 0 : now.penalized - previous.penalized;
  if (penalized > 0) return { verdict: 'penalty', amount: penalized };
  if (now.balance > previous.balance) return { verdict: 'reward', amount: now.balance - previous.balance };
  return null;
}

/** A penalty or a reward, noticed this loop. */
export interface StandingNews {
  verdict: BalanceVerdict;
  /** What the penalties took, or what the balance rose by, in mills (positive). */
  amount: number;
  /** The tier's name, when the tier changed along with the balance. */
  newTier?: string;
  /** Whether to say something about it (not when the same kind was remarked on just before). */
  remark: boolean;
}

export class Standing {
  private last: AgentEconomy | null = null;
  private lastPenalized: number | undefined;
  /** The decision from which it posts again after a penalty. */
  private carefulUntil = 0;
  private readonly remarkedAt: Record<BalanceVerdict, number> = { penalty: -Infinity, reward: -Infinity };

  /** `carefulLoops`: how long a penalty keeps its own posts back. */
  constructor(private readonly carefulLoops: number) {}

  /**
   * Compares this loop's economy and penalty tally (`Perception.penalized`) with the last ones seen;
   * the first are only remembered.
   */
  notice(economy: AgentEconomy, decision: number, penalized?: number): StandingNews | null {
    const previous = this.last;
    const previousPenalized = this.lastPenalized;
    this.last = economy;
    this.lastPenalized = penalized;
    if (!previous) return null;
    const change = judgeBalanceChange(
      { balance: previous.balance, penalized: previousPenalized },
      { balance: economy.balance, penalized },
    );
    if (!change) return null;
    const { verdict, amount } = change;
    if (verdict === 'penalty') this.carefulUntil = Math.max(this.carefulUntil, decision + this.carefulLoops);
    const remark = decision - this.remarkedAt[verdict] >= REMARK_EVERY_LOOPS_AT_MOST;
    if (remark) this.remarkedAt[verdict] = decision;
    return {
      verdict,
      amount,
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
