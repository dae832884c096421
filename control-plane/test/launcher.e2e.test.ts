import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { VillageClient } from '../src/contract/index.js';
import { eventually } from './support/test-app.js';
import { freePort } from './support/free-port.js';
import { startVillage, stopVillage } from './support/village-process.js';

/** `npm start`'s program with no DATABASE_URL or REDIS_URL: everything embedded, as a newcomer gets it. */
describe('the one-command village (npm start)', () => {
  let dataDir: string;
  let ports: { http: number; postgres: number; redis: number };

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'village-start-'));
    ports = { http: await freePort(), postgres: await freePort(), redis: await freePort() };
  });
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  const start = () =>
    startVillage(dataDir, ports, {
      VILLAGE_CAST: '2',
      // The cast as processes, whatever engine or image this machine has (containers: fleet-launcher.e2e.test.ts).
      VILLAGE_AGENT_RUNTIME: 'processes',
    });
  const stop = stopVillage;

  /** Runs `body` against a started village, then stops it: a failure in `body` is reported as it is,
   *  and only a body that passed also requires a clean exit (0). */
  async function withVillage(body: (village: ReturnType<typeof start>) => Promise<void>): Promise<void> {
    const village = start();
    let failure: unknown;
    try {
      await body(village);
    } catch (error) {
      failure = error;
    }
    const code = await stop(village.child);
    if (failure) throw failure;
    assert.equal(code, 0, `clean exit (output: ${village.output().slice(-2000)})`);
  }

  test('starts PostgreSQL, Redis, the control plane and the cast, and resumes after a restart', async () => {
    await withVillage(async (first) => {
      await eventually(
        () => first.output().includes('AI Village is running at'),
        `the banner (output: ${first.output()})`,
        90_000,
      );
      assert.match(first.output(), new RegExp(`http://localhost:${ports.http}/`));
      const village = new VillageClient({ baseUrl: `http://127.0.0.1:${ports.http}` });
      const health = await village.health();
      assert.equal(health.status, 'ok');
      // Both built-in agents come online and walk somewhere, driven by their own runtime processes.
      await eventually(
        async () => {
          const agents = (await village.world()).agents;
          return agents.length === 2 && agents.every((a) => a.status.online && (a.version > 0 || a.walking));
        },
        'two cast agents online and walking',
        60_000,
      );
      const page = await fetch(`http://127.0.0.1:${ports.http}/`);
      assert.match(await page.text(), /<html/i, 'the map is served at /');
      const adminToken = readFileSync(join(dataDir, 'admin-token'), 'utf8').trim();
      assert.ok(adminToken.length >= 24, 'an admin token was generated and kept');
    });

    await withVillage(async (second) => {
      await eventually(() => second.output().includes('AI Village is running at'), 'the banner again', 90_000);
      const village = new VillageClient({ baseUrl: `http://127.0.0.1:${ports.http}` });
      const world = await village.world();
      assert.deepEqual(world.agents.map((a) => a.id).sort(), ['ada', 'basil'], 'the same agents, not new ones');
      assert.ok(world.clock.tick > 0, 'the clock resumed');
      await eventually(
        async () => (await village.world()).agents.every((a) => a.status.online),
        'the cast to come back online with their kept tokens',
        30_000,
      );
    });
  });

  test('gives a cast agent whose token an admin rotated a new token and restarts it at once', async () => {
    await withVillage(async (running) => {
      await eventually(() => running.output().includes('AI Village is running at'), 'the banner', 90_000);
      const baseUrl = `http://127.0.0.1:${ports.http}`;
      const village = new VillageClient({ baseUrl });
      await eventually(
        async () => (await village.world()).agents.every((a) => a.status.online),
        'the cast online',
        30_000,
      );
      const tokenFile = join(dataDir, 'cast', 'ada.token');
      const kept = readFileSync(tokenFile, 'utf8').trim();
      const adminToken = readFileSync(join(dataDir, 'admin-token'), 'utf8').trim();

      // An admin rotates Ada's token: her runtime's next request is refused and it exits 3.
      const rotated = await fetch(`${baseUrl}/api/agents/ada/token`, {
        method: 'POST',
        headers: { authorization: `Bearer ${adminToken}` },
      });
      assert.equal(rotated.status, 201, await rotated.clone().text());
      const { token: adminMinted } = (await rotated.json()) as { token: string };

      const renewed = await eventually(
        () => {
          const now = readFileSync(tokenFile, 'utf8').trim();
          return now !== kept && now !== adminMinted ? now : undefined;
        },
        `a new token in ${tokenFile} (output: ${running.output().slice(-2000)})`,
        20_000,
      );
      const renewedAt = Date.now();
      assert.equal(statSync(tokenFile).mode & 0o777, 0o600);
      // The log line follows the token file (the logger writes asynchronously), so wait for it too.
      await eventually(
        () => /token was refused/.test(running.output()),
        'the launcher says why it restarted the runtime',
        10_000,
      );

      // The restarted runtime lives with the new token: the village sees Ada again after the renewal.
      await eventually(
        async () => {
          const ada = await village.agent('ada');
          return ada.status.online && Date.parse(ada.status.lastSeenAt ?? '') > renewedAt;
        },
        'Ada back online with her new token',
        20_000,
      );
      const asAda = await fetch(`${baseUrl}/api/agents/ada/move`, {
        method: 'POST',
        headers: { authorization: `Bearer ${adminMinted}`, 'content-type': 'application/json' },
        body: JSON.stringify({ landmark: 'cafe' }),
      });
      assert.equal(asAda.status, 401, 'the token the admin minted was replaced in turn');
      assert.ok(renewed.length >= 24);
    });
  });
});
