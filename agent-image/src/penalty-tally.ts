// What the agent has lost to penalties, counted from its own ledger. The balance alone cannot tell a
// penalty from the agent's own spending (LLM calls, GPU bills, tools), so in a loop where the balance
// changed the loop reads the newest entries of the agent's ledger (one small page, nothing otherwise)
// and adds up those that were penalties. A rise is read too: a reward larger than a penalty in the
// same loop hides the penalty from the balance. Brains compare this running total between two
// perceptions, so one that skipped loops (the LLM brain's scripted fallback) still sees every penalty once.
import type { AgentEconomy, LedgerEntry, ListPage } from '@ai-village/control-plane/contract';

/** Entries read when the balance changed: more than one loop's worth of LLM calls and bills. */
export const LEDGER_PAGE_ENTRIES = 25;

/**
 * The one rule for what counts as a penalty: money taken by a penalty, or by a reversal of money the
 * agent was given (a reward, mostly). Spending and holds never do. Mills taken, 0 for anything else.
 */
export function penaltyTaken(entry: LedgerEntry): number {
  if (entry.amount >= 0) return 0;
  const { reason } = entry.transfer;
  return reason === 'penalty' || reason === 'reversal' ? -entry.amount : 0;
}

/** One page of the agent's ledger, newest first (`GET /api/economy/ledger/:agentId`). */
export type ReadLedger = (range: [start: number, end: number]) => Promise<ListPage<LedgerEntry>>;

export class PenaltyTally {
  private total = 0;
  private balance: number | undefined;
  /** The newest entry already counted; unknown until the first read. */
  private seenSeq: number | undefined;
  /** The balance to count from, while a read is due (the balance changed and the read has not succeeded). */
  private dueFrom: number | undefined;

  /** Mills taken by penalties since this runtime started. */
  get penalized(): number {
    return this.total;
  }

  /**
   * Called every loop with the economy just fetched: reads the ledger only when the balance changed
   * (or an earlier read failed). A failed read throws and stays due; `forgo` gives it up.
   */
  async update(economy: AgentEconomy, read: ReadLedger): Promise<number> {
    if (this.balance !== undefined && economy.balance !== this.balance) this.dueFrom ??= this.balance;
    this.balance = economy.balance;
    if (this.dueFrom === undefined) return this.total;
    const page = await read([0, LEDGER_PAGE_ENTRIES - 1]);
    this.count(page.items, this.dueFrom);
    this.dueFrom = undefined;
    return this.total;
  }

  /** The server refused the read: what changed since is not counted. */
  forgo(): void {
    this.dueFrom = undefined;
  }

  private count(newestFirst: readonly LedgerEntry[], fromBalance: number): void {
    const seen = this.seenSeq;
    const fresh =
      seen === undefined ? since(newestFirst, fromBalance) : newestFirst.filter((entry) => entry.seq > seen);
    for (const entry of fresh) this.total += penaltyTaken(entry);
    const newest = newestFirst[0]?.seq;
    if (newest !== undefined) this.seenSeq = Math.max(seen ?? 0, newest);
  }
}

/** Without a cursor (the first read): the entries newer than the last one that left `balance` as it was. */
function since(newestFirst: readonly LedgerEntry[], balance: number): readonly LedgerEntry[] {
  const before = newestFirst.findIndex((entry) => entry.balanceAfter === balance);
  return before === -1 ? newestFirst : newestFirst.slice(0, before);
}
