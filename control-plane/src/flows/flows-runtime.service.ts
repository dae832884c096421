import {
  Inject,
  Injectable,
  ServiceUnavailableException,
  type BeforeApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import RED from 'node-red';
import type { Logger } from 'pino';
import { AuthService } from '../auth/auth.service.js';
import type { Principal } from '../auth/principal.js';
import { CONFIG, type Config } from '../config/config.js';
import type { FlowDeploy } from '../contract/index.js';
import { DatabaseService } from '../database/database.service.js';
import { LOGGER } from '../logging/logger.js';
import { PATHS } from '../paths.js';
import { editorAuth } from './editor-auth.js';
import { FlowStore, type FlowConfig } from './flow-store.js';
import { NodeRedStorage, type VillageEditorUser } from './node-red-storage.js';

/** Where the editor and its admin API live; flows' own HTTP endpoints (http-in) live under it too. */
export const FLOWS_ROOT = '/flows';
const FLOWS_HTTP_ROOT = `${FLOWS_ROOT}/http`;

/** What the village nodes use when their connection names no URL or token (see nodes/README.md). */
export interface EmbeddedVillageConnection {
  baseUrl: string | undefined;
  token: string | undefined;
}

// Node-RED keeps its runtime in module state: one per process, never restarted once stopped.
let runtimeTaken = false;

// Node-RED's http-in node edits Express 4's router internals, so it gets the Express 4 it ships with,
// not Nest's Express 5 (docs/adr/0010-node-red-embedded.md).
const requireFromNodeRed = createRequire(createRequire(import.meta.url).resolve('node-red'));
const express4 = requireFromNodeRed('express') as () => ((req: IncomingMessage, res: ServerResponse) => void) & {
  use(...handlers: unknown[]): void;
  disable(setting: string): void;
};

/**
 * The embedded Node-RED: editor and admin API at /flows (admins only), the flows themselves in this
 * process, stored in PostgreSQL with an append-only deploy history. Requests under /flows go to
 * Node-RED's own Express app before Nest sees them; the runtime starts once the server listens,
 * because the village nodes call this control plane's public API on its own address.
 */
@Injectable()
export class FlowsRuntime implements OnModuleInit, BeforeApplicationShutdown {
  private storage: NodeRedStorage | undefined;
  private started: Promise<void> | undefined;
  private listening = false;
  private readonly connection: EmbeddedVillageConnection = { baseUrl: undefined, token: undefined };

  constructor(
    @Inject(CONFIG) private readonly config: Config,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly adapterHost: HttpAdapterHost,
    private readonly store: FlowStore,
    private readonly database: DatabaseService,
    private readonly auth: AuthService,
  ) {}

  /** True when the flows run in this replica. */
  get running() {
    return this.storage !== undefined;
  }

  /** Resolves once the flows are loaded and started (rejects if they could not start). */
  ready(): Promise<void> {
    if (!this.started) return Promise.reject(new Error('the flows do not run in this replica'));
    return this.started;
  }

  /** A node of the running flows, by id (for tests and diagnostics). */
  node<T>(id: string): T | undefined {
    return this.running ? ((RED.nodes.getNode(id) ?? undefined) as T | undefined) : undefined;
  }

  onModuleInit() {
    if (!this.config.VILLAGE_FLOWS) return;
    if (runtimeTaken) {
      this.logger.warn('Node-RED already runs in this process (one per process): the flows are off in this app');
      return;
    }
    runtimeTaken = true;
    if (!this.config.VILLAGE_FLOWS_CREDENTIAL_SECRET) {
      this.logger.warn(
        'VILLAGE_FLOWS_CREDENTIAL_SECRET is not set: Node-RED makes one up and keeps it in the database beside the credentials it encrypts',
      );
    }
    if (!this.config.VILLAGE_ADMIN_TOKEN) {
      this.logger.warn(
        'VILLAGE_ADMIN_TOKEN is not set: the village nodes have no token to act with unless a connection names one',
      );
    }
    this.connection.token = this.config.VILLAGE_ADMIN_TOKEN;
    const storage = new NodeRedStorage(this.store, loadDefaultFlows);
    this.storage = storage;
    const server = this.adapterHost.httpAdapter.getHttpServer() as Server;
    RED.init(server, this.settings(storage));
    const flowsApp = express4();
    flowsApp.disable('x-powered-by');
    flowsApp.use(FLOWS_ROOT, RED.httpAdmin);
    flowsApp.use(FLOWS_HTTP_ROOT, RED.httpNode);
    // What Node-RED's routes pass on (a malformed body, say): answered as JSON, not printed to stderr.
    flowsApp.use(
      (
        error: { status?: number; statusCode?: number; message?: string },
        _request: IncomingMessage,
        response: ServerResponse,
        _next: unknown,
      ) => {
        const status = error.status ?? error.statusCode ?? 500;
        if (status >= 500) this.logger.error({ err: error }, 'flow editor request failed');
        response.statusCode = status;
        response.setHeader('content-type', 'application/json');
        response.end(
          JSON.stringify({
            code: status < 500 ? 'bad_request' : 'internal_error',
            message: status < 500 ? error.message : 'internal error; see the server log',
          }),
        );
      },
    );
    routeFlowsRequests(server, flowsApp);
    this.started = new Promise<void>((resolve, reject) => {
      server.once('listening', () => {
        this.listening = true;
        this.connection.baseUrl = loopbackUrl(server.address() as AddressInfo);
        // start() resolves before the flows run; a stop in between would be undone by their start.
        RED.events.once('flows:started', () => resolve());
        RED.start().catch(reject);
      });
    });
    this.started.then(
      () => this.logger.info({ editor: `${this.connection.baseUrl}${FLOWS_ROOT}/` }, 'flows running'),
      (error: unknown) => this.logger.error({ err: error }, 'the flows did not start'),
    );
  }

  /** Runs an earlier deploy's flows again; recorded as a new deploy that names it. */
  async rollback(id: number, reason: string, principal: Principal): Promise<FlowDeploy> {
    const storage = this.storage;
    if (!storage) throw new ServiceUnavailableException('the flows do not run in this replica (VILLAGE_FLOWS=false)');
    await this.ready();
    const target = await this.store.rollbackTarget(id);
    await storage.saveCredentials(target.credentials);
    storage.pending = { kind: 'rollback', rollbackOf: id, reason };
    try {
      await RED.runtime.flows.setFlows({
        flows: { flows: target.flows, credentials: target.credentials },
        deploymentType: 'full',
        user: userOf(principal),
      });
    } finally {
      storage.pending = undefined;
    }
    const { items } = await this.store.list({ sort: { field: 'id', order: 'DESC' }, offset: 0, limit: 1, filter: {} });
    return items[0]!;
  }

  async beforeApplicationShutdown() {
    // Never listened, never started: nothing to stop.
    if (!this.started || !this.listening) return;
    // A stop that comes while the flows are still starting (a quick Ctrl-C, a busy machine) must not
    // hold the whole shutdown: each step gets a few seconds, then the process goes on without it.
    const settled = await within(
      this.started.catch(() => undefined),
      STOP_STEP_MS,
    );
    if (!settled) this.logger.warn(`the flows were still starting after ${STOP_STEP_MS} ms; stopping them anyway`);
    const stopped = await within(
      RED.stop().catch((error: unknown) => this.logger.warn({ err: error }, 'Node-RED did not stop cleanly')),
      STOP_STEP_MS,
    );
    if (!stopped) this.logger.warn(`Node-RED did not stop within ${STOP_STEP_MS} ms; leaving it`);
    await releaseSessionTimer();
  }

  private settings(storage: NodeRedStorage): Record<string, unknown> {
    const auth = editorAuth(this.database, this.auth);
    return {
      httpAdminRoot: FLOWS_ROOT,
      httpNodeRoot: FLOWS_HTTP_ROOT,
      // Node-RED's http-in endpoints answer admins only (httpNodeAuth is ignored when embedded).
      httpNodeMiddleware: (
        request: IncomingMessage & { headers: Record<string, string> },
        response: ServerResponse,
        next: () => void,
      ) => {
        const token = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? '')?.[1];
        void (token ? auth.tokens(token) : Promise.resolve(null)).then((user) => {
          if (user) return next();
          response.statusCode = 401;
          response.setHeader('content-type', 'application/json');
          response.end(JSON.stringify({ statusCode: 401, message: 'flow endpoints need an admin bearer token' }));
        });
      },
      userDir: nodeRedUserDir(this.config.VILLAGE_DATA_DIR),
      storageModule: storage,
      credentialSecret: this.config.VILLAGE_FLOWS_CREDENTIAL_SECRET,
      adminAuth: auth,
      // The village nodes read this when their connection is left empty: this control plane, as admin.
      villageConnection: this.connection,
      disableEditor: false,
      editorTheme: {
        page: { title: 'AI Village flows' },
        header: { title: 'AI Village flows' },
        tours: false,
        projects: { enabled: false },
      },
      // Nothing is installed from the editor or by a flow: the palette is what the village ships.
      externalModules: {
        autoInstall: false,
        palette: { allowInstall: false, allowUpdate: false, allowUpload: false },
        modules: { allowInstall: false },
      },
      functionExternalModules: false,
      telemetry: { enabled: false, updateNotification: false },
      diagnostics: { enabled: false, ui: false },
      runtimeState: { enabled: false, ui: false },
      logging: {
        village: {
          level: nodeRedLevel(this.config.LOG_LEVEL),
          audit: false,
          metrics: false,
          handler: () => this.logTo(),
        },
      },
    };
  }

  /** Node-RED's log lines into the control plane's pino logger. */
  private logTo() {
    const logger = this.logger.child({ service: 'node-red' });
    return (entry: { level: number; msg: unknown; type?: string; id?: string; name?: string }) => {
      const text = entry.msg instanceof Error ? entry.msg.message : String(entry.msg);
      const fields = { node: entry.id, nodeType: entry.type, nodeName: entry.name };
      if (entry.level <= 20) logger.error(fields, text);
      else if (entry.level <= 30) logger.warn(fields, text);
      else if (entry.level <= 40) logger.info(fields, text);
      else logger.debug(fields, text);
    };
  }
}

