import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { VillageApiError, VillageClient, type Agent } from '../src/contract/index.js';
import OpenAI from 'openai';
import { startFakeUpstream, type FakeUpstream } from './support/fake-llm-upstream.js';
import { freePort } from './support/free-port.js';
import {
  createTestEnvironment,
  eventually,
  startTestApp,
  type TestApp,
  type TestEnvironment,
} from './support/test-app.js';

const MAIN = fileURLToPath(new URL('../src/main.js', import.meta.url));

/** A Redis of this test's own, so it can be stopped without touching anyone else's. */
class PrivateRedis {
  private child: ChildProcess | undefined;
  private readonly dir = mkdtempSync(join(tmpdir(), 'village-redis-'));
  constructor(readonly port: number) {}

  get url() {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start() {
    this.child = spawn(
      'redis-server',
      ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--dir', this.dir],
      {
        stdio: 'ignore',
      },
    );
    await eventually(
      () => spawnSync('redis-cli', ['-p', String(this.port), 'ping'], { encoding: 'utf8' }).stdout.trim() === 'PONG',
      'redis-server to answer',
    );
  }

  stop() {
    return new Promise<void>((resolve) => {
      if (!this.child || this.child.exitCode !== null) return resolve();
      this.child.once('exit', () => resolve());
      this.child.kill('SIGKILL');
    });
  }

  async dispose() {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

describe('Redis going away and coming back', () => {
  let redis: PrivateRedis;
  let environment: TestEnvironment;
  let village: TestApp;
  let ada: Agent & { token: string };
  let upstream: FakeUpstream;

  before(async () => {
    redis = new PrivateRedis(await freePort());
    await redis.start();
    upstream = await startFakeUpstream({ models: ['small'] });
    environment = await createTestEnvironment({
      REDIS_URL: redis.url,
      VILLAGE_TICK_MS: '200',
      VILLAGE_LLM_UPSTREAMS: JSON.stringify([
        { name: 'fake', baseUrl: upstream.baseUrl, models: ['small'], maxConcurrency: 2, timeoutMs: 2000 },
      ]),
    });
    village = await startTestApp(environment);
    ada = await village.admin.createAgent({ id: 'ada', displayName: 'Ada', spawn: { x: 5, y: 29 } });
  });

  after(async () => {
    await village?.close();
    await redis?.dispose();
    await environment?.database.drop();
    await upstream?.close();
  });

  test('the replica keeps serving, refuses what it cannot record, and recovers', async () => {
    const client = new VillageClient({ baseUrl: village.url, token: ada.token });
    await client.act('ada', { type: 'say', text: 'Before the outage.' });
    await redis.stop();

    const health = await client.health();
    assert.equal(health.status, 'degraded');
    assert.equal(health.checks.redis!.ok, false);
    // A step's record is PostgreSQL: it is still applied.
    const moved = await client.move('ada', { dx: 1 });
    assert.deepEqual(moved.position, { x: 6, y: 29 });
    // A said line's only record is the event stream: refused, not silently lost.
    await assert.rejects(client.act('ada', { type: 'say', text: 'During the outage.' }), (error: unknown) => {
      assert.ok(error instanceof VillageApiError);
      assert.equal(error.status, 503);
      return true;
    });

    // The gateway's limits guard money and GPUs: uncounted, a call is refused, not let through.
    const llm = new OpenAI({ baseURL: `${village.url}/v1`, apiKey: ada.token, maxRetries: 0, logLevel: 'off' });
    await assert.rejects(
      llm.chat.completions.create({ model: 'small', messages: [{ role: 'user', content: 'hi' }] }),
      (error: unknown) => {
        assert.ok(error instanceof OpenAI.APIError, String(error));
        assert.equal(error.status, 503);
        assert.equal(error.code, 'gateway_unavailable');
        return true;
      },
    );
    assert.equal(upstream.requests.length, 0);

    await redis.start();
    await eventually(async () => (await client.health()).status === 'ok', 'health to recover', 15_000);
    assert.ok(
      await llm.chat.completions.create({
        model: 'small',
        messages: [{ role: 'user', content: 'hi' }],
        max_tokens: 10,
      }),
    );
    await client.act('ada', { type: 'say', text: 'After the outage.' });
    const walk = await client.move('ada', { x: 9, y: 29 });
    await eventually(async () => (await client.agent('ada')).position.x === 9, 'the clock to walk again', 15_000);
    assert.equal(walk.outcome, 'walking');
  });

  test('a replica whose Redis does not answer at start-up exits with a message naming REDIS_URL', async () => {
    const closedPort = await freePort();
    const started = Date.now();
    const result = await new Promise<{ code: number | null; output: string }>((resolve) => {
      const child = spawn(process.execPath, [MAIN], {
        env: { ...process.env, ...environment.env, REDIS_URL: `redis://127.0.0.1:${closedPort}`, PORT: '0' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.on('exit', (code) => resolve({ code, output }));
    });
    assert.equal(result.code, 1, result.output);
    assert.match(result.output, /REDIS_URL/);
    assert.ok(Date.now() - started < 30_000);
  });
});
