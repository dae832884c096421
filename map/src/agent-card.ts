// The card of the selected agent: who it is, whether it is online, where it is and where it is going,
// and its aiDollar balance and compute tier (live, see agent-economy.ts).
import type { Agent } from '@ai-village/control-plane/contract';
import { AgentEconomyView, type EconomyLoader } from './agent-economy.js';
import { agentAvatar } from './agent-identity.js';
import type { EconomyEvent } from './economy.js';
import type { LandmarkIndex } from './landmarks.js';
import { relativeTime } from './relative-time.js';

export interface AgentCardOptions {
  onClose: () => void;
  onFollowChange: (follow: boolean) => void;
  /** The agent's balance and tier, asked for when the card opens on it. */
  loadEconomy: EconomyLoader;
}

export class AgentCard {
  private agent: Agent | null = null;
  private following = false;
  private readonly fields = {
    avatar: document.createElement('span'),
    name: document.createElement('h2'),
    persona: document.createElement('p'),
    status: document.createElement('dd'),
    position: document.createElement('dd'),
    place: document.createElement('dd'),
    heading: document.createElement('dd'),
  };
  private readonly followButton = document.createElement('button');
  private readonly economy: AgentEconomyView;

  constructor(
    private readonly element: HTMLElement,
    private readonly landmarks: LandmarkIndex,
    private readonly options: AgentCardOptions,
  ) {
    this.economy = new AgentEconomyView(options.loadEconomy);
    element.replaceChildren(this.build());
    element.hidden = true;
    // Keep "last seen 3 min ago" true while the card stays open.
    window.setInterval(() => this.agent && this.render(), 15_000);
  }

  get shownAgentId(): string | null {
    return this.agent?.id ?? null;
  }

  show(agent: Agent, following: boolean): void {
    this.agent = agent;
    this.following = following;
    this.render();
    this.economy.show(agent.id);
    this.element.hidden = false;
  }

  /** A balance or tier changed: the card follows if it shows that agent. */
  onEconomyEvent(event: EconomyEvent): void {
    this.economy.onEvent(event);
  }

  /** After a reconnect: balance events may have been missed, so ask again. */
  reloadEconomy(): void {
    void this.economy.reload();
  }

  /** Re-renders if this agent's card is open. */
  refresh(agent: Agent): void {
    if (this.agent?.id === agent.id) {
      this.agent = agent;
      this.render();
    }
  }

  setFollowing(following: boolean): void {
    this.following = following;
    this.renderFollow();
  }

  hide(): void {
    this.agent = null;
    this.economy.hide();
    this.element.hidden = true;
  }

  private build(): DocumentFragment {
    const fragment = document.createDocumentFragment();
    const header = document.createElement('header');
    header.className = 'agent-card-header';
    const close = document.createElement('button');
    close.type = 'button';
    close.className = 'icon-button agent-card-close';
    close.setAttribute('aria-label', 'Close');
    close.textContent = '×';
    close.addEventListener('click', () => this.options.onClose());
    this.fields.name.className = 'agent-card-name';
    header.append(this.fields.avatar, this.fields.name, close);

    this.fields.persona.className = 'agent-card-persona';
    const details = document.createElement('dl');
    details.className = 'agent-card-details';
    for (const [label, value] of [
      ['Status', this.fields.status],
      ['Position', this.fields.position],
      ['Place', this.fields.place],
      ['Heading to', this.fields.heading],
      ['Balance', this.economy.balance],
      ['Tier', this.economy.tier],
    ] as const) {
      const term = document.createElement('dt');
      term.textContent = label;
      details.append(term, value);
    }

    this.followButton.type = 'button';
    this.followButton.className = 'follow-button';
    this.followButton.addEventListener('click', () => this.options.onFollowChange(!this.following));
    fragment.append(header, this.fields.persona, details, this.followButton);
    return fragment;
  }

  private render(): void {
    const agent = this.agent;
    if (!agent) return;
    this.fields.avatar.replaceWith((this.fields.avatar = agentAvatar(agent, 'avatar avatar-large')));
    this.fields.name.textContent = agent.displayName;
    this.fields.persona.textContent = agent.persona || 'No persona written yet.';
    this.fields.persona.classList.toggle('empty', !agent.persona);

    this.fields.status.replaceChildren(statusBadge(agent));
    this.fields.position.textContent = `${agent.position.x}, ${agent.position.y}`;
    this.fields.place.textContent = this.landmarks.label(agent.landmark) ?? 'Out and about';
    const walking = agent.walking;
    this.fields.heading.textContent = walking
      ? `${this.landmarks.placeName(walking.landmark, walking.destination)} · ${walking.remaining} ${walking.remaining === 1 ? 'step' : 'steps'} left`
      : '—';
    this.renderFollow();
  }

  private renderFollow(): void {
    this.followButton.textContent = this.following ? 'Following · stop' : 'Follow';
    this.followButton.setAttribute('aria-pressed', String(this.following));
  }
}

function statusBadge(agent: Agent): HTMLElement {
  const badge = document.createElement('span');
  badge.className = `status-badge ${agent.status.online ? 'online' : 'offline'}`;
  badge.textContent = agent.status.online
    ? 'online'
    : agent.status.lastSeenAt
      ? `last seen ${relativeTime(agent.status.lastSeenAt)}`
      : 'offline';
  return badge;
}
