import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createTestDatabase, deleteRedisKeys, TEST_REDIS_URL, testRedisPrefix } from '../test/support/test-database.js';
import { freePort } from '../test/support/free-port.js';
import { LoadClient } from './load.js';

export const BENCH_ADMIN_TOKEN = 'bench-admin-token-0123456789abcdef';
// BENCH_SERVER_MAIN: another build's dist/src/main.js, to compare a change with the same load.
const MAIN = process.env.BENCH_SERVER_MAIN ?? fileURLToPath(new URL('../src/main.js', import.meta.url));

export interface RunningControlPlane {
  base: URL;
  databaseUrl: string;
  databaseName: string;
  redisPrefix: string;
  client: LoadClient;
  pid: number;
  /**
   * Stops the process, then drops the database (unless kept) and the run's Redis keys (a replica
   * started with `sharing` leaves both to the process it shares them with). Safe to call twice.
   */
  stop(options?: { keepDatabase?: boolean }): Promise<void>;
}

/**
 * One control-plane process (its own Node, as in production) on a fresh database and Redis prefix,
 * listening on 127.0.0.1 only. BENCH_NODE_ARGS adds Node flags; BENCH_PROFILE=<dir> writes a CPU profile.
 * `sharing`: another replica of the same village instead, on that one's database and Redis prefix.
 */
export async function startControlPlane(
  env: Record<string, string> = {},
  { sharing }: { sharing?: RunningControlPlane } = {},
): Promise<RunningControlPlane> {
  const database = sharing
    ? { url: sharing.databaseUrl, name: sharing.databaseName, drop: () => Promise.resolve() }
    : await createTestDatabase();
  const redisPrefix = sharing?.redisPrefix ?? testRedisPrefix();
  const port = await freePort();
  const base = new URL(`http://127.0.0.1:${port}`);
  const profile = process.env.BENCH_PROFILE ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_PROFILE] : [];
  const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
  let server: ChildProcess | undefined;
  const client = new LoadClient(base);
  let stopped: Promise<void> | undefined;
  const stop = (options: { keepDatabase?: boolean } = {}) =>
    (stopped ??= (async () => {
      client.close();
      if (server && server.exitCode === null && server.signalCode === null) {
        const exited = new Promise((resolve) => server!.once('exit', resolve));
        server.kill('SIGTERM');
        await exited;
      }
      if (sharing) return;
      if (options.keepDatabase) console.log(`kept the database: ${database.url}`);
      else await database.drop();
      await deleteRedisKeys(redisPrefix);
    })());
  try {
    server = spawn(process.execPath, [...nodeArgs, ...profile, MAIN], {
      env: {
        ...process.env,
        DATABASE_URL: database.url,
        REDIS_URL: TEST_REDIS_URL,
        VILLAGE_REDIS_PREFIX: redisPrefix,
        VILLAGE_ADMIN_TOKEN: BENCH_ADMIN_TOKEN,
        PORT: String(port),
        HOST: '127.0.0.1',
        LOG_LEVEL: 'warn',
        VILLAGE_OFFLINE_AFTER_MS: '600000',
        // The default flows act on the village (lunch at the café...): only the flows benchmark runs them.
        VILLAGE_FLOWS: 'false',
        ...env,
      },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    await waitForHealth(client, server);
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    base,
    databaseUrl: database.url,
    databaseName: database.name,
    redisPrefix,
    client,
    pid: server.pid!,
    stop,
  };
}

async function waitForHealth(client: LoadClient, server: ChildProcess) {
  for (let i = 0; i < 300; i++) {
    if (server.exitCode !== null) throw new Error(`the control plane exited with ${server.exitCode}`);
    try {
      if ((await client.request('GET', '/api/health')).status === 200) return;
    } catch {
      /* not up yet */
    }
    await sleep(100);
  }
  throw new Error('the control plane did not start within 30 s');
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
