import type { NestExpressApplication } from '@nestjs/platform-express';
import type { AddressInfo } from 'node:net';
import { createApp } from '../../src/app.js';
import { loadConfig, type Config } from '../../src/config/config.js';
import { closeApp } from '../../src/lifecycle/close-app.js';
import { createLogger } from '../../src/logging/logger.js';
import { VillageClient } from '../../src/contract/index.js';
import {
  createTestDatabase,
  deleteRedisKeys,
  TEST_REDIS_URL,
  testRedisPrefix,
  type TestDatabase,
} from './test-database.js';

export { eventually } from './eventually.js';

export const ADMIN_TOKEN = 'test-admin-token-0123456789abcdef';

export interface TestApp {
  app: NestExpressApplication;
  config: Config;
  url: string;
  admin: VillageClient;
  /** Stops the app (and, for the owner of the environment, drops the database and Redis keys). */
  close(): Promise<void>;
}

export interface TestEnvironment {
  database: TestDatabase;
  redisPrefix: string;
  env: Record<string, string>;
  dispose(): Promise<void>;
}

/** An isolated database and Redis prefix, shared by the replicas of one test file. */
export async function createTestEnvironment(overrides: Record<string, string> = {}): Promise<TestEnvironment> {
  const database = await createTestDatabase();
  const redisPrefix = testRedisPrefix();
  const env = {
    DATABASE_URL: database.url,
    REDIS_URL: TEST_REDIS_URL,
    VILLAGE_REDIS_PREFIX: redisPrefix,
    VILLAGE_ADMIN_TOKEN: ADMIN_TOKEN,
    VILLAGE_CAST: '0',
    VILLAGE_JWT_SECRET: 'test-jwt-secret-0123456789abcdefghijklmnop',
    // Tests sign many people up from one address; the rate-limit test sets its own limits.
    VILLAGE_SIGN_UP_LIMIT: '10000',
    VILLAGE_SIGN_IN_LIMIT: '10000',
    // One Node-RED per process, and the default flows act on the village: only the flows tests run them.
    VILLAGE_FLOWS: 'false',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn',
    HOST: '127.0.0.1',
    PORT: '0',
    ...overrides,
  };
  return {
    database,
    redisPrefix,
    env,
    async dispose() {
      await deleteRedisKeys(redisPrefix);
      await database.drop();
    },
  };
}

/** Starts a control plane through the production bootstrap (createApp), listening on loopback. */
export async function startTestApp(
  environment: TestEnvironment,
  overrides: Record<string, string> = {},
): Promise<TestApp> {
  const config = loadConfig({ ...environment.env, ...overrides });
  const logger = createLogger(config.LOG_LEVEL, config.VILLAGE_REPLICA_ID);
  const app = await createApp(config, logger);
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  return {
    app,
    config,
    url,
    admin: new VillageClient({ baseUrl: url, token: ADMIN_TOKEN }),
    // As the village stops: a client that keeps its connection busy (an agent polling) cannot hold it open.
    close: () => closeApp(app),
  };
}

/** A new person, signed in with a bearer session; their client carries the access token. */
export async function signUpPerson(baseUrl: string, handle: string) {
  const client = new VillageClient({ baseUrl });
  const session = await client.signUp({
    handle,
    email: `${handle}@village.test`,
    password: 'correct horse battery',
    session: 'bearer',
  });
  client.setToken(session.accessToken);
  return { client, session, user: session.user };
}
