import { io, type Socket } from 'socket.io-client';
import {
  SOCKET_PATH,
  WORLD_NAMESPACE,
  WorldChangesSchema,
  WorldSnapshotSchema,
  type WorldClientToServerEvents,
  type WorldEvent,
  type WorldServerToClientEvents,
  type WorldSnapshot,
} from '../../src/contract/index.js';
import { eventually } from './test-app.js';

/** A socket.io viewer of the world that records what it receives, checked against the contract. */
export class TestViewer {
  readonly socket: Socket<WorldServerToClientEvents, WorldClientToServerEvents>;
  readonly events: WorldEvent[] = [];
  readonly snapshots: WorldSnapshot[] = [];

  /** `token`: a person's access token (or the admin token), to get the events only they may see. */
  constructor(baseUrl: string, token?: string) {
    this.socket = io(`${baseUrl}${WORLD_NAMESPACE}`, {
      path: SOCKET_PATH,
      transports: ['websocket'],
      reconnection: true,
      ...(token ? { auth: { token } } : {}),
    });
    this.socket.on('world:snapshot', (snapshot) => this.snapshots.push(WorldSnapshotSchema.parse(snapshot)));
    this.socket.on('world:changes', (changes) => this.events.push(...WorldChangesSchema.parse(changes).events));
  }

  ready() {
    return eventually(() => this.snapshots.length > 0, 'the first snapshot');
  }

  waitFor<T extends WorldEvent['type']>(
    type: T,
    match: (event: Extract<WorldEvent, { type: T }>) => boolean = () => true,
    timeoutMs = 10_000,
  ): Promise<Extract<WorldEvent, { type: T }>> {
    return eventually(
      () => this.events.find((e): e is Extract<WorldEvent, { type: T }> => e.type === type && match(e as never)),
      `a ${type} event`,
      timeoutMs,
    );
  }

  close() {
    this.socket.close();
  }
}
