// The village map humans watch: loads the world and its Tiled map, draws ground, landmarks and agents,
// then follows the live stream. Each part lives in its own module; this file only wires them together.
import 'leaflet/dist/leaflet.css';
import './styles.css';
import './board/board.css';
import { VillageClient, type Agent, type WorldEvent } from '@ai-village/control-plane/contract';
import { AgentCard } from './agent-card.js';
import { AgentList } from './agent-list.js';
import { AgentMarkers } from './agent-markers.js';
import { BoardBubble } from './board/board-bubble.js';
import { isBoardEvent } from './board/board-events.js';
import { BoardPanel } from './board/board-panel.js';
import { isEconomyEvent, isOperatorEvent } from './economy.js';
import { Session } from './board/session.js';
import { addLandmarkLayer, boardLandmark, LandmarkIndex } from './landmarks.js';
import { LiveConnection } from './live-connection.js';
import { LiveFeed } from './live-feed.js';
import { loadWorld } from './load-world.js';
import { SelectionController } from './selection.js';
import { SidePanel } from './side-panel.js';
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
  // A reload keeps the person signed in (the refresh cookie); find out while the world loads.
  const session = new Session(new VillageClient({ baseUrl: window.location.origin, timeoutMs: 15_000 }));
  const restored = session.restore();
  // The board needs no map: it works while the world loads (and if it cannot).
  let villageAgents: () => Agent[] = () => [];
  const panel = new SidePanel((tab) => board.setActive(tab === 'board'));
  const board = new BoardPanel(byId('board-view'), session, {
    agents: () => villageAgents(),
    reveal: () => panel.show('board'),
    onUnread: (count) => panel.setUnread(count),
  });
  void restored.then(() => board.restoreFromUrl());
  const { world, ground } = await loadWorld(byId('load-error'));
  byId('world-name').textContent = world.name;
  document.title = `${world.name} · AI Village`;

  const map = createWorldMap(byId('map'), { width: ground.width, height: ground.height });
  const groundLayer = new GroundLayer(ground);
  const groundReady = new Promise<void>((resolve) => groundLayer.once('load', () => resolve()));
  groundLayer.addTo(map);
  const landmarks = new LandmarkIndex(world.landmarks, world.size);
  addLandmarkLayer(map, world.landmarks, () => {
    board.showList();
    panel.show('board');
  });

  const glideMs = Math.round(Math.min(Math.max(world.clock.tickMs * GLIDE_SHARE_OF_TICK, 150), 2000));
  // The views and the selection refer to each other; these closures run only after both exist.
  const select = (agentId: string) => selection.selectAgent(agentId);
  const state = new VillageState(() => live.resync());
  state.replace({ tick: world.clock.tick, agents: world.agents, recent: [] });
  villageAgents = () => [...state.agents.values()];

  const markers = new AgentMarkers(map, { glideMs, onSelect: select });
  const list = new AgentList(byId('agent-list'), byId<HTMLInputElement>('agent-filter'), landmarks, (id) => {
    select(id);
    panel.close();
  });
  const openPost = (postId: number) => board.openPost(postId);
  const feed = new LiveFeed(byId('live-feed'), landmarks, select, openPost);
  const bubble = new BoardBubble(map, boardLandmark(world.landmarks), openPost);
  const card = new AgentCard(byId('agent-card'), landmarks, {
    onClose: () => selection.clear(),
    onFollowChange: (follow) => selection.setFollowing(follow),
    loadEconomy: (agentId) => session.call((client) => client.balance(agentId)),
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
  let snapshots = 0;
  // The first handshake should already say who is signed in; later changes reconnect (below).
  await restored;
  const live = new LiveConnection(
    {
      onSnapshot: (snapshot) => {
        state.replace(snapshot);
        feed.reset(snapshot.recent, state);
        resetViews();
        // Every connect brings a snapshot; after the first, board and economy events may have been missed.
        if (snapshots++ > 0) {
          board.catchUp();
          card.reloadEconomy();
        }
        firstSnapshot();
      },
      onEvents: (events: WorldEvent[]) => {
        for (const event of events) {
          // Board events change no agent: they go to the board, whatever VillageState makes of them.
          if (isBoardEvent(event)) {
            board.onEvent(event);
            bubble.onEvent(event);
            feed.onEvent(event, state);
            continue;
          }
          // Nor do balances and tiers: they go to the agent card and the feed.
          if (isEconomyEvent(event)) {
            card.onEconomyEvent(event);
            feed.onEvent(event, state);
            continue;
          }
          if (isOperatorEvent(event)) continue;
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
    },
    () => session.token,
  );
  session.onChange(() => live.reconnect());
  // A socket that (re)connected while the token had lapsed (say, after a laptop slept) was taken for a
  // guest's: once a fresh token is in, connect again to get the events of posts for people only.
  session.onRenew(() => {
    if (session.user && !live.signedIn) live.reconnect();
  });

  await Promise.all([snapshotIn, groundLayer.isLoading() ? groundReady : Promise.resolve()]);
  document.body.dataset.ready = 'true';
}

start().catch((error: unknown) => {
  console.error(error);
  const box = document.getElementById('load-error');
  if (box) {
    box.textContent = `The map stopped: ${error instanceof Error ? error.message : String(error)}`;
    box.hidden = false;
  }
});
