// The agent card's money lines: the agent's balance and compute tier, loaded (`GET
// /api/economy/balance/:id`) when the card opens on an agent, then kept live from the world stream's
// `economy.balance_changed` (the new balance, no reload) and `agent.tier_changed` (a reload, for the
// tier's name). Every transfer sends a balance event, so whatever order answers and events arrive in,
// the newest transfer's balance is the one that stays.
import type { AgentEconomy } from '@ai-village/control-plane/contract';
import { aiDollars, type EconomyEvent } from './economy.js';

export type EconomyLoader = (agentId: string) => Promise<AgentEconomy>;

interface Shown {
  agentId: string;
  economy: AgentEconomy | null;
  /** The newest transfer whose balance is shown (balance events about older ones are stale). */
  transferId: number;
  /** The newest balance event since the loading answer was asked for (that answer may be older). */
  sinceLoad: Extract<EconomyEvent, { type: 'economy.balance_changed' }> | null;
  failed: boolean;
}

export class AgentEconomyView {
  readonly balance = document.createElement('dd');
  readonly tier = document.createElement('dd');
  private shown: Shown | null = null;
  private generation = 0;

  constructor(private readonly load: EconomyLoader) {
    this.balance.dataset.testid = 'agent-balance';
    this.tier.dataset.testid = 'agent-tier';
    // Changes are read out, as the card's other lines are not: money moves while one looks.
    this.balance.setAttribute('aria-live', 'polite');
    this.tier.setAttribute('aria-live', 'polite');
  }

  /** The card opened on this agent (a no-op when it already shows it). */
  show(agentId: string): void {
    if (this.shown?.agentId === agentId) return;
    this.shown = { agentId, economy: null, transferId: 0, sinceLoad: null, failed: false };
    this.render();
    void this.reload();
  }

  hide(): void {
    this.generation++;
    this.shown = null;
  }

  /** Asks again (after a reconnect, when events may have been missed, or for a new tier's name). */
  async reload(): Promise<void> {
    const shown = this.shown;
    if (!shown) return;
    const generation = ++this.generation;
    shown.sinceLoad = null;
    try {
      const economy = await this.load(shown.agentId);
      if (generation !== this.generation) return;
      shown.failed = false;
      // A balance event that came while the answer was on its way may be newer than the answer; if the
      // answer is the newer one, the event of its transfer is still to come and will set it right.
      const event = shown.sinceLoad as Shown['sinceLoad']; // set by onEvent meanwhile
      shown.economy = event ? { ...economy, balance: event.balance, available: event.available } : economy;
      shown.economy.held = shown.economy.balance - shown.economy.available;
    } catch (error) {
      if (generation !== this.generation) return;
      console.warn(`could not load the economy of ${shown.agentId}`, error);
      shown.failed = true;
    }
    this.render();
  }

  onEvent(event: EconomyEvent): void {
    const shown = this.shown;
    if (!shown || event.agentId !== shown.agentId) return;
    if (event.type === 'agent.tier_changed') {
      void this.reload();
      return;
    }
    if (event.transferId <= shown.transferId) return;
    shown.transferId = event.transferId;
    if (!shown.sinceLoad || event.transferId > shown.sinceLoad.transferId) shown.sinceLoad = event;
    if (shown.failed) void this.reload();
    else if (shown.economy) {
      shown.economy = {
        ...shown.economy,
        balance: event.balance,
        available: event.available,
        held: event.balance - event.available,
      };
    }
    this.render();
  }

  private render(): void {
    const shown = this.shown;
    const economy = shown?.economy;
    if (!shown || !economy) {
      const text = shown?.failed ? 'unavailable' : 'loading…';
      this.balance.textContent = this.tier.textContent = text;
      delete this.balance.dataset.mills;
      delete this.tier.dataset.level;
      return;
    }
    this.balance.dataset.mills = String(economy.balance);
    this.balance.textContent =
      economy.held > 0 ? `${aiDollars(economy.balance)} (${aiDollars(economy.held)} held)` : aiDollars(economy.balance);
    const { tier } = economy;
    this.tier.dataset.level = String(tier.level);
    const notes = [...(tier.pinned !== null ? ['pinned'] : []), ...(tier.quarantined ? ['quarantined'] : [])];
    this.tier.textContent = `${capitalise(tier.name)} · tier ${tier.level}${notes.length ? ` (${notes.join(', ')})` : ''}`;
    this.tier.title =
      `Requests a minute: ${economy.entitlements.requestsPerMinute}; ` +
      `models: ${economy.entitlements.models.join(', ') || 'none'}`;
  }
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
