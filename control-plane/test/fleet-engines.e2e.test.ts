// One control plane drives two Docker engines at once: this machine's (a local socket; agents with no
// network behind the node's egress daemon) and a second dockerd started by the test (its own socket,
// data root and exec root, no bridge) reached over TCP with mutual TLS, as a remote node is. Each
// engine runs an agent placed there by its labels; when the second engine stops answering, its node is
// marked down and its agent unknown while the other carries on, and when it answers again its agent's
// container is replaced.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type Docker from 'dockerode';
import { FleetReconciler } from '../src/fleet/fleet-reconciler.service.js';
import { agentImage, connectDocker, type BuiltImage } from './support/docker.js';
import { eventually } from './support/eventually.js';
import {
  containerOf,
  removeVillageContainers,
  startEgressDaemon,
  villageIdOf,
  type EgressDaemon,
} from './support/fleet.js';
import { copyImage, startSecondEngine, type SecondEngine } from './support/second-engine.js';
import {
  ADMIN_TOKEN,
  createTestEnvironment,
  startTestApp,
  type TestApp,
  type TestEnvironment,
} from './support/test-app.js';
import { TestViewer } from './support/viewer.js';

const SETUP_TIMEOUT_MS = 30 * 60_000;
const DOCKER_SOCKET = process.env.DOCKER_HOST?.replace(/^unix:\/\//, '') || '/var/run/docker.sock';

describe('two Docker engines, one control plane', { timeout: SETUP_TIMEOUT_MS + 10 * 60_000 }, () => {
  let docker: Docker;
  let second: SecondEngine;
  let image: BuiltImage;
  let environment: TestEnvironment;
  let app: TestApp;
  let viewer: TestViewer;
  let egress: EgressDaemon;
  let egressDir: string;
  let villageId: string;
  const suffix = randomBytes(3).toString('hex');
  const near = `near-${suffix}`;
  const far = `far-${suffix}`;

  before(
    async () => {
      docker = await connectDocker();
      image = await agentImage();
      second = await startSecondEngine();
      // The second engine has its own images: the agent image goes there once (kept in its data root).
      await copyImage(docker, second.docker, image.reference);
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
      egressDir = mkdtempSync(join(tmpdir(), 'village-engines-egress-'));
    },
    { timeout: SETUP_TIMEOUT_MS },
  );
  after(async () => {
    viewer?.close();
    // The loop first, so that it does not make again what is removed below.
    await app?.close();
    if (docker && villageId) await removeVillageContainers(docker, villageId, [near]);
    await egress?.stop();
    await environment?.dispose();
    await second?.stop();
    if (egressDir) rmSync(egressDir, { recursive: true, force: true });
  });

  test('each engine runs an agent, placed by the labels of its node', async () => {
    const { token } = await app.admin.registerNode({
      name: 'near',
      labels: { zone: 'a' },
      engine: { kind: 'socket', socketPath: DOCKER_SOCKET },
      agentNetwork: { mode: 'egress-proxy', egressDir },
    });
    const remote = await app.admin.registerNode({
      name: 'far',
      labels: { zone: 'b' },
      engine: { kind: 'tcp', host: second.tcp.host, port: second.tcp.port, tls: second.tcp.tls },
      // One machine: the second engine's containers reach the control plane on the host's loopback.
      agentNetwork: { mode: 'host', villageUrl: app.url },
    });
    // The engine's key is sealed and never shown; its certificates only by fingerprint.
    assert.equal(remote.node.engine.kind, 'tcp');
    assert.doesNotMatch(JSON.stringify(remote.node), /PRIVATE KEY|BEGIN CERTIFICATE/);
    assert.ok(remote.node.engine.kind === 'tcp' && remote.node.engine.tls.keySealed);
    const audit = await app.admin.audit({ filter: { action: 'node.registered', subjectId: 'far' } });
    assert.doesNotMatch(JSON.stringify(audit.items), /PRIVATE KEY/);

    for (const id of [near, far]) await app.admin.createAgent({ id, displayName: `Engine ${id}` });
    egress = startEgressDaemon(app.url, token, egressDir);
    await egress.socketsOf([near]);
    const a = await app.admin.startFleetAgent(near, { nodeSelector: { zone: 'a' } });
    const b = await app.admin.startFleetAgent(far, { nodeSelector: { zone: 'b' } });
    assert.equal(a.node, 'near');
    assert.equal(b.node, 'far');
    assert.equal(b.observed, 'running', b.lastError ?? '');

    for (const id of [near, far]) {
      await viewer.waitFor('agent.online', (event) => event.agentId === id, 30_000);
      await viewer.waitFor('agent.walk_started', (event) => event.agentId === id, 30_000);
    }
    // Each container is on its own engine, and only there.
    assert.ok(await containerOf(docker, villageId, near));
    assert.equal(await containerOf(docker, villageId, far), undefined);
    assert.ok(await containerOf(second.docker, villageId, far));
    assert.equal(await containerOf(second.docker, villageId, near), undefined);

    await app.app.get(FleetReconciler).pass();
    const nodes = (await app.admin.nodes()).items;
    assert.deepEqual(
      nodes.map((node) => [node.name, node.state, node.allocated.agents]),
      [
        ['far', 'ready', 1],
        ['near', 'ready', 1],
      ],
    );
  });

  test('an engine that stops answering marks its node down and its agent unknown; it recovers when it answers', async () => {
    const before = await app.admin.fleetAgent(far);
    await second.halt();
    await app.app.get(FleetReconciler).pass();
    await eventually(async () => (await app.admin.node('far')).state === 'down', 'the far node down', 15_000);
    // The node is recorded down first, then its agents unknown (a pass that began before the halt may
    // also have recorded the engine's last error on the agent meanwhile): wait for the agent's turn.
    const stranded = await eventually(
      async () => {
        const agent = await app.admin.fleetAgent(far);
        return agent.observed === 'unknown' && /node far is down/.test(agent.lastError ?? '') ? agent : undefined;
      },
      'the far agent unknown, its node down',
      15_000,
    );
    assert.equal(stranded.observed, 'unknown');
    assert.match(stranded.lastError ?? '', /node far is down/);
    await viewer.waitFor('fleet.node_changed', (event) => event.node === 'far' && event.state === 'down');
    // The other node and the village carry on.
    assert.equal((await app.admin.fleetAgent(near)).observed, 'running');
    assert.equal((await app.admin.health()).status, 'ok');

    await second.restart();
    await eventually(async () => (await app.admin.node('far')).state === 'ready', 'the far node ready again', 30_000);
    // dockerd's restart ended the container (the fleet's restart policy is its own): a new one replaces it.
    const back = await eventually(
      async () => {
        const now = await app.admin.fleetAgent(far);
        return now.observed === 'running' && now.containerId !== before.containerId ? now : undefined;
      },
      `a new container on the far node (engine output: ${second.output().slice(-1000)})`,
      30_000,
    );
    assert.equal(back.lastError, null);
    const mark = viewer.events.length;
    await eventually(
      () =>
        viewer.events.slice(mark).some((event) => event.type === 'agent.online' && event.agentId === far) ||
        viewer.events.slice(mark).some((event) => event.type === 'agent.walk_started' && event.agentId === far),
      'the far agent at work again',
      30_000,
    );
  });
});
