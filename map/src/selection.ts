// One thing is selected at a time (an agent or a tile), and the URL hash always says which. Selecting an
// agent opens its card and follows it until the person drags the map.
import type * as L from 'leaflet';
import type { Agent, Position } from '@ai-village/control-plane/contract';
import type { AgentCard } from './agent-card.js';
import type { AgentList } from './agent-list.js';
import type { AgentMarkers } from './agent-markers.js';
import type { TileHighlight } from './tile-highlight.js';
import { onHashChange, parseHash, writeHash, type Selection } from './url-state.js';
import type { VillageEvent, VillageState } from './village-state.js';
import { tileCentre } from './world-map.js';

const FOCUS_ZOOM = 4;

export interface SelectionParts {
  map: L.Map;
  state: VillageState;
  markers: AgentMarkers;
  list: AgentList;
  card: AgentCard;
  tile: TileHighlight;
  /** How long a followed agent's step takes, so the map pans along with its glide. */
  glideMs: number;
}

export class SelectionController {
  private selection: Selection = { kind: 'none' };
  private following = false;
  /** An `#agent=` from the URL that the state does not hold yet (it will after the first snapshot). */
  private pendingAgentId: string | null = null;

  constructor(private readonly parts: SelectionParts) {
    parts.map.on('dragstart', () => this.setFollowing(false));
    parts.map.on('click', (event: L.LeafletMouseEvent) => {
      const tile = { x: Math.floor(event.latlng.lng), y: Math.floor(-event.latlng.lat) };
      if (parts.tile.contains(tile)) this.selectTile(tile, false);
    });
    onHashChange((selection) => this.apply(selection));
  }

  /** Restores what the URL names (on load and on `hashchange`). */
  apply(selection: Selection): void {
    if (selection.kind === 'agent') this.selectAgent(selection.agentId);
    else if (selection.kind === 'tile') this.selectTile(selection.tile, true);
    else this.clear();
  }

  restoreFromUrl(): void {
    this.apply(parseHash(window.location.hash));
  }

  selectAgent(agentId: string): void {
    const agent = this.parts.state.agents.get(agentId);
    if (!agent) {
      this.pendingAgentId = agentId;
      return;
    }
    this.pendingAgentId = null;
    this.leaveTile();
    this.selection = { kind: 'agent', agentId };
    writeHash(this.selection);
    this.following = true;
    this.parts.markers.select(agentId, this.parts.state);
    this.parts.list.select(agentId);
    this.parts.card.show(agent, true);
    const map = this.parts.map;
    map.setView(this.parts.markers.shownAt(agentId) ?? tileCentre(agent.position), Math.max(map.getZoom(), FOCUS_ZOOM));
  }

  selectTile(tile: Position, centre: boolean): void {
    if (!this.parts.tile.contains(tile)) return;
    this.leaveAgent();
    this.selection = { kind: 'tile', tile };
    writeHash(this.selection);
    this.parts.tile.show(tile, centre);
  }

  clear(): void {
    this.pendingAgentId = null;
    this.leaveAgent();
    this.leaveTile();
    this.selection = { kind: 'none' };
    writeHash(this.selection);
  }

  setFollowing(follow: boolean): void {
    if (this.selection.kind !== 'agent' || this.following === follow) return;
    this.following = follow;
    this.parts.card.setFollowing(follow);
    const shown = this.parts.markers.shownAt(this.selection.agentId);
    if (follow && shown) this.parts.map.panTo(shown);
  }

  /** After a snapshot: the selected agent may be gone, or a pending one may have arrived. */
  reset(): void {
    if (this.pendingAgentId) {
      this.selectAgent(this.pendingAgentId);
      if (this.pendingAgentId) console.warn(`no agent "${this.pendingAgentId}" in the village`);
      return;
    }
    if (this.selection.kind !== 'agent') return;
    const agent = this.parts.state.agents.get(this.selection.agentId);
    if (agent) this.parts.card.refresh(agent);
    else this.clear();
  }

  onEvent(event: VillageEvent): void {
    if (event.type === 'agent.created' && event.agent.id === this.pendingAgentId) this.selectAgent(event.agent.id);
    if (this.selection.kind !== 'agent' || event.type === 'world.tick') return;
    const agentId = event.type === 'agent.created' ? event.agent.id : event.agentId;
    if (agentId !== this.selection.agentId) return;
    const agent = this.parts.state.agents.get(agentId);
    if (!agent) return;
    this.parts.card.refresh(agent);
    if (event.type === 'agent.moved' && this.following) this.panAlong(agent);
  }

  private panAlong(agent: Agent): void {
    // Linear and as long as the marker's glide, so the agent stays put in the middle of the screen.
    this.parts.map.panTo(tileCentre(agent.position), {
      animate: true,
      duration: this.parts.glideMs / 1000,
      easeLinearity: 1,
    });
  }

  private leaveAgent(): void {
    if (this.selection.kind !== 'agent') return;
    this.following = false;
    this.parts.markers.select(null);
    this.parts.list.select(null);
    this.parts.card.hide();
  }

  private leaveTile(): void {
    if (this.selection.kind === 'tile') this.parts.tile.hide();
  }
}
