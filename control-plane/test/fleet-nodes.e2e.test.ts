// Nodes through the API, without an engine: registering each kind of engine, the TLS key sealed at
// rest and never shown (not in answers, lists or the audit log), updates audited, refusals that say
// what is wrong and change nothing, and the kill switch's holds on an agent the fleet does not run.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { VillageApiError, VillageClient } from '../src/contract/index.js';
import { FleetAgentsService } from '../src/fleet/fleet-agents.service.js';
import { makeTls } from './support/second-engine.js';
import { createTestEnvironment, startTestApp, type TestApp, type TestEnvironment } from './support/test-app.js';

describe('nodes and holds through the API', () => {
  let environment: TestEnvironment;
  let app: TestApp;
  let tls: Awaited<ReturnType<typeof makeTls>>;
  let dir: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'village-node-tls-'));
    tls = await makeTls(dir);
    environment = await createTestEnvironment({ VILLAGE_SECRETS_KEY: randomBytes(32).toString('base64url') });
    app = await startTestApp(environment);
  });
  after(async () => {
    await app?.close();
    await environment?.dispose();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function refusal(call: Promise<unknown>, status: number, message: RegExp) {
    const error = await call.then(
      () => undefined,
      (error: unknown) => error,
    );
    assert.ok(error instanceof VillageApiError, `refused with ${status}`);
    assert.equal(error.status, status, error.message);
    assert.match(error.body?.message ?? '', message);
  }

  test('a remote engine is registered with TLS; its key is sealed and never returned', async () => {
    const { node, token } = await app.admin.registerNode({
      name: 'sparky2',
      labels: { gpu: 'h200' },
      engine: { kind: 'tcp', host: 'sparky2.example', tls: { ca: tls.ca, cert: tls.clientCert, key: tls.clientKey } },
    });
    assert.match(token, /^vnt_/);
    assert.equal(node.id, 'sparky2');
    assert.deepEqual(node.agentNetwork, { mode: 'egress-proxy', egressDir: '/run/village/egress' });
    assert.equal(node.engine.kind, 'tcp');
    if (node.engine.kind === 'tcp') {
      assert.equal(node.engine.port, 2376, 'Docker’s TLS port by default');
      assert.match(node.engine.tls.caSha256, /^[0-9a-f]{64}$/);
      assert.equal(node.engine.tls.keySealed, true);
    }
    assert.equal(node.state, 'unknown');
    const everything = JSON.stringify([
      node,
      (await app.admin.nodes()).items,
      await app.admin.node('sparky2'),
      (await app.admin.audit({ filter: { subjectType: 'node' } })).items,
    ]);
    assert.doesNotMatch(everything, /PRIVATE KEY|BEGIN CERTIFICATE/);
    // At rest: sealed, not the PEM.
    const client = new pg.Client({ connectionString: environment.database.url });
    await client.connect();
    try {
      const { rows } = await client.query<{ engine_tls_key: string }>(
        `SELECT engine_tls_key FROM nodes WHERE name = 'sparky2'`,
      );
      assert.match(rows[0]!.engine_tls_key, /^v1\./);
      assert.doesNotMatch(rows[0]!.engine_tls_key, /PRIVATE KEY/);
    } finally {
      await client.end();
    }
  });

  test('updates are audited; refusals say what is wrong and change nothing', async () => {
    const updated = await app.admin.updateNode('sparky2', { cordoned: true, labels: { gpu: 'h200', zone: 'b' } });
    assert.equal(updated.cordoned, true);
    assert.deepEqual(updated.labels, { gpu: 'h200', zone: 'b' });
    const audit = await app.admin.audit({ filter: { action: 'node.updated', subjectId: 'sparky2' } });
    assert.equal(audit.total, 1);
    assert.deepEqual((audit.items[0]!.after as { cordoned: boolean }).cordoned, true);

    await refusal(
      app.admin.registerNode({ name: 'plain', engine: { kind: 'tcp', host: '10.0.0.9', port: 2375 } as never }),
      400,
      /tls/,
    );
    await refusal(
      app.admin.registerNode({
        name: 'badcert',
        engine: {
          kind: 'tcp',
          host: 'x',
          tls: {
            ca: '-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----',
            cert: tls.clientCert,
            key: tls.clientKey,
          },
        },
      }),
      422,
      /tls.ca is not a readable certificate/,
    );
    await refusal(
      app.admin.registerNode({ name: 'rel', engine: { kind: 'socket', socketPath: 'docker.sock' } }),
      400,
      /socketPath must be an absolute/,
    );
    await refusal(
      app.admin.registerNode({ name: 'hostnet', agentNetwork: { mode: 'host', villageUrl: 'ftp://x' } as never }),
      400,
      /villageUrl/,
    );
    await refusal(app.admin.updateNode('sparky2', {}), 400, /at least one/);
    await refusal(app.admin.updateNode('nowhere', { cordoned: false }), 404, /no node named "nowhere"/);
    await refusal(app.admin.registerNode({ name: 'sparky2' }), 409, /already a node named/);
    assert.deepEqual(
      (await app.admin.nodes()).items.map((node) => node.name),
      ['sparky2'],
    );
    // Without VILLAGE_SECRETS_KEY a key cannot be stored.
    const bare = await startTestApp(environment, { VILLAGE_SECRETS_KEY: '' });
    try {
      await refusal(
        bare.admin.registerNode({
          name: 'nokey',
          engine: { kind: 'tcp', host: 'x', tls: { ca: tls.ca, cert: tls.clientCert, key: tls.clientKey } },
        }),
        409,
        /VILLAGE_SECRETS_KEY/,
      );
      // And a sealed key it cannot open makes the node unusable, said plainly.
      const placement = await bare.admin
        .createAgent({ id: 'lonely', displayName: 'Lonely' })
        .then(() => bare.admin.startFleetAgent('lonely', { node: 'sparky2' }))
        .catch((error: VillageApiError) => error);
      assert.ok(placement instanceof VillageApiError);
      assert.match(placement.body?.message ?? '', /TLS key of node sparky2 cannot be opened/);
    } finally {
      await bare.close();
    }
  });

  test('the kill switch holds an agent the fleet does not run: its token is revoked and stays so until released', async () => {
    const { token } = await app.admin.createAgent({ id: 'walker', displayName: 'Walker' });
    const walker = new VillageClient({ baseUrl: app.url, token });
    await walker.mail('walker');
    const fleet = app.app.get(FleetAgentsService);
    assert.equal(await fleet.isHeld('walker'), false);

    const revoked = await app.admin.killSwitch('walker', 'revoke-token', { reason: 'leaked' });
    assert.equal(revoked.node, null);
    assert.equal(revoked.desired, 'stopped');
    await assert.rejects(walker.mail('walker'), (error: VillageApiError) => error.status === 401);
    assert.equal(await fleet.isHeld('walker'), true, 'a launcher must not hand it a new token');
    await refusal(app.admin.killSwitch('walker', 'freeze', { reason: 'x' }), 409, /walker is stopped/);

    const quarantined = await app.admin.killSwitch('walker', 'quarantine', { reason: 'looks bad' });
    assert.equal(quarantined.desired, 'quarantined');
    assert.equal((await app.admin.agent('walker')).economy.tier.quarantined, true);
    const released = await app.admin.killSwitch('walker', 'release', { reason: 'fine after all' });
    assert.equal(released.desired, 'running');
    assert.equal(released.node, null, 'still not run by the fleet');
    assert.equal((await app.admin.agent('walker')).economy.tier.quarantined, false);
    assert.equal(await fleet.isHeld('walker'), false);
    await refusal(
      app.admin.killSwitch('walker', 'release', { reason: 'again' }),
      409,
      /neither quarantined nor stopped/,
    );
    const actions = (await app.admin.audit({ filter: { subjectId: 'walker' } })).items.map((entry) => entry.action);
    for (const action of ['kill_switch.revoke_token', 'kill_switch.quarantine', 'kill_switch.release']) {
      assert.ok(actions.includes(action), `${action} in ${actions.join(', ')}`);
    }
    // Moderators see the fleet's list, ra-data-simple-rest style.
    const page = await app.admin.fleetAgents({
      sort: ['agentId', 'ASC'],
      range: [0, 9],
      filter: { desired: 'running' },
    });
    assert.deepEqual(
      page.items.map((agent) => agent.id),
      ['walker'],
    );
    assert.equal(page.total, 1);
  });
});
