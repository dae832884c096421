// A socket.io viewer of the real control plane's world, as the map page connects: it records every
// event of every `world:changes` frame, each checked against the contract. The tests use it to see
// what an agent really did in the village (said, emoted, walked) and what it did not.
import { io } from 'socket.io-client';
import type { Socket } from 'socket.io-client';
import {
  SOCKET_PATH,
  WORLD_NAMESPACE,
  WorldChangesSchema,
  WorldSnapshotSchema,
} from '@ai-village/control-plane/contract';
import type {
  WorldClientToServerEvents,
  WorldEvent,
  WorldEventOf,
  WorldEventType,
  WorldServerToClientEvents,
} from '@ai-village/control-plane/contract';
import { eventually } from './control-plane-process.js';

export class WorldViewer {
  readonly events: WorldEvent[] = [];
  private readonly socket: Socket<WorldServerToClientEvents, WorldClientToServerEvents>;
  private snapshots = 0;

  constructor(baseUrl: string) {
    this.socket = io(`${baseUrl}${WORLD_NAMESPACE}`, {
      path: SOCKET_PATH,
      transports: ['websocket'],
      reconnection: true,
      reconnectionDelay: 100,
      reconnectionDelayMax: 500,
    });
    this.socket.on('world:snapshot', (snapshot) => {
      WorldSnapshotSchema.parse(snapshot);
      this.snapshots++;
    });
    this.socket.on('world:changes', (changes) => this.events.push(...WorldChangesSchema.parse(changes).events));
  }

  /** Resolves once the first snapshot came: from then on no event is missed. */
  async ready(): Promise<this> {
    await eventually(() => this.snapshots > 0, 'the first world snapshot');
    return this;
  }

  /** Every event of this type (and this agent, if given) seen so far. */
  of<T extends WorldEventType>(type: T, agentId?: string): WorldEventOf<T>[] {
    return this.events.filter(
      (event): event is WorldEventOf<T> =>
        event.type === type && (agentId === undefined || ('agentId' in event && event.agentId === agentId)),
    );
  }

  /** The first event of this type for this agent that matches, waiting for it if need be. */
  waitFor<T extends WorldEventType>(
    type: T,
    agentId: string,
    match: (event: WorldEventOf<T>) => boolean = () => true,
    timeoutMs = 10_000,
  ): Promise<WorldEventOf<T>> {
    return eventually(() => this.of(type, agentId).find(match), `a ${type} event of ${agentId}`, timeoutMs);
  }

  close(): void {
    this.socket.close();
  }
}
