// What the page knows about the village: every agent as of the latest snapshot plus the events since.
// Events from different control-plane replicas may arrive out of order, so a move is taken only when
// its version is newer than the one held, and a walk's end only when it is not older than the walk.
import type {
  Agent,
  BOARD_EVENT_TYPES,
  OPERATOR_EVENT_TYPES,
  WorldEvent,
  WorldSnapshot,
} from '@ai-village/control-plane/contract';
import type { ECONOMY_EVENT_TYPES } from './economy.js';

/**
 * The events about agents and the clock. Board events go to the board instead (see board/board-events.ts),
 * economy events to the agent card and the feed (see economy.ts).
 */
export type VillageEvent = Exclude<
  WorldEvent,
  {
    type:
      (typeof BOARD_EVENT_TYPES)[number] | (typeof ECONOMY_EVENT_TYPES)[number] | (typeof OPERATOR_EVENT_TYPES)[number];
  }
>;

export interface SnapshotDiff {
  added: Agent[];
  removed: string[];
  kept: Agent[];
}

export class VillageState {
  readonly agents = new Map<string, Agent>();
  tick = 0;
  /** The tick of each agent's latest walk, to spot an `arrived` that belongs to an earlier walk. */
  private readonly walkTicks = new Map<string, number>();

  /** @param onUnknownAgent called when an event names an agent we never saw (we missed its creation). */
  constructor(private readonly onUnknownAgent: (agentId: string) => void = () => {}) {}

  /**
   * Replaces everything with a snapshot (on connect and on resync). A frame with a change committed
   * after the snapshot was read can arrive before it, so an agent held at a newer `version` keeps its
   * position, version, walk and landmark; everything else comes from the snapshot.
   */
  replace(snapshot: WorldSnapshot): SnapshotDiff {
    const diff: SnapshotDiff = { added: [], removed: [], kept: [] };
    const incoming = new Set(snapshot.agents.map((agent) => agent.id));
    for (const id of this.agents.keys()) {
      if (!incoming.has(id)) {
        this.agents.delete(id);
        this.walkTicks.delete(id);
        diff.removed.push(id);
      }
    }
    for (const incomingAgent of snapshot.agents) {
      const held = this.agents.get(incomingAgent.id);
      let agent = incomingAgent;
      if (held && held.version > incomingAgent.version) {
        const { position, version, walking, landmark } = held;
        agent = { ...incomingAgent, position, version, walking, landmark };
      } else if (incomingAgent.walking) {
        this.walkTicks.set(incomingAgent.id, snapshot.tick);
      }
      (held ? diff.kept : diff.added).push(agent);
      this.agents.set(agent.id, agent);
    }
    this.tick = snapshot.tick;
    return diff;
  }

  /** Applies one event; false when it changes nothing the page shows (stale, or about an unknown agent). */
  apply(event: VillageEvent): boolean {
    this.tick = Math.max(this.tick, event.tick);
    if (event.type === 'world.tick') return true;
    if (event.type === 'agent.created') {
      const held = this.agents.get(event.agent.id);
      if (held && held.version >= event.agent.version) return false;
      this.agents.set(event.agent.id, event.agent);
      return true;
    }

    const agent = this.agents.get(event.agentId);
    if (!agent) {
      this.onUnknownAgent(event.agentId);
      return false;
    }
    switch (event.type) {
      case 'agent.moved':
        if (event.version <= agent.version) return false;
        agent.position = event.position;
        agent.version = event.version;
        agent.landmark = event.landmark;
        if (event.remaining === 0) agent.walking = null;
        else if (agent.walking) agent.walking.remaining = event.remaining;
        return true;
      case 'agent.walk_started':
        if (event.tick < (this.walkTicks.get(agent.id) ?? -1)) return false;
        this.walkTicks.set(agent.id, event.tick);
        agent.walking = { destination: event.destination, landmark: event.landmark, remaining: event.steps };
        return true;
      case 'agent.arrived':
        // Still worth a line in the feed when stale; it just must not end a newer walk.
        if (event.tick >= (this.walkTicks.get(agent.id) ?? -1)) agent.walking = null;
        return true;
      case 'agent.online':
        agent.status = { online: true, lastSeenAt: event.at };
        return true;
      case 'agent.offline':
        agent.status = { online: false, lastSeenAt: event.lastSeenAt ?? event.at };
        return true;
      case 'agent.updated':
        // An admin renamed the agent or rewrote its persona (from the console).
        agent.displayName = event.agent.displayName;
        agent.persona = event.agent.persona;
        return true;
      case 'agent.said':
      case 'agent.emoted':
        return true;
    }
  }

  onlineCount(): number {
    let count = 0;
    for (const agent of this.agents.values()) if (agent.status.online) count++;
    return count;
  }
}
