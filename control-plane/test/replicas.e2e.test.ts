import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { VillageClient, type Agent } from '../src/contract/index.js';
import { TEST_REDIS_URL } from './support/test-database.js';
import { ADMIN_TOKEN, createTestEnvironment, eventually, type TestEnvironment } from './support/test-app.js';
import { TestViewer } from './support/viewer.js';
import { freePort } from './support/free-port.js';

const MAIN = fileURLToPath(new URL('../src/main.js', import.meta.url));

/** A control-plane replica as its own process (so it can really die), through the production main. */
class Replica {
  readonly process: ChildProcess;
  readonly url: string;
  output = '';

  constructor(
    readonly name: string,
    port: number,
    env: Record<string, string>,
  ) {
    this.url = `http://127.0.0.1:${port}`;
    this.process = spawn(process.execPath, [MAIN], {
      env: { ...process.env, ...env, PORT: String(port), VILLAGE_REPLICA_ID: name, LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.process.stdout!.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    this.process.stderr!.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
  }

  healthy() {
    return eventually(
      async () => (await fetch(`${this.url}/api/health`)).ok,
      `${this.name} to answer /api/health (output so far: ${this.output.slice(-500)})`,
      20_000,
    );
  }

  kill(signal: NodeJS.Signals) {
    return new Promise<void>((resolve) => {
      if (this.process.exitCode !== null || this.process.signalCode !== null) return resolve();
      this.process.once('exit', () => resolve());
      this.process.kill(signal);
    });
  }
}

describe('two control-plane replicas on one PostgreSQL and Redis', () => {
  let environment: TestEnvironment;
  let a: Replica;
  let b: Replica;
  let redis: Redis;
  let walker: Agent & { token: string };
  const viewers: TestViewer[] = [];

  before(async () => {
    environment = await createTestEnvironment({ VILLAGE_TICK_MS: '200' });
    a = new Replica('replica-a', await freePort(), environment.env);
    await a.healthy(); // the first one migrates; the second then finds nothing to do
    b = new Replica('replica-b', await freePort(), environment.env);
    await b.healthy();
    redis = new Redis(TEST_REDIS_URL);
    walker = await new VillageClient({ baseUrl: a.url, token: ADMIN_TOKEN }).createAgent({
      id: 'walker',
      displayName: 'Walker',
      spawn: { x: 5, y: 29 }, // on the main street, which runs the whole width at y = 29
    });
  });

  after(async () => {
    for (const viewer of viewers) viewer.close();
    await Promise.all([a?.kill('SIGTERM'), b?.kill('SIGTERM')]);
    redis?.disconnect();
    await environment?.dispose();
  });

  test('a viewer on one replica sees moves sent to the other', async () => {
    const viewer = new TestViewer(a.url);
    viewers.push(viewer);
    await viewer.ready();
    const client = new VillageClient({ baseUrl: b.url, token: walker.token });
    const moved = await client.move('walker', { dx: 1 });
    const seen = await viewer.waitFor('agent.moved', (e) => e.agentId === 'walker' && e.version === moved.version);
    assert.deepEqual(seen.position, moved.position);
  });

  test('moves sent to either replica are each applied exactly once', async () => {
    const before = await new VillageClient({ baseUrl: a.url }).agent('walker');
    const clients = [a, b].map((replica) => new VillageClient({ baseUrl: replica.url, token: walker.token }));
    const steps = [1, 1, 1, 1, -1, -1, -1, -1]; // in whatever order they land, x stays on the street
    await Promise.all(steps.map((dx, i) => clients[i % 2]!.move('walker', { dx })));
    const after = await new VillageClient({ baseUrl: b.url }).agent('walker');
    assert.equal(after.version, before.version + steps.length, 'one version per accepted step');
    assert.deepEqual(after.position, before.position, 'the steps cancel out exactly');
  });

  test('a rotated token stops working on every replica at once', async () => {
    const admin = new VillageClient({ baseUrl: a.url, token: ADMIN_TOKEN });
    const created = await admin.createAgent({ id: 'rotor', displayName: 'Rotor' });
    // Replica b has now seen (and cached) the first token.
    await new VillageClient({ baseUrl: b.url, token: created.token }).act('rotor', { type: 'emote', emote: 'wave' });
    const rotated = await fetch(`${a.url}/api/agents/rotor/token`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    assert.equal(rotated.status, 201);
    const refusedAt = Date.now();
    await eventually(
      async () =>
        (
          await fetch(`${b.url}/api/agents/rotor/action`, {
            method: 'POST',
            headers: { authorization: `Bearer ${created.token}`, 'content-type': 'application/json' },
            body: JSON.stringify({ type: 'emote', emote: 'sad' }),
          })
        ).status === 401,
      'the old token to be refused on the other replica',
      3_000,
    );
    assert.ok(Date.now() - refusedAt < 3_000);
  });

  test('exactly one replica runs the clock, and the other takes over within seconds when it dies', async () => {
    const leaderKey = `${environment.redisPrefix}clock:leader`;
    const leaderName = await eventually(() => redis.get(leaderKey), 'a clock leader');
    const [leader, follower] = leaderName === a.name ? [a, b] : [b, a];

    const viewer = new TestViewer(follower.url);
    viewers.push(viewer);
    await viewer.ready();
    // A long walk: east along the main street.
    const client = new VillageClient({ baseUrl: follower.url, token: walker.token });
    const walk = await client.move('walker', { x: 79, y: 29 });
    assert.equal(walk.outcome, 'walking');
    await viewer.waitFor('agent.moved', (e) => e.agentId === 'walker' && e.remaining < walk.eta);

    // Ticks come at most once per period, even with two replicas running the loop.
    const tickEvents = () => viewer.events.filter((e) => e.type === 'world.tick').map((e) => e.tick);
    await eventually(() => tickEvents().length >= 5, 'five ticks');
    const ticks = tickEvents();
    assert.deepEqual(
      ticks,
      [...new Set(ticks)].sort((x, y) => x - y),
      'every tick once, in order',
    );

    await leader.kill('SIGKILL');
    const killedAt = Date.now();
    const lastTick = Math.max(...tickEvents());
    await eventually(() => tickEvents().some((t) => t > lastTick), 'a tick from the new leader', 10_000);
    const takeoverMs = Date.now() - killedAt;
    assert.ok(takeoverMs < 8_000, `takeover took ${takeoverMs} ms`);
    assert.equal(await redis.get(leaderKey), follower.name);

    // The walk goes on under the new leader, one tile per tick, and finishes.
    await viewer.waitFor('agent.arrived', (e) => e.agentId === 'walker', 30_000);
    const done = await client.agent('walker');
    assert.deepEqual(done.position, { x: 79, y: 29 });
    const steps = viewer.events.filter(
      (e) => e.type === 'agent.moved' && e.agentId === 'walker' && e.remaining < walk.eta + 1,
    );
    const versions = steps.map((e) => (e.type === 'agent.moved' ? e.version : 0));
    assert.equal(new Set(versions).size, versions.length, 'no step applied twice');
  });
  test('a replica stopped with SIGTERM shuts down cleanly and gives the clock back', async () => {
    const leaderKey = `${environment.redisPrefix}clock:leader`;
    const survivor = [a, b].find(
      (replica) => replica.process.exitCode === null && replica.process.signalCode === null,
    )!;
    assert.equal(await redis.get(leaderKey), survivor.name);
    const exited = new Promise<number | null>((resolve) => survivor.process.once('exit', (code) => resolve(code)));
    survivor.process.kill('SIGTERM');
    assert.equal(await exited, 0, `exit code (output: ${survivor.output.slice(-1000)})`);
    assert.equal(await redis.get(leaderKey), null, 'the lease is released, not left to expire');
  });
});
