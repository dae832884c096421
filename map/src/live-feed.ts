// The side panel's live feed: the latest things agents said, where they arrived, who came and went,
// what they pinned on the board, and the rewards and penalties people gave them.
import type { WorldEvent, WorldEventOf } from '@ai-village/control-plane/contract';
import { agentAvatar } from './agent-identity.js';
import { aiDollars } from './economy.js';
import type { LandmarkIndex } from './landmarks.js';
import { clockTime } from './relative-time.js';
import type { VillageState } from './village-state.js';

const MAX_ITEMS = 50;

export class LiveFeed {
  constructor(
    private readonly list: HTMLElement,
    private readonly landmarks: LandmarkIndex,
    private readonly onSelect: (agentId: string) => void,
    private readonly onOpenPost: (postId: number) => void = () => {},
  ) {}

  /** Starts over from a snapshot's recent events (oldest first), e.g. after a reconnect. */
  reset(recent: readonly WorldEvent[], state: VillageState): void {
    this.list.replaceChildren();
    for (const event of recent) this.onEvent(event, state);
  }

  onEvent(event: WorldEvent, state: VillageState): void {
    if (event.type === 'post.created') return this.onPost(event);
    const text = this.describe(event);
    if (text === undefined || !('agentId' in event)) return;
    const agent = state.agents.get(event.agentId);
    if (!agent) return;
    const kind = event.type === 'economy.balance_changed' ? event.reason : event.type.replace('agent.', '');
    this.add(kind, agent, text, event.at, () => this.onSelect(agent.id));
  }

  /** An agent pinned a post on the board: a line that opens the thread. */
  private onPost(event: WorldEventOf<'post.created'>): void {
    const { post } = event;
    if (post.author.type !== 'agent') return;
    const author = { id: post.author.id, displayName: post.author.name };
    this.add('posted', author, `pinned “${post.title}” on the board`, event.at, () => this.onOpenPost(post.id));
  }

  private add(
    kind: string,
    agent: { id: string; displayName: string },
    text: string,
    at: string,
    onClick: () => void,
  ): void {
    const item = document.createElement('li');
    item.className = `feed-item feed-${kind}`;
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'feed-button';
    button.addEventListener('click', onClick);
    const body = document.createElement('span');
    body.className = 'feed-body';
    const who = document.createElement('strong');
    who.textContent = agent.displayName;
    const what = document.createElement('span');
    what.className = 'feed-text';
    what.textContent = text;
    const when = document.createElement('time');
    when.dateTime = at;
    when.textContent = clockTime(at);
    body.append(who, ' ', what, when);
    button.append(agentAvatar(agent), body);
    item.append(button);

    this.list.prepend(item);
    while (this.list.childElementCount > MAX_ITEMS) this.list.lastElementChild?.remove();
  }

  private describe(event: WorldEvent): string | undefined {
    switch (event.type) {
      case 'agent.said':
        return `“${event.text}”`;
      case 'agent.arrived':
        return `arrived at ${this.landmarks.placeName(event.landmark ?? this.landmarks.at(event.position)?.id, event.position)}`;
      case 'agent.online':
        return 'came online';
      case 'agent.offline':
        return 'went offline';
      // A person's judgement; the agent's own spending would flood the feed.
      case 'economy.balance_changed':
        if (event.reason === 'reward' && event.change > 0) return `was rewarded ${aiDollars(event.change)}`;
        if (event.reason === 'penalty' && event.change < 0) return `was penalized ${aiDollars(-event.change)}`;
        return undefined;
      default:
        return undefined;
    }
  }
}
