// The fleet on a real Docker engine: agents run in containers with no network (the node's real egress
// daemon is their way to the village), the reconcile loop keeps the containers equal to the database
// (a killed one replaced, a stray removed, one of its own adopted, a tier change applied with docker
// update), and the kill switch (pause all, freeze, kill, revoke, quarantine, release) does what it says,
// audited and on the event stream. Bad input (a missing image, a container that will not start, a
// node that does not answer) is reported on the agent and the node, retried with back-off, and never
// stops the control plane.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type Docker from 'dockerode';
import pg from 'pg';
import { VillageApiError, VillageClient } from '../src/contract/index.js';
import { VILLAGE_LABEL, agentContainerSpec } from '../src/fleet/agent-container-spec.js';
import { FleetReconciler } from '../src/fleet/fleet-reconciler.service.js';
import { agentImage, connectDocker, removeTestContainers, TEST_RUN_LABEL, type BuiltImage } from './support/docker.js';
import { eventually } from './support/eventually.js';
import {
  containerOf,
  removeVillageContainers,
  startEgressDaemon,
  villageIdOf,
  type EgressDaemon,
} from './support/fleet.js';
import {
  ADMIN_TOKEN,
  createTestEnvironment,
  startTestApp,
  type TestApp,
  type TestEnvironment,
} from './support/test-app.js';
import { TestViewer } from './support/viewer.js';

