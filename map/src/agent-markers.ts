// One light DOM marker per agent (a coloured disc with initials and a name), gliding between tiles.
// Markers are moved imperatively: a requestAnimationFrame loop interpolates only the agents in motion,
// so idle agents cost nothing per frame. `data-x`/`data-y` carry the latest tile at once (tests read
// them), while the disc catches up over about one tick.
import * as L from 'leaflet';
import type { Agent, EMOTES, Position } from '@ai-village/control-plane/contract';
import { agentColour, initials } from './agent-identity.js';
import type { VillageEvent, VillageState } from './village-state.js';
import { DomPointLayer } from './point-layer.js';
import { tileCentre } from './world-map.js';

const EMOTE_ICONS: Record<(typeof EMOTES)[number], string> = {
  wave: '👋',
  smile: '🙂',
  laugh: '😂',
  think: '🤔',
  shrug: '🤷',
  sleep: '😴',
  cheer: '🎉',
  sad: '😢',
};
const BUBBLE_MS = 6000;
const EMOTE_MS = 2500;
const BUBBLE_MAX_CHARS = 160;
/** More bubbles than this at once is noise: the oldest gives way. */
const MAX_BUBBLES = 12;
/** Further than this (in tiles) is a jump (a resync, a spawn), not a step: no glide. */
const MAX_GLIDE_TILES = 3;
const Z_SPEAKING = 10_000;
const Z_SELECTED = 20_000;
/** Past this many agents, names show only when zoomed right in (see styles.css, data-crowded). */
const CROWDED_FROM = 80;

interface Glide {
  from: L.LatLng;
  to: L.LatLng;
  start: number;
  duration: number;
}

class AgentMarker {
  /** The marker's root: `.agent-marker` with `data-agent-id`, `data-x`, `data-y` (browser tests read these). */
  readonly root: HTMLElement;
  private readonly dot: HTMLElement;
  private readonly name: HTMLElement;
  private bubble: HTMLElement | undefined;
  private bubbleTimer = 0;
  glide: Glide | null = null;
  selected = false;

  constructor(
    agent: Agent,
    private readonly layer: DomPointLayer,
    private readonly onSilent: (marker: AgentMarker) => void,
  ) {
    this.root = document.createElement('div');
    this.root.className = 'agent-marker';
    this.root.dataset.agentId = agent.id;
    const body = document.createElement('div');
    body.className = 'agent-body';
    this.dot = document.createElement('div');
    this.dot.className = 'agent-dot';
    this.dot.style.setProperty('--agent-colour', agentColour(agent.id));
    this.name = document.createElement('div');
    this.name.className = 'agent-name';
    body.append(this.dot, this.name);
    this.root.append(body);
    layer.addPoint(this.root, tileCentre(agent.position));
  }

  get shownAt(): L.LatLng | undefined {
    return this.layer.latLngOf(this.root);
  }

  showAt(latlng: L.LatLng): void {
    this.layer.movePoint(this.root, latlng);
  }

  render(agent: Agent): void {
    const root = this.root;
    if (this.name.textContent !== agent.displayName) {
      this.dot.textContent = initials(agent.displayName);
      this.name.textContent = agent.displayName;
      root.title = agent.displayName;
    }
    root.dataset.x = String(agent.position.x);
    root.dataset.y = String(agent.position.y);
    root.classList.toggle('offline', !agent.status.online);
    root.classList.toggle('walking', agent.walking !== null);
    root.classList.toggle('selected', this.selected);
  }

  say(text: string): void {
    if (!this.bubble) {
      this.bubble = document.createElement('div');
      this.bubble.className = 'agent-bubble';
      this.root.firstElementChild?.append(this.bubble);
    }
    this.bubble.textContent = text.length > BUBBLE_MAX_CHARS ? `${text.slice(0, BUBBLE_MAX_CHARS - 1)}…` : text;
    this.bubble.hidden = false;
    window.clearTimeout(this.bubbleTimer);
    this.bubbleTimer = window.setTimeout(() => this.hush(), BUBBLE_MS);
    this.updateZIndex();
  }

