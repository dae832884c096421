import { Inject, Injectable, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { createAdapter } from '@socket.io/redis-adapter';
import type { Server as HttpServer } from 'node:http';
import type { Logger } from 'pino';
import { Server, type Namespace } from 'socket.io';
import {
  PAYMENT_EVENT_TYPES,
  SOCKET_PATH,
  WORLD_NAMESPACE,
  type WorldSnapshot,
  type WorldClientToServerEvents,
  type WorldEvent,
  type WorldServerToClientEvents,
} from '../contract/index.js';
import { AgentsService } from '../agents/agents.service.js';
import { AuthService } from '../auth/auth.service.js';
import { EVERYONE, MODERATORS_ROOM, roomsFor, roomsOf } from '../board/audience.js';
import { CONFIG, type Config } from '../config/config.js';
import { EventBus } from '../events/event-bus.service.js';
import { LOGGER } from '../logging/logger.js';
import { RedisService } from '../redis/redis.service.js';
import { WorldClockState } from '../world/clock/world-clock.state.js';
import { trackViewer } from '../metrics/instruments.js';

type WorldNamespace = Namespace<WorldClientToServerEvents, WorldServerToClientEvents>;

const RECENT_EVENTS = 50;
const RESYNC_EVERY_MS = 2_000;

/**
 * Live viewers over socket.io (namespace /world). A viewer gets a snapshot on connect, then frames
 * of changes. Each replica batches the events it produced and emits them through the Redis
 * adapter, so every replica's viewers see every change, in at most one flush interval.
 */
@Injectable()
export class ViewerGateway implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private io: Server | undefined;
  private world: WorldNamespace | undefined;
  private pending: WorldEvent[] = [];
  private flushTimer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;

  constructor(
    @Inject(CONFIG) private readonly config: Config,
    private readonly adapterHost: HttpAdapterHost,
    private readonly redis: RedisService,
    private readonly events: EventBus,
    private readonly agents: AgentsService,
    private readonly auth: AuthService,
    private readonly clock: WorldClockState,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  onApplicationBootstrap() {
    const httpServer = this.adapterHost.httpAdapter.getHttpServer() as HttpServer;
    this.io = new Server(httpServer, {
      path: SOCKET_PATH,
      serveClient: false,
      cors: { origin: true, credentials: false },
      adapter: createAdapter(this.redis.publisher, this.redis.subscriber, { key: this.redis.key('socket.io') }),
    });
    this.world = this.io.of(WORLD_NAMESPACE);
    // A viewer who signed in sends its access token in the handshake and joins the rooms of what it
    // may read (posts for humans; moderators' events). A missing or stale token just means anonymous.
    this.world.use((socket, next) => {
      const token: unknown = socket.handshake.auth?.token;
      if (typeof token !== 'string' || !token) return next();
      this.auth
        .authenticate(token)
        .then((principal) => {
          if (principal && principal !== 'expired') void socket.join(roomsOf(principal));
          next();
        })
        .catch(() => next());
    });
    this.world.on('connection', (socket) => {
      trackViewer(socket);
      void this.sendSnapshot((snapshot) => socket.emit('world:snapshot', snapshot));
      let lastResync = 0;
      socket.on('world:resync', () => {
        // A snapshot reads every agent: one per socket per RESYNC_EVERY_MS, whatever a client sends.
        if (Date.now() - lastResync < RESYNC_EVERY_MS) return;
        lastResync = Date.now();
        void this.sendSnapshot((snapshot) => socket.emit('world:snapshot', snapshot));
      });
    });
    this.unsubscribe = this.events.subscribe((events) => this.enqueue(events));
  }

  private async sendSnapshot(send: (snapshot: WorldSnapshot) => void) {
    try {
      const [agents, recent] = await Promise.all([
        this.agents.all(),
        // Without Redis the snapshot still goes out, with an empty feed.
        this.events.recentFeed(RECENT_EVENTS).catch((error: unknown) => {
          this.logger.warn({ err: error }, 'could not read recent events for a snapshot');
          return [];
        }),
      ]);
      send({ tick: this.clock.tick, agents, recent });
    } catch (error) {
      this.logger.error({ err: error }, 'could not send a world snapshot to a viewer');
    }
  }

  private enqueue(events: WorldEvent[]) {
    this.pending.push(...events);
    this.flushTimer ??= setTimeout(() => this.flush(), this.config.VILLAGE_VIEWER_FLUSH_MS);
  }

  private flush() {
    this.flushTimer = undefined;
    if (this.pending.length === 0 || !this.world) return;
    const events = this.pending;
    this.pending = [];
    // Through the Redis adapter to every replica's viewers; while Redis is away, to ours at least.
    const world = this.redis.fanOutReady ? this.world : this.world.local;
    const byAudience = new Map<string, { rooms: string[]; events: WorldEvent[] }>();
    for (const event of events) {
      const rooms = audienceOf(event);
      const key = rooms === EVERYONE ? EVERYONE : rooms.join(' ');
      const group =
        byAudience.get(key) ?? byAudience.set(key, { rooms: rooms === EVERYONE ? [] : rooms, events: [] }).get(key)!;
      group.events.push(event);
    }
    for (const [key, group] of byAudience) {
      (key === EVERYONE ? world : world.to(group.rooms)).emit('world:changes', { events: group.events });
    }
  }

  async beforeApplicationShutdown() {
    this.unsubscribe?.();
    clearTimeout(this.flushTimer);
    this.flush();
    if (!this.io) return;
    // Close viewers' sockets but leave the HTTP server to Nest.
    this.io.local.disconnectSockets(true);
    this.io.engine.close();
  }
}

/** Who may see an event: the world is public; board events follow their post's audience. */
function audienceOf(event: WorldEvent): typeof EVERYONE | string[] {
  switch (event.type) {
    case 'post.created':
    case 'post.updated':
    case 'post.moderated':
      return roomsFor(event.post);
    case 'reply.created':
    case 'reply.moderated':
    case 'reply.marked_helpful':
      return roomsFor(event.post);
    case 'flag.created':
    case 'agent.tool_call':
    case 'agent.egress':
    case 'gpu.usage_billed':
    case 'gpu.samples_unattributed':
    case 'flows.deployed':
    case 'fleet.agent_changed':
    case 'fleet.node_changed':
    case 'fleet.kill_switch':
      return [MODERATORS_ROOM];
    default:
      // Payments (deposits, webhook deliveries, refusals) are operators' business.
      return PAYMENT_TYPES.has(event.type) ? [MODERATORS_ROOM] : EVERYONE;
  }
}

const PAYMENT_TYPES: ReadonlySet<string> = new Set(PAYMENT_EVENT_TYPES);