const IMAGE_TIMEOUT_MS = 30 * 60_000;
const MIB = 1024 * 1024;
const DOCKER_SOCKET = process.env.DOCKER_HOST?.replace(/^unix:\/\//, '') || '/var/run/docker.sock';

describe('the fleet on a real engine', { timeout: IMAGE_TIMEOUT_MS + 15 * 60_000 }, () => {
  let docker: Docker;
  let image: BuiltImage;
  let environment: TestEnvironment;
  let app: TestApp;
  let viewer: TestViewer;
  let egress: EgressDaemon;
  let egressDir: string;
  let villageId: string;
  let nodeToken: string;
  const suffix = randomBytes(3).toString('hex');
  const ada = `ada-${suffix}`;
  const bad = `bad-${suffix}`;
  const cast = [ada, bad];
  const brokenImage = `ai-village/test-broken:${suffix}`;
  /** Workspace volumes of the containers made behind the fleet's back: named, so removing a container keeps them. */
  const idleVolumes: string[] = [];

  before(
    async () => {
      docker = await connectDocker();
      image = await agentImage();
      environment = await createTestEnvironment({
        VILLAGE_TICK_MS: '100',
        VILLAGE_FLEET_RECONCILE_MS: '1000',
        VILLAGE_AGENT_IMAGE: image.reference,
        VILLAGE_FLEET_AGENT_SETTINGS: JSON.stringify({ VILLAGE_AGENT_LOOP_MS: '300' }),
        VILLAGE_SECRETS_KEY: randomBytes(32).toString('base64url'),
      });
      app = await startTestApp(environment);
      viewer = new TestViewer(app.url, ADMIN_TOKEN);
      await viewer.ready();
      villageId = await villageIdOf(environment.database.url);
      egressDir = mkdtempSync(join(tmpdir(), 'village-fleet-egress-'));
      ({ token: nodeToken } = await app.admin.registerNode({
        name: 'local',
        labels: { disk: 'ssd' },
        engine: { kind: 'socket', socketPath: DOCKER_SOCKET },
        agentNetwork: { mode: 'egress-proxy', egressDir },
      }));
      for (const id of cast) await app.admin.createAgent({ id, displayName: `Fleet ${id}` });
      // The daemon opens a socket for every agent there is when it starts.
      egress = startEgressDaemon(app.url, nodeToken, egressDir);
      await egress.socketsOf(cast);
    },
    { timeout: IMAGE_TIMEOUT_MS },
  );
  after(async () => {
    viewer?.close();
    // The loop first, so that it does not make again what is removed below.
    await app?.close();
    if (docker && villageId) await removeVillageContainers(docker, villageId, cast);
    if (docker) await removeTestContainers(docker);
    for (const volume of idleVolumes) {
      await docker
        ?.getVolume(volume)
        .remove({ force: true })
        .catch(() => undefined);
    }
    await docker
      ?.getImage(brokenImage)
      .remove({ force: true })
      .catch(() => undefined);
    await egress?.stop();
    await environment?.dispose();
    if (egressDir) rmSync(egressDir, { recursive: true, force: true });
  });

  const reconciler = () => app.app.get(FleetReconciler);
  const fleetAgent = (id: string) => app.admin.fleetAgent(id);
  const reason = 'fleet test';

  /** The container's output and the daemon's, added to a failure's message. */
  async function explained<T>(id: string, body: () => Promise<T>): Promise<T> {
    try {
      return await body();
    } catch (error) {
      const info = await containerOf(docker, villageId, id).catch(() => undefined);
      const logs = info
        ? await docker
            .getContainer(info.Id)
            .logs({ stdout: true, stderr: true })
            .then((buffer) => buffer.toString('utf8').slice(-3000))
            .catch(() => '(no logs)')
        : '(no container)';
      const row = await fleetAgent(id).catch(() => undefined);
      if (error instanceof Error) {
        error.message += `\n--- fleet ---\n${JSON.stringify(row)}\n--- container ---\n${logs}\n--- egress ---\n${egress.output().slice(-1500)}`;
      }
      throw error;
    }
  }

  function eventsSince(mark: number, id: string, types: string[]) {
    return viewer.events
      .slice(mark)
      .filter((event) => types.includes(event.type) && 'agentId' in event && event.agentId === id);
  }

  test('an agent started in the fleet runs in a container on its node, with no network, and moves', async () => {
    const started = await app.admin.startFleetAgent(ada, { reason: 'first run' });
    assert.equal(started.node, 'local', 'placed on the only node');
    assert.equal(started.desired, 'running');
    assert.equal(started.observed, 'running');
    assert.ok(started.containerId);
    await explained(ada, async () => {
      await viewer.waitFor('agent.online', (event) => event.agentId === ada, 30_000);
      await viewer.waitFor('agent.walk_started', (event) => event.agentId === ada, 30_000);
    });
    const info = await docker.getContainer(started.containerId).inspect();
    assert.equal(info.Config.Labels[VILLAGE_LABEL], villageId);
    assert.equal(info.HostConfig.NetworkMode, 'none');
    assert.ok(
      info.Mounts.some((mount) => mount.Source === join(egressDir, ada) && mount.Destination === '/run/village'),
    );

    await reconciler().pass();
    const node = await app.admin.node('local');
    assert.equal(node.state, 'ready');
    assert.ok((node.capacity.cpus ?? 0) >= 1 && (node.capacity.memoryMb ?? 0) > 256, JSON.stringify(node.capacity));
    assert.equal(node.allocated.agents, 1);
    assert.match(node.engineVersion ?? '', /^\d+\./);

    const audit = await app.admin.audit({ filter: { subjectType: 'agent', subjectId: ada } });
    const actions = audit.items.map((entry) => entry.action);
    assert.ok(actions.includes('kill_switch.start') && actions.includes('container.created'), actions.join(', '));
    await viewer.waitFor('fleet.agent_changed', (event) => event.agentId === ada && event.action === 'created');
    await viewer.waitFor('fleet.kill_switch', (event) => event.action === 'start' && event.agentIds.includes(ada));
  });

  test('freeze stops the agent moving and unfreeze resumes it; pause all and resume all too', async () => {
    const frozen = await app.admin.killSwitch(ada, 'freeze', { reason });
    assert.equal(frozen.desired, 'frozen');
    assert.equal(frozen.observed, 'paused');
    assert.equal((await docker.getContainer(frozen.containerId!).inspect()).State.Paused, true);
    // Whatever a tick in flight published settles, then nothing moves for a while.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const mark = viewer.events.length;
    await new Promise((resolve) => setTimeout(resolve, 2500));
    assert.deepEqual(eventsSince(mark, ada, ['agent.moved', 'agent.walk_started']), [], 'a frozen agent does not move');

    const resumed = await app.admin.killSwitch(ada, 'unfreeze', { reason });
    assert.equal(resumed.observed, 'running');
    const afterUnfreeze = viewer.events.length;
    await explained(ada, () =>
      eventually(
        () => eventsSince(afterUnfreeze, ada, ['agent.moved', 'agent.walk_started']).length > 0,
        'a move after unfreeze',
        30_000,
      ),
    );

    const paused = await app.admin.pauseAllAgents({ reason: 'maintenance' });
    assert.deepEqual(paused.agentIds, [ada]);
    assert.equal(paused.applied, 1);
    assert.deepEqual(paused.failed, []);
    assert.equal((await fleetAgent(ada)).observed, 'paused');
    assert.equal((await docker.getContainer(frozen.containerId!).inspect()).State.Paused, true);
    // "Resume all" resumes what "pause all" paused, and nothing frozen on its own.
    const resumedAll = await app.admin.resumeAllAgents({ reason: 'maintenance over' });
    assert.deepEqual(resumedAll.agentIds, [ada]);
    assert.equal((await fleetAgent(ada)).observed, 'running');
    const audit = await app.admin.audit({ filter: { action: 'kill_switch.pause_all' } });
    assert.equal(audit.items[0]?.reason, 'maintenance');
  });

  test('a killed container is replaced by the reconcile loop, with a new token', async () => {
    const before = await fleetAgent(ada);
    const oldToken = tokenIn(await docker.getContainer(before.containerId!).inspect());
    const mark = viewer.events.length;
    await docker.getContainer(before.containerId!).kill();
    const replaced = await explained(ada, () =>
      eventually(
        async () => {
          const now = await fleetAgent(ada);
          return now.containerId !== before.containerId && now.observed === 'running' ? now : undefined;
        },
        'a new container',
        20_000,
      ),
    );
    assert.equal(replaced.restarts, 1);
    await viewer.waitFor('fleet.agent_changed', (event) => event.agentId === ada && event.action === 'replaced');
    await explained(ada, () =>
      eventually(
        () => eventsSince(mark, ada, ['agent.online', 'agent.walk_started', 'agent.moved']).length > 0,
        'the new container at work',
        30_000,
      ),
    );
    await assertTokenRefused(oldToken);
  });

  test('a stray container of this village is removed, one of its own is adopted, and others are left alone', async () => {
    // Adoption: the row lost its container id (a replica died between creating and recording it).
    const { containerId } = await fleetAgent(ada);
    await sql(`UPDATE fleet_agents SET container_id = NULL WHERE agent_id = $1`, [ada]);
    await reconciler().pass();
    assert.equal((await fleetAgent(ada)).containerId, containerId, 'adopted, not replaced');
    await viewer.waitFor('fleet.agent_changed', (event) => event.agentId === ada && event.action === 'adopted');

    // A stray: this village's label, an agent the database does not know.
    const ghost = `ghost-${suffix}`;
    const stray = await createIdle(ghost, { [VILLAGE_LABEL]: villageId });
    // Another village's container and a person's are none of this fleet's business.
    const foreign = await createIdle(`other-${suffix}`, { [VILLAGE_LABEL]: 'another-village' });
    await new Promise((resolve) => setTimeout(resolve, 2100)); // past the grace for a container just made
    // The loop removes it within a pass or two (its own, or this one).
    await reconciler().pass();
    await eventually(
      () =>
        docker
          .getContainer(stray.id)
          .inspect()
          .then(
            () => false,
            (error: { statusCode?: number }) => error.statusCode === 404,
          ),
      'the stray removed',
      5_000,
    );
    assert.equal((await docker.getContainer(foreign.id).inspect()).State.Running, true);
    await docker.getContainer(foreign.id).remove({ force: true });
    await viewer.waitFor('fleet.agent_changed', (event) => event.agentId === ghost && event.action === 'removed');
    const audit = await app.admin.audit({ filter: { action: 'container.removed', subjectId: ghost } });
    assert.equal(audit.total, 1);
  });

  test('a tier change shows up in docker inspect of the running container', async () => {
    const policy = await app.admin.tierPolicy();
    const top = policy.tiers[policy.tiers.length - 1]!;
    const cpus = (await app.admin.node('local')).capacity.cpus!;
    await app.admin.setAgentTier(ada, { pinnedTier: top.level, reason: 'bigger box' });
    const { containerId } = await fleetAgent(ada);
    await eventually(
      async () => {
        const host = (await docker.getContainer(containerId!).inspect()).HostConfig;
        return (
          host.Memory === top.entitlements.memoryMb * MIB &&
          host.NanoCpus === Math.round(Math.min(top.entitlements.cpus, cpus) * 1e9)
        );
      },
      'the top tier limits in docker inspect',
      15_000,
    );
    assert.equal((await fleetAgent(ada)).containerId, containerId, 'updated in place, not replaced');
    await viewer.waitFor('fleet.agent_changed', (event) => event.agentId === ada && event.action === 'limits_updated');
    await app.admin.setAgentTier(ada, { pinnedTier: null, reason: 'back to earning it' });
    const base = policy.tiers[0]!;
    await eventually(
      async () =>
        (await docker.getContainer(containerId!).inspect()).HostConfig.Memory === base.entitlements.memoryMb * MIB,
      'the first tier again',
      15_000,
    );
  });

  test('quarantine makes its token useless and freezes it; release restores it with a fresh container', async () => {
    const before = await fleetAgent(ada);
    const token = tokenIn(await docker.getContainer(before.containerId!).inspect());
    const quarantined = await app.admin.killSwitch(ada, 'quarantine', { reason: 'runaway loop' });
    assert.equal(quarantined.desired, 'quarantined');
    assert.equal(quarantined.observed, 'paused', 'kept frozen for inspection');
    await assertTokenRefused(token);
    const economy = (await app.admin.agent(ada)).economy;
    assert.equal(economy.tier.quarantined, true);
    assert.equal(economy.tier.level, 0);
    const node = new VillageClient({ baseUrl: app.url, token: nodeToken });
    assert.deepEqual((await node.egressPolicy(ada)).hosts, [], 'no egress at all');
    // Nobody starts it while it is quarantined.
    await assert.rejects(app.admin.startFleetAgent(ada), (error: VillageApiError) => error.status === 409);
    await reconciler().pass();
    assert.equal((await fleetAgent(ada)).observed, 'paused');

    const released = await app.admin.killSwitch(ada, 'release', { reason: 'fixed' });
    assert.equal(released.desired, 'running');
    assert.equal(released.observed, 'running');
    assert.notEqual(released.containerId, before.containerId);
    const fresh = tokenIn(await docker.getContainer(released.containerId!).inspect());
    const agent = new VillageClient({ baseUrl: app.url, token: fresh });
    await agent.mail(ada); // the new token works
    assert.equal((await app.admin.agent(ada)).economy.tier.quarantined, false);
    const actions = (
      await app.admin.audit({ filter: { subjectId: ada, action: ['kill_switch.quarantine', 'kill_switch.release'] } })
    ).items.map((e) => e.action);
    assert.deepEqual(actions.sort(), ['kill_switch.quarantine', 'kill_switch.release']);
    await viewer.waitFor(
      'fleet.kill_switch',
      (event) => event.action === 'quarantine' && event.reason === 'runaway loop',
    );
  });

  test('kill stops it for good; revoke-token cuts it off until an admin releases it', async () => {
    const killed = await app.admin.killSwitch(ada, 'kill', { reason });
    assert.equal(killed.desired, 'stopped');
    assert.equal(killed.observed, 'exited');
    await reconciler().pass();
    const still = await fleetAgent(ada);
    assert.equal(still.containerId, killed.containerId, 'not replaced');
    assert.equal(still.observed, 'exited');
    await assert.rejects(
      app.admin.killSwitch(ada, 'freeze', { reason }),
      (error: VillageApiError) => error.status === 409,
    );

    const restarted = await app.admin.startFleetAgent(ada, { reason: 'back to work' });
    assert.equal(restarted.observed, 'running');
    const token = tokenIn(await docker.getContainer(restarted.containerId!).inspect());
    const revoked = await app.admin.killSwitch(ada, 'revoke-token', { reason: 'leaked token' });
    assert.equal(revoked.desired, 'stopped');
    await assertTokenRefused(token);
    await reconciler().pass();
    assert.equal((await fleetAgent(ada)).observed, 'exited', 'no new container, so no new token');
    const released = await app.admin.killSwitch(ada, 'release', { reason: 'rotated everywhere' });
    assert.equal(released.observed, 'running');
  });

  test('bad input is reported on the agent and the node, retried with back-off, and never stops the village', async () => {
    // An image the node does not have.
    const missing = await app.admin.startFleetAgent(bad, { image: 'ai-village/agent:not-built-anywhere', reason });
    assert.equal(missing.observed, 'none');
    assert.match(missing.lastError ?? '', /image ai-village\/agent:not-built-anywhere is not on node local/);
    assert.ok(missing.nextAttemptAt, 'a next attempt is planned');
    await viewer.waitFor('fleet.agent_changed', (event) => event.agentId === bad && event.action === 'failed');
    await eventually(async () => (await fleetAgent(bad)).restarts >= 2, 'a second attempt after the back-off', 10_000);
    const retried = await fleetAgent(bad);
    assert.ok(Date.parse(retried.nextAttemptAt!) - Date.now() > 500, 'backing off further');

    // An image whose entry point does not exist: its container never comes up (it ends at once, every time).
    const base = await docker.createContainer({ Image: image.reference, Entrypoint: ['true'] });
    await base.commit({
      repo: brokenImage.split(':')[0],
      tag: suffix,
      changes: ['ENTRYPOINT ["/no/such/entrypoint"]'],
    });
    await base.remove({ force: true, v: true }); // with the anonymous /workspace volume the image declares
    await app.admin.startFleetAgent(bad, { image: brokenImage, reason });
    const crashing = await eventually(
      async () => {
        const now = await fleetAgent(bad);
        return now.restarts >= 2 && now.lastError && now.nextAttemptAt ? now : undefined;
      },
      'a crash loop, reported and backing off',
      20_000,
    );
    assert.match(crashing.lastError!, /exited with code \d+ after [\d.]+ s: .*no\/such\/entrypoint/);
    await viewer.waitFor(
      'fleet.agent_changed',
      (event) => event.agentId === bad && event.action === 'replaced' && /exited/.test(event.error ?? ''),
    );
    await app.admin.killSwitch(bad, 'kill', { reason: 'stop retrying' });

    // A node whose engine does not answer.
    await app.admin.registerNode({
      name: 'gone',
      engine: { kind: 'socket', socketPath: `/tmp/no-engine-${suffix}.sock` },
      agentNetwork: { mode: 'host', villageUrl: app.url },
    });
    const stranded = await app.admin.startFleetAgent(bad, { node: 'gone', image: image.reference, reason });
    assert.equal(stranded.observed, 'unknown');
    assert.match(stranded.lastError ?? '', /does not answer/);
    await reconciler().pass();
    const gone = await app.admin.node('gone');
    assert.equal(gone.state, 'down');
    assert.match(gone.stateError ?? '', /ENOENT|does not answer/);
    await viewer.waitFor('fleet.node_changed', (event) => event.node === 'gone' && event.state === 'down');
    await app.admin.killSwitch(bad, 'kill', { reason: 'node gone' });

    // Refused with a 4xx that says why, and nothing changed.
    const refusal = async (call: Promise<unknown>, status: number, message: RegExp) => {
      const error = (await call.then(
        () => undefined,
        (error: unknown) => error,
      )) as VillageApiError | undefined;
      assert.ok(error instanceof VillageApiError, `refused with ${status}`);
      assert.equal(error.status, status, error.message);
      assert.match(error.body?.message ?? error.message, message);
    };
    await refusal(
      app.admin.registerNode({ name: 'plain', engine: { kind: 'tcp', host: '10.0.0.9', port: 2375 } as never }),
      400,
      /tls/,
    );
    await refusal(app.admin.startFleetAgent(bad, { node: 'nowhere' }), 404, /no node named "nowhere"/);
    await refusal(app.admin.startFleetAgent(bad, { nodeSelector: { gpu: 'h200' } }), 422, /lacks label gpu=h200/);
    await refusal(app.admin.killSwitch(`nobody-${suffix}`, 'freeze', { reason }), 404, /not run by the fleet/);
    await refusal(app.admin.killSwitch(ada, 'freeze', { reason: '' }), 400, /reason/);
    assert.equal((await app.admin.health()).status, 'ok');
    assert.equal((await fleetAgent(bad)).desired, 'stopped');
  });

  test('one reconcile pass at a time across replicas (a PostgreSQL advisory lock)', async () => {
    const holder = new pg.Client({ connectionString: environment.database.url });
    await holder.connect();
    try {
      await holder.query(`SELECT pg_advisory_lock(hashtext('ai-village:fleet-reconcile'))`);
      assert.equal(await reconciler().pass(), undefined, 'another replica holds the pass');
      await holder.query(`SELECT pg_advisory_unlock(hashtext('ai-village:fleet-reconcile'))`);
      assert.ok(await reconciler().pass());
    } finally {
      await holder.end();
    }
  });

  /** An idle container labelled like an agent's, made behind the fleet's back. */
  async function createIdle(agentId: string, labels: Record<string, string>) {
    const workspace = `village-test-${agentId}`;
    idleVolumes.push(workspace);
    const spec = agentContainerSpec({
      agentId,
      token: 'not-a-token',
      entitlements: { cpus: 0.25, memoryMb: 128 },
      workspace,
      network: { mode: 'host', villageUrl: app.url },
      image: image.reference,
      labels: { ...labels, [TEST_RUN_LABEL]: String(process.pid) },
    });
    const container = await docker.createContainer({
      ...spec,
      name: `test-${agentId}`,
      Entrypoint: ['sleep', 'infinity'],
    });
    await container.start();
    return container;
  }

  async function assertTokenRefused(token: string) {
    const client = new VillageClient({ baseUrl: app.url, token });
    const error = await client.mail(ada).then(
      () => undefined,
      (error: unknown) => error as VillageApiError,
    );
    assert.equal(error?.status, 401, 'the old token is refused');
  }

  async function sql(text: string, values: unknown[]) {
    const client = new pg.Client({ connectionString: environment.database.url });
    await client.connect();
    try {
      await client.query(text, values);
    } finally {
      await client.end();
    }
  }
});

function tokenIn(info: Docker.ContainerInspectInfo): string {
  const line = info.Config.Env.find((entry) => entry.startsWith('VILLAGE_AGENT_TOKEN='));
  assert.ok(line, 'the container has its token');
  return line.slice('VILLAGE_AGENT_TOKEN='.length);
}
