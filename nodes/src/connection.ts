import { io, type Socket } from 'socket.io-client';
import {
  SOCKET_PATH,
  VillageClient,
  WORLD_NAMESPACE,
  type WorldClientToServerEvents,
  type WorldEvent,
  type WorldServerToClientEvents,
} from '@ai-village/control-plane/contract';
import type { Node, NodeAPI, NodeConfig } from './red.js';

export type EventListener = (event: WorldEvent) => void;
export type StateListener = (state: 'connected' | 'connecting' | 'disconnected', detail?: string) => void;

/** What a control plane running Node-RED inside itself offers its nodes (RED.settings.villageConnection). */
interface EmbeddedConnection {
  baseUrl?: string;
  token?: string;
}

/**
 * The `village-connection` config node: one control plane (URL, and a bearer token kept as a
 * credential), one API client and one event-stream socket shared by every node that uses it. The
 * socket opens when the first event node subscribes and closes with the node.
 */
export interface VillageConnection extends Node {
  /** Why the connection cannot be used (no URL, no token), or undefined. */
  problem: string | undefined;
  client: VillageClient;
  /** True while the event stream is connected. */
  connected: boolean;
  subscribe(onEvent: EventListener, onState: StateListener): () => void;
}

export default function register(RED: NodeAPI) {
  RED.nodes.registerType(
    'village-connection',
    function (this: Node, config: NodeConfig) {
      RED.nodes.createNode(this, config);
      const node = this as VillageConnection;
      const embedded = (RED.settings.villageConnection ?? {}) as EmbeddedConnection;
      const baseUrl = String(config.url ?? '').trim() || embedded.baseUrl;
      const token = node.credentials?.token || embedded.token;
      node.problem = !baseUrl
        ? 'no URL: give the control plane\u2019s URL'
        : !token
          ? 'no token: give a bearer token (the admin token, or an admin\u2019s)'
          : undefined;
      node.client = new VillageClient({ baseUrl: baseUrl ?? 'http://invalid', token, timeoutMs: 10_000 });
      node.connected = false;

      const listeners = new Set<{ onEvent: EventListener; onState: StateListener }>();
      let socket: Socket<WorldServerToClientEvents, WorldClientToServerEvents> | undefined;
      const tell = (state: 'connected' | 'connecting' | 'disconnected', detail?: string) => {
        for (const listener of listeners) listener.onState(state, detail);
      };
      const open = () => {
        socket = io(`${baseUrl}${WORLD_NAMESPACE}`, {
          path: SOCKET_PATH,
          transports: ['websocket'],
          auth: { token },
          reconnectionDelayMax: 5_000,
        });
        socket.on('connect', () => {
          node.connected = true;
          tell('connected');
        });
        socket.on('disconnect', (reason) => {
          node.connected = false;
          tell('disconnected', reason);
        });
        socket.on('connect_error', (error) => tell('disconnected', error.message));
        socket.on('world:changes', (changes) => {
          for (const event of changes.events) for (const listener of listeners) listener.onEvent(event);
        });
      };

      node.subscribe = (onEvent, onState) => {
        const listener = { onEvent, onState };
        listeners.add(listener);
        if (node.problem) onState('disconnected', node.problem);
        else if (!socket) {
          onState('connecting');
          open();
        } else onState(node.connected ? 'connected' : 'connecting');
        return () => listeners.delete(listener);
      };

      node.on('close', (_removed, done) => {
        listeners.clear();
        socket?.close();
        socket = undefined;
        node.connected = false;
        done();
      });
    },
    { credentials: { token: { type: 'password' } } },
  );
}