  hush(): void {
    window.clearTimeout(this.bubbleTimer);
    if (this.bubble) this.bubble.hidden = true;
    this.updateZIndex();
    this.onSilent(this);
  }

  emote(icon: string): void {
    const element = document.createElement('div');
    element.className = 'agent-emote';
    element.textContent = icon;
    this.root.firstElementChild?.append(element);
    window.setTimeout(() => element.remove(), EMOTE_MS);
  }

  updateZIndex(): void {
    const speaking = this.bubble !== undefined && !this.bubble.hidden;
    this.layer.setZOffset(this.root, (this.selected ? Z_SELECTED : 0) + (speaking ? Z_SPEAKING : 0));
  }

  dispose(): void {
    window.clearTimeout(this.bubbleTimer);
    this.layer.removePoint(this.root);
  }
}

export interface AgentMarkerOptions {
  /** How long a one-tile glide takes: about one world tick, so steady walkers never stop. */
  glideMs: number;
  onSelect: (agentId: string) => void;
}

export class AgentMarkers {
  private readonly markers = new Map<string, AgentMarker>();
  private readonly gliding = new Set<AgentMarker>();
  /** Agents with a speech bubble up, oldest first. */
  private readonly speaking = new Set<AgentMarker>();
  private readonly layer = new DomPointLayer();
  private frameRequest = 0;
  private zooming = false;
  private selectedId: string | null = null;
  /** Where the selected agent is walking to: a dashed line from it and a ring at the destination. */
  private readonly walkLine = L.polyline([], {
    className: 'walk-line',
    weight: 2.5,
    opacity: 0.85,
    dashArray: '6 6',
    interactive: false,
  });
  private readonly walkTarget = L.circleMarker([0, 0], {
    radius: 6,
    weight: 2.5,
    fillOpacity: 0.25,
    interactive: false,
  });

  constructor(
    private readonly map: L.Map,
    private readonly options: AgentMarkerOptions,
  ) {
    this.layer.addTo(map);
    // One delegated listener for all agents; a click on an agent is not a click on its tile.
    const container = this.layer.element;
    if (container) {
      L.DomEvent.on(container, 'click', (event) => {
        const target = (event.target as Element | null)?.closest<HTMLElement>('.agent-marker');
        const agentId = target?.dataset.agentId;
        if (!agentId) return;
        L.DomEvent.stopPropagation(event);
        // A drag that started on an agent ends in a click on it too; that is not a pick.
        const dragging = map.dragging as L.Handler & { moved?: () => boolean };
        if (!dragging.moved?.()) options.onSelect(agentId);
      });
      L.DomEvent.on(container, 'dblclick', L.DomEvent.stopPropagation);
    }
    // Moving markers during Leaflet's zoom animation makes them jump; hold still and catch up after.
    map.on('zoomstart', () => (this.zooming = true));
    map.on('zoomend', () => {
      this.zooming = false;
      this.requestFrame();
    });
  }

  /** Brings every marker in line with the state after a snapshot. */
  reset(state: VillageState): void {
    for (const [id, marker] of this.markers) {
      if (!state.agents.has(id)) {
        marker.dispose();
        this.gliding.delete(marker);
        this.speaking.delete(marker);
        this.markers.delete(id);
      }
    }
    for (const agent of state.agents.values()) {
      const marker = this.markers.get(agent.id);
      if (marker) this.moveTo(marker, agent.position);
      else this.add(agent);
      this.update(agent);
    }
    if (this.selectedId && !this.markers.has(this.selectedId)) this.select(null);
  }

  onEvent(event: VillageEvent, state: VillageState): void {
    if (event.type === 'world.tick') return;
    const id = event.type === 'agent.created' ? event.agent.id : event.agentId;
    const agent = state.agents.get(id);
    if (!agent) return;
    let marker = this.markers.get(id);
    if (!marker) marker = this.add(agent);
    switch (event.type) {
      case 'agent.moved':
        this.moveTo(marker, agent.position);
        break;
      case 'agent.said':
        this.speaking.delete(marker);
        this.speaking.add(marker);
        marker.say(event.text);
        for (const oldest of this.speaking) {
          if (this.speaking.size <= MAX_BUBBLES) break;
          oldest.hush();
        }
        break;
      case 'agent.emoted':
        marker.emote(EMOTE_ICONS[event.emote]);
        break;
      default:
        break;
    }
    this.update(agent);
  }

