// The side panel's list of agents: online first, then by name; a click focuses the agent.
import type { Agent } from '@ai-village/control-plane/contract';
import { agentAvatar } from './agent-identity.js';
import type { LandmarkIndex } from './landmarks.js';
import type { VillageEvent, VillageState } from './village-state.js';

const byName = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' });

interface Row {
  item: HTMLLIElement;
  button: HTMLButtonElement;
  where: HTMLElement;
  online: boolean;
  name: string;
}

export class AgentList {
  private readonly rows = new Map<string, Row>();
  private filter = '';
  private selectedId: string | null = null;

  constructor(
    private readonly list: HTMLElement,
    filterInput: HTMLInputElement,
    private readonly landmarks: LandmarkIndex,
    private readonly onSelect: (agentId: string) => void,
  ) {
    filterInput.addEventListener('input', () => {
      this.filter = filterInput.value.trim().toLowerCase();
      for (const row of this.rows.values()) this.applyFilter(row);
    });
  }

  reset(state: VillageState): void {
    for (const [id, row] of this.rows) {
      if (!state.agents.has(id)) {
        row.item.remove();
        this.rows.delete(id);
      }
    }
    for (const agent of state.agents.values()) this.render(agent);
    this.sort();
  }

  onEvent(event: VillageEvent, state: VillageState): void {
    if (event.type === 'world.tick' || event.type === 'agent.said' || event.type === 'agent.emoted') return;
    const agent = state.agents.get(event.type === 'agent.created' ? event.agent.id : event.agentId);
    if (!agent) return;
    const row = this.rows.get(agent.id);
    const reorder = !row || row.online !== agent.status.online;
    this.render(agent);
    if (reorder) this.sort();
  }

  select(agentId: string | null): void {
    if (this.selectedId) this.rows.get(this.selectedId)?.button.removeAttribute('aria-current');
    this.selectedId = agentId;
    const row = agentId ? this.rows.get(agentId) : undefined;
    if (row) {
      row.button.setAttribute('aria-current', 'true');
      row.item.scrollIntoView({ block: 'nearest' });
    }
  }

  private render(agent: Agent): void {
    let row = this.rows.get(agent.id);
    if (!row) {
      const item = document.createElement('li');
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'agent-row';
      button.addEventListener('click', () => this.onSelect(agent.id));
      const name = document.createElement('span');
      name.className = 'agent-row-name';
      const where = document.createElement('span');
      where.className = 'agent-row-where';
      const text = document.createElement('span');
      text.className = 'agent-row-text';
      text.append(name, where);
      button.append(agentAvatar(agent), text);
      item.append(button);
      row = { item, button, where, online: agent.status.online, name: agent.displayName };
      this.rows.set(agent.id, row);
      name.textContent = agent.displayName;
      if (agent.id === this.selectedId) button.setAttribute('aria-current', 'true');
    }
    row.online = agent.status.online;
    row.item.classList.toggle('offline', !agent.status.online);
    const where = agent.walking
      ? `→ ${this.landmarks.placeName(agent.walking.landmark, agent.walking.destination)}`
      : this.landmarks.placeName(agent.landmark, agent.position);
    if (row.where.textContent !== where) row.where.textContent = where;
    this.applyFilter(row);
  }

  private applyFilter(row: Row): void {
    row.item.hidden = this.filter !== '' && !row.name.toLowerCase().includes(this.filter);
  }

  private sort(): void {
    const ordered = [...this.rows.values()].sort(
      (a, b) => Number(b.online) - Number(a.online) || byName.compare(a.name, b.name),
    );
    this.list.replaceChildren(...ordered.map((row) => row.item));
  }
}
