// The real control plane for the agent runtime's tests: the built `control-plane/dist/src/main.js`
// run as a child process, as production runs one replica, on loopback, with its own fresh database
// and Redis prefix (from the shared `@ai-village/control-plane/testing` helpers). Nothing of the
// control plane itself is imported, only its contract; the tests talk to it over HTTP and socket.io
// like any agent or viewer.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { VillageClient } from '@ai-village/control-plane/contract';
import type { Agent, CreateAgentRequest } from '@ai-village/control-plane/contract';
import {
  TEST_POSTGRES_URL,
  TEST_REDIS_URL,
  createTestDatabase,
  deleteRedisKeys,
  freePort,
  testRedisPrefix,
} from '@ai-village/control-plane/testing';

export { eventually } from '@ai-village/control-plane/testing';

/** Compiled location: agent-image/dist/test/ → control-plane/dist/src/main.js. */
const MAIN = fileURLToPath(new URL('../../../control-plane/dist/src/main.js', import.meta.url));
const REPOSITORY = fileURLToPath(new URL('../../../', import.meta.url));

export const ADMIN_TOKEN = 'agent-image-test-admin-token-0123456789';

const START_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 10_000;
/** The last this many characters of the control plane's output are kept, for failure messages. */
const OUTPUT_KEPT = 20_000;

export interface ControlPlaneOptions {
  /** VILLAGE_TICK_MS: one tile of a walk per tick. Fast by default, so walks take a second or two. */
  tickMs?: number;
  /** More environment for the control plane (e.g. `VILLAGE_LLM_UPSTREAMS`). */
  env?: Record<string, string>;
}

export interface ControlPlane {
  readonly url: string;
  readonly port: number;
  /** A client with the admin token. */
  readonly admin: VillageClient;
  /** True between start and stop. */
  readonly running: boolean;
  /** Creates an agent with the admin token; the token is the one the runtime needs. */
  createAgent(request: CreateAgentRequest): Promise<Agent & { token: string }>;
  /** SIGTERM, and wait for the process to end (SIGKILL if it does not). */
  stop(): Promise<void>;
  /** Spawns the process again on the same port, database and Redis prefix; resolves once healthy. */
  start(): Promise<void>;
  /** stop, then start. */
  restart(): Promise<void>;
  /** Stops it, drops the database and deletes the Redis keys. */
  dispose(): Promise<void>;
  /** What the process wrote (stdout and stderr, the last part), for failure messages. */
  output(): string;
}

/** A fresh database and Redis prefix, and a control plane on a free loopback port, healthy. */
export async function startControlPlane(options: ControlPlaneOptions = {}): Promise<ControlPlane> {
  if (!existsSync(MAIN))
    throw new Error(`${MAIN} is missing: build the control plane first (npx tsc -b control-plane)`);
  const database = await createTestDatabase().catch((error: unknown) => {
    throw new Error(`cannot create a test database on ${TEST_POSTGRES_URL} (is PostgreSQL running?): ${String(error)}`);
  });
  const redisPrefix = testRedisPrefix();

  let child: ChildProcess | undefined;
  let output = '';
  let port = 0;
  let disposed = false;
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-OUTPUT_KEPT);
  };

  const env = () => ({
    PATH: process.env.PATH ?? '',
    DATABASE_URL: database.url,
    REDIS_URL: TEST_REDIS_URL,
    VILLAGE_REDIS_PREFIX: redisPrefix,
    VILLAGE_ADMIN_TOKEN: ADMIN_TOKEN,
    VILLAGE_TICK_MS: String(options.tickMs ?? 100),
    VILLAGE_CAST: '0',
    PORT: String(port),
    HOST: '127.0.0.1',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn',
    // The default flows act on the village (lunch at the café moves every agent): not in these tests.
    VILLAGE_FLOWS: 'false',
    ...options.env,
  });

  const spawnOnce = async (): Promise<void> => {
    const started = spawn(process.execPath, [MAIN], { cwd: REPOSITORY, env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
    child = started;
    // A crash later on shows as "not running" (and in output()).
    started.once('exit', () => {
      if (child === started) child = undefined;
    });
    started.stdout!.on('data', keep);
    started.stderr!.on('data', keep);
    const exited = once(started, 'exit').then(([code, signal]) => ({ code, signal }) as const);
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      const early = await Promise.race([exited, delay(50).then(() => undefined)]);
      if (early) {
        child = undefined;
        throw new Error(
          `the control plane exited during start (code ${early.code}, signal ${early.signal}):\n${output.slice(-4000)}`,
        );
      }
      const healthy = await fetch(`http://127.0.0.1:${port}/api/health`, { signal: AbortSignal.timeout(2000) })
        .then(async (response) => {
          await response.body?.cancel();
          return response.status === 200;
        })
        .catch(() => false);
      if (healthy) return;
      if (Date.now() > deadline) {
        started.kill('SIGKILL');
        child = undefined;
        throw new Error(`the control plane was not healthy within ${START_TIMEOUT_MS} ms:\n${output.slice(-4000)}`);
      }
    }
  };

  const stop = async (): Promise<void> => {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    const exited = once(running, 'exit');
    running.kill('SIGTERM');
    const timer = new AbortController();
    const stopped = await Promise.race([
      exited.then(() => true),
      delay(STOP_TIMEOUT_MS, false, { signal: timer.signal }),
    ]).finally(() => timer.abort());
    if (!stopped) {
      running.kill('SIGKILL');
      await exited;
      throw new Error(`the control plane did not stop within ${STOP_TIMEOUT_MS} ms of SIGTERM`);
    }
  };

  const start = async (): Promise<void> => {
    if (disposed) throw new Error('this control plane was disposed');
    if (child) throw new Error('the control plane is already running');
    await spawnOnce();
  };

  // A free port now may be taken by the time the child listens (other test files start in
  // parallel): try a few. Restarts keep the port, as a restarted replica would.
  for (let attempt = 1; ; attempt++) {
    port = await freePort();
    try {
      await spawnOnce();
      break;
    } catch (error) {
      if (attempt < 3 && /EADDRINUSE/.test(output)) continue;
      await deleteRedisKeys(redisPrefix).catch(() => undefined);
      await database.drop().catch(() => undefined);
      throw error;
    }
  }
  // A test process that dies without its after() hooks must not leave a village running.
  const killOnExit = () => child?.kill('SIGKILL');
  process.once('exit', killOnExit);

  const url = `http://127.0.0.1:${port}`;
  const admin = new VillageClient({ baseUrl: url, token: ADMIN_TOKEN });
  return {
    url,
    port,
    admin,
    get running() {
      return child !== undefined;
    },
    createAgent: (request) => admin.createAgent(request),
    stop,
    start,
    async restart() {
      await stop();
      await start();
    },
    async dispose() {
      if (disposed) return;
      disposed = true;
      try {
        await stop();
      } finally {
        process.removeListener('exit', killOnExit);
        await deleteRedisKeys(redisPrefix);
        await database.drop();
      }
    },
    output: () => output,
  };
}