/**
 * Node-RED's editor keeps a timer for its next session expiry (up to EDITOR_SESSION_S away) that its
 * stop() leaves running, which would hold a stopped process open. Re-initialising its token store with
 * no sessions and reading it once clears that timer.
 */
async function releaseSessionTimer() {
  const tokens = requireFromNodeRed('@node-red/editor-api/lib/auth/tokens') as {
    init(settings: object, storage: object): Promise<void>;
    get(token: string): Promise<unknown>;
  };
  await tokens.init({}, { getSessions: async () => ({}), saveSessions: async () => undefined });
  await tokens.get('release-the-session-timer').catch(() => undefined);
}

/** Requests under /flows go to Node-RED's app; everything else to Nest's, as before. */
function routeFlowsRequests(server: Server, flowsApp: (req: IncomingMessage, res: ServerResponse) => void) {
  const nest = server.listeners('request') as ((req: IncomingMessage, res: ServerResponse) => void)[];
  server.removeAllListeners('request');
  server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    const url = request.url ?? '/';
    if (url === FLOWS_ROOT || url.startsWith(`${FLOWS_ROOT}/`) || url.startsWith(`${FLOWS_ROOT}?`)) {
      flowsApp(request, response);
    } else {
      for (const listener of nest) listener.call(server, request, response);
    }
  });
}

