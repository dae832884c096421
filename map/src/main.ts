// The village map humans watch: loads the world and its Tiled map, draws ground, landmarks and agents,
// then follows the live stream. Each part lives in its own module; this file only wires them together.
import 'leaflet/dist/leaflet.css';
import './styles.css';
import type { WorldEvent } from '@ai-village/control-plane/contract';
import { AgentCard } from './agent-card.js';
import { AgentList } from './agent-list.js';
import { AgentMarkers } from './agent-markers.js';
import { addLandmarkLayer, LandmarkIndex } from './landmarks.js';
import { LiveConnection } from './live-connection.js';
import { LiveFeed } from './live-feed.js';
import { loadWorld } from './load-world.js';
import { SelectionController } from './selection.js';
import { GroundLayer } from './tile-layer.js';
import { TileHighlight } from './tile-highlight.js';
import { VillageState } from './village-state.js';
import { createWorldMap } from './world-map.js';

/** Glides a touch shorter than a tick, so a marker has landed before the next step starts. */
const GLIDE_SHARE_OF_TICK = 0.95;

function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (!element) throw new Error(`the page has no #${id}`);
  return element as T;
}

async function start(): Promise<void> {
  setUpPanelToggle();
  const { world, ground } = await loadWorld(byId('load-error'));
  byId('world-name').textContent = world.name;
  document.title = `${world.name} · AI Village`;

  const map = createWorldMap(byId('map'), { width: ground.width, height: ground.height });
  const groundLayer = new GroundLayer(ground);
  const groundReady = new Promise<void>((resolve) => groundLayer.once('load', () => resolve()));
  groundLayer.addTo(map);
  const landmarks = new LandmarkIndex(world.landmarks, world.size);
  addLandmarkLayer(map, world.landmarks);

  const glideMs = Math.round(Math.min(Math.max(world.clock.tickMs * GLIDE_SHARE_OF_TICK, 150), 2000));
  // The views and the selection refer to each other; these closures run only after both exist.
  const select = (agentId: string) => selection.selectAgent(agentId);
  const state = new VillageState(() => live.resync());
  state.replace({ tick: world.clock.tick, agents: world.agents, recent: [] });

  const markers = new AgentMarkers(map, { glideMs, onSelect: select });
  const list = new AgentList(byId('agent-list'), byId<HTMLInputElement>('agent-filter'), landmarks, (id) => {
    select(id);
    closePanelOnPhone();
  });
  const feed = new LiveFeed(byId('live-feed'), landmarks, select);
  const card = new AgentCard(byId('agent-card'), landmarks, {
    onClose: () => selection.clear(),
    onFollowChange: (follow) => selection.setFollowing(follow),
  });
  const tile = new TileHighlight(map, ground, landmarks, () => selection.clear());
  const selection = new SelectionController({ map, state, markers, list, card, tile, glideMs });

  const clock = byId('world-clock');
  const onlineCount = byId('online-count');
  const renderCounters = () => {
    clock.textContent = `tick ${state.tick.toLocaleString()}`;
    onlineCount.textContent = `${state.onlineCount()} / ${state.agents.size} online`;
  };
  const resetViews = () => {
    markers.reset(state);
    list.reset(state);
    selection.reset();
    renderCounters();
  };
  resetViews();
  selection.restoreFromUrl();

  let firstSnapshot: () => void = () => {};
  const snapshotIn = new Promise<void>((resolve) => (firstSnapshot = resolve));
  const live = new LiveConnection({
    onSnapshot: (snapshot) => {
      state.replace(snapshot);
      feed.reset(snapshot.recent, state);
      resetViews();
      firstSnapshot();
    },
    onEvents: (events: WorldEvent[]) => {
      for (const event of events) {
        if (!state.apply(event)) continue;
        markers.onEvent(event, state);
        list.onEvent(event, state);
        feed.onEvent(event, state);
        selection.onEvent(event);
      }
      renderCounters();
    },
    onConnectionChange: (connected) => {
      const status = byId('connection-status');
      status.textContent = connected ? 'live' : 'reconnecting…';
      status.dataset.state = connected ? 'live' : 'down';
    },
  });

  await Promise.all([snapshotIn, groundLayer.isLoading() ? groundReady : Promise.resolve()]);
  document.body.dataset.ready = 'true';
}

/** On a phone the side panel is a sheet over the map, opened from the top bar. */
function setUpPanelToggle(): void {
  const toggle = byId<HTMLButtonElement>('panel-toggle');
  toggle.addEventListener('click', () => {
    const open = !document.body.classList.contains('panel-open');
    document.body.classList.toggle('panel-open', open);
    toggle.setAttribute('aria-expanded', String(open));
  });
}

function closePanelOnPhone(): void {
  document.body.classList.remove('panel-open');
  byId('panel-toggle').setAttribute('aria-expanded', 'false');
}

start().catch((error: unknown) => {
  console.error(error);
  const box = document.getElementById('load-error');
  if (box) {
    box.textContent = `The map stopped: ${error instanceof Error ? error.message : String(error)}`;
    box.hidden = false;
  }
});