  select(agentId: string | null, state?: VillageState): void {
    if (this.selectedId === agentId) return;
    const previous = this.selectedId ? this.markers.get(this.selectedId) : undefined;
    this.selectedId = agentId;
    for (const marker of [previous, agentId ? this.markers.get(agentId) : undefined]) {
      if (!marker) continue;
      marker.selected = marker === this.markers.get(agentId ?? '');
      marker.root?.classList.toggle('selected', marker.selected);
      marker.updateZIndex();
    }
    const agent = agentId ? state?.agents.get(agentId) : undefined;
    if (agent) this.update(agent);
    else this.drawWalk(undefined);
  }

  /** Where the agent's disc is drawn now (mid-glide included). */
  shownAt(agentId: string): L.LatLng | undefined {
    return this.markers.get(agentId)?.shownAt;
  }

  private add(agent: Agent): AgentMarker {
    const marker = new AgentMarker(agent, this.layer, (silent) => this.speaking.delete(silent));
    this.markers.set(agent.id, marker);
    this.map.getContainer().toggleAttribute('data-crowded', this.markers.size >= CROWDED_FROM);
    return marker;
  }

  /** Re-renders the marker (and, for the selected agent, its walk) from the agent's state. */
  private update(agent: Agent): void {
    this.markers.get(agent.id)?.render(agent);
    if (agent.id === this.selectedId) this.drawWalk(agent);
  }

  private drawWalk(agent: Agent | undefined): void {
    if (!agent?.walking) {
      this.walkLine.remove();
      this.walkTarget.remove();
      return;
    }
    const colour = agentColour(agent.id);
    const destination = tileCentre(agent.walking.destination);
    this.walkLine
      .setLatLngs([tileCentre(agent.position), destination])
      .setStyle({ color: colour })
      .addTo(this.map);
    this.walkTarget.setLatLng(destination).setStyle({ color: colour, fillColor: colour }).addTo(this.map);
  }

  private moveTo(marker: AgentMarker, position: Position): void {
    const to = tileCentre(position);
    const from = marker.shownAt;
    if (!from || from.equals(to)) return;
    const distance = Math.max(Math.abs(from.lng - to.lng), Math.abs(from.lat - to.lat));
    // Only what can be seen glides; the rest jumps, which keeps a zoomed-in view of a big village cheap.
    const view = this.map.getBounds().pad(0.2);
    if (distance > MAX_GLIDE_TILES || document.hidden || (!view.contains(from) && !view.contains(to))) {
      marker.glide = null;
      this.gliding.delete(marker);
      marker.showAt(to);
      return;
    }
    marker.glide = { from, to, start: performance.now(), duration: this.options.glideMs };
    this.gliding.add(marker);
    this.requestFrame();
  }

  private requestFrame(): void {
    if (!this.frameRequest && this.gliding.size > 0) this.frameRequest = requestAnimationFrame(this.frame);
  }

  private readonly frame = (now: number): void => {
    this.frameRequest = 0;
    if (this.zooming) return;
    for (const marker of this.gliding) {
      const glide = marker.glide;
      if (!glide) {
        this.gliding.delete(marker);
        continue;
      }
      // Linear, so that consecutive one-tile steps join into one steady walk.
      const t = Math.min(1, Math.max(0, (now - glide.start) / glide.duration));
      marker.showAt(
        t >= 1
          ? glide.to
          : L.latLng(
              glide.from.lat + (glide.to.lat - glide.from.lat) * t,
              glide.from.lng + (glide.to.lng - glide.from.lng) * t,
            ),
      );
      if (t >= 1) {
        marker.glide = null;
        this.gliding.delete(marker);
      }
    }
    this.requestFrame();
  };
}
