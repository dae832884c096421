// The live stream of the village over socket.io: a snapshot on every (re)connect, then batches of
// changes. Every frame is checked against the contract's schemas; what does not fit is dropped and logged.
import { io, type Socket } from 'socket.io-client';
import {
  SOCKET_PATH,
  WORLD_NAMESPACE,
  WorldChangesSchema,
  WorldEventSchema,
  WorldSnapshotSchema,
  type WorldClientToServerEvents,
  type WorldEvent,
  type WorldServerToClientEvents,
  type WorldSnapshot,
} from '@ai-village/control-plane/contract';

export interface LiveHandlers {
  onSnapshot: (snapshot: WorldSnapshot) => void;
  onEvents: (events: WorldEvent[]) => void;
  onConnectionChange: (connected: boolean) => void;
}

/** Asking for more than one resync in this window is pointless: the first answer covers the rest. */
const RESYNC_GAP_MS = 5000;

export class LiveConnection {
  private readonly socket: Socket<WorldServerToClientEvents, WorldClientToServerEvents>;
  private lastResync = 0;
  /** A reconnect is on its way: its handshake will read the newest token, so another is not needed. */
  private handshakePending = false;
  private handshakeToken: string | undefined;

  /** @param token the signed-in person's access token, if any: sent in every handshake. */
  constructor(handlers: LiveHandlers, token: () => string | undefined = () => undefined) {
    this.socket = io(WORLD_NAMESPACE, {
      path: SOCKET_PATH,
      transports: ['websocket'],
      // Read at each (re)connect, so a reconnect carries the latest token. Signed in, the socket also
      // gets the events of posts for people only (and, for moderators, hidden posts and flags).
      auth: (send) => {
        this.handshakePending = false;
        this.handshakeToken = token();
        send(this.handshakeToken ? { token: this.handshakeToken } : {});
      },
    });
    this.socket.on('connect', () => handlers.onConnectionChange(true));
    this.socket.on('disconnect', () => handlers.onConnectionChange(false));
    this.socket.on('connect_error', () => handlers.onConnectionChange(false));

    this.socket.on('world:snapshot', (payload: unknown) => {
      const snapshot = WorldSnapshotSchema.safeParse(payload);
      if (snapshot.success) handlers.onSnapshot(snapshot.data);
      else console.warn('ignoring a world:snapshot that does not match the contract', snapshot.error.issues);
    });

    this.socket.on('world:changes', (payload: unknown) => {
      const changes = WorldChangesSchema.safeParse(payload);
      if (changes.success) {
        handlers.onEvents(changes.data.events);
        return;
      }
      // Keep the good events of a frame that has a bad one (say, an event type newer than this page).
      const events = (payload as { events?: unknown } | null)?.events;
      if (!Array.isArray(events)) {
        console.warn('ignoring a world:changes frame that does not match the contract', changes.error.issues);
        return;
      }
      const valid: WorldEvent[] = [];
      for (const raw of events) {
        const event = WorldEventSchema.safeParse(raw);
        if (event.success) valid.push(event.data);
        else console.warn('ignoring a world event that does not match the contract', raw, event.error.issues);
      }
      handlers.onEvents(valid);
    });
  }

  get connected(): boolean {
    return this.socket.connected;
  }

  /** Whether the latest handshake carried a token (else the server took this viewer for a guest). */
  get signedIn(): boolean {
    return this.handshakeToken !== undefined;
  }

  /** Connects again, for the server to see who is signed in now (it reads the token at the handshake). */
  reconnect(): void {
    if (this.handshakePending) return;
    this.handshakePending = true;
    this.socket.disconnect().connect();
  }

  /** Asks the server for a fresh snapshot, e.g. after an event about an agent we never saw. */
  resync(): void {
    const now = Date.now();
    if (!this.socket.connected || now - this.lastResync < RESYNC_GAP_MS) return;
    this.lastResync = now;
    this.socket.emit('world:resync');
  }
}
