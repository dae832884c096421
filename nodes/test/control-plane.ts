// A real control plane for the village nodes' tests: the built control-plane/dist/src/main.js as a
// child process on loopback, with a fresh database and Redis prefix, as a standalone Node-RED would
// meet it. Only the contract and the shared test helpers are imported, never the control plane itself.
// (agent-image/test/control-plane-process.ts does the same for the agent runtime, with restarts.)
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { VillageClient } from '@ai-village/control-plane/contract';
import {
  createTestDatabase,
  deleteRedisKeys,
  freePort,
  TEST_REDIS_URL,
  testRedisPrefix,
} from '@ai-village/control-plane/testing';

const MAIN = fileURLToPath(new URL('../../../control-plane/dist/src/main.js', import.meta.url));
export const ADMIN_TOKEN = 'nodes-test-admin-token-0123456789abcdef';

export interface ControlPlane {
  url: string;
  admin: VillageClient;
  output(): string;
  dispose(): Promise<void>;
}

export async function startControlPlane(env: Record<string, string> = {}): Promise<ControlPlane> {
  const database = await createTestDatabase();
  const redisPrefix = testRedisPrefix();
  const port = await freePort();
  let output = '';
  const child: ChildProcess = spawn(process.execPath, [MAIN], {
    env: {
      PATH: process.env.PATH ?? '',
      DATABASE_URL: database.url,
      REDIS_URL: TEST_REDIS_URL,
      VILLAGE_REDIS_PREFIX: redisPrefix,
      VILLAGE_ADMIN_TOKEN: ADMIN_TOKEN,
      VILLAGE_FLOWS: 'false',
      VILLAGE_TICK_MS: '100',
      VILLAGE_SIGN_UP_LIMIT: '10000',
      VILLAGE_SIGN_IN_LIMIT: '10000',
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const keep = (chunk: Buffer) => (output = (output + chunk.toString('utf8')).slice(-20_000));
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const url = `http://127.0.0.1:${port}`;
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const dispose = async () => {
    process.removeListener('exit', killOnExit);
    if (child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
    }
    await deleteRedisKeys(redisPrefix);
    await database.drop();
  };
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) {
      await dispose();
      throw new Error(`the control plane exited during start:\n${output.slice(-3000)}`);
    }
    const healthy = await fetch(`${url}/api/health`)
      .then((response) => response.status === 200)
      .catch(() => false);
    if (healthy) break;
    if (Date.now() > deadline) {
      await dispose();
      throw new Error(`the control plane did not become healthy:\n${output.slice(-3000)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { url, admin: new VillageClient({ baseUrl: url, token: ADMIN_TOKEN }), output: () => output, dispose };
}