/** Node-RED's own folder (its flows and settings live in PostgreSQL; it still wants a package.json here). */
function nodeRedUserDir(dataDir: string): string {
  const dir = join(dataDir, 'node-red');
  mkdirSync(dir, { recursive: true });
  const manifest = join(dir, 'package.json');
  if (!existsSync(manifest)) {
    writeFileSync(
      manifest,
      `${JSON.stringify({ name: 'village-flows', private: true, description: 'Node-RED user folder of the AI Village control plane' }, null, 2)}\n`,
    );
  }
  return dir;
}

function loadDefaultFlows(): FlowConfig {
  return JSON.parse(readFileSync(PATHS.defaultFlows, 'utf8')) as FlowConfig;
}

function loopbackUrl(address: AddressInfo): string {
  const host = ['0.0.0.0', '::', ''].includes(address.address)
    ? '127.0.0.1'
    : address.address.includes(':')
      ? `[${address.address}]`
      : address.address;
  return `http://${host}:${address.port}`;
}

function userOf(principal: Principal): VillageEditorUser {
  return { username: principal.kind === 'user' ? principal.handle : 'admin-token', permissions: '*', principal };
}

function nodeRedLevel(level: Config['LOG_LEVEL']): string {
  return level === 'silent' ? 'off' : level;
}

/** How long each step of stopping the flows may take. */
const STOP_STEP_MS = 5_000;

/** Whether `promise` settled within `ms` (it is not cancelled otherwise). */
async function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
    timer.unref();
  });
  try {
    return await Promise.race([promise.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
