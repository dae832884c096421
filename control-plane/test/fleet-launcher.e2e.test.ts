// `npm start` with a Docker engine and VILLAGE_AGENT_RUNTIME=containers: the cast runs as agent
// containers on the node `local` (registered from the local socket), with no network of their own,
// behind the egress daemon the launcher runs; Ctrl-C removes them, and the next start brings the same
// agents back in new containers. (Without an engine, or by default without this build's image, the cast
// runs as processes: launcher.e2e.test.ts.)
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type Docker from 'dockerode';
import { VillageClient } from '../src/contract/index.js';
import { agentImage, connectDocker } from './support/docker.js';
import { eventually } from './support/eventually.js';
import { freePort } from './support/free-port.js';
import { startVillage, stopVillage } from './support/village-process.js';

describe('npm start with agents as containers', { timeout: 40 * 60_000 }, () => {
  let docker: Docker;
  let dataDir: string;
  let ports: { http: number; postgres: number; redis: number };
  const seen = new Set<string>();
  const workspaces = new Set<string>();

  before(
    async () => {
      docker = await connectDocker();
      // Built here, so that the launcher finds it and the test's time limit is not spent on a build.
      await agentImage();
      dataDir = mkdtempSync(join(tmpdir(), 'village-start-containers-'));
      ports = { http: await freePort(), postgres: await freePort(), redis: await freePort() };
    },
    { timeout: 30 * 60_000 },
  );
  after(async () => {
    for (const id of seen) {
      await docker
        ?.getContainer(id)
        .remove({ force: true })
        .catch(() => undefined);
    }
    // The workspace volume of this village's Ada (its name carries the village's id).
    const volumes = await docker?.listVolumes().catch(() => ({ Volumes: [] }));
    for (const volume of volumes?.Volumes ?? []) {
      if (volume.Name.startsWith('village-workspace-ada-') && workspaces.has(volume.Name)) {
        await docker
          .getVolume(volume.Name)
          .remove()
          .catch(() => undefined);
      }
    }
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  const start = () =>
    startVillage(dataDir, ports, {
      VILLAGE_CAST: '1',
      VILLAGE_AGENT_RUNTIME: 'containers',
      VILLAGE_FLEET_RECONCILE_MS: '1000',
    });
  const stop = stopVillage;

  async function run(body: (village: { admin: VillageClient; output: () => string }) => Promise<void>) {
    const village = start();
    let failure: unknown;
    try {
      await eventually(() => village.output().includes('AI Village is running at'), 'the banner', 120_000).catch(
        (error: Error) => {
          error.message += `\n${village.output().slice(-3000)}`;
          throw error;
        },
      );
      const admin = new VillageClient({
        baseUrl: `http://127.0.0.1:${ports.http}`,
        token: readFileSync(join(dataDir, 'admin-token'), 'utf8').trim(),
      });
      await body({ admin, output: village.output });
    } catch (error) {
      failure = error;
      if (error instanceof Error) {
        const egressLog = join(dataDir, 'logs', 'egress.log');
        error.message += `\n--- launcher ---\n${village.output().slice(-2000)}\n--- egress ---\n${
          existsSync(egressLog) ? readFileSync(egressLog, 'utf8').slice(-1500) : '(none)'
        }`;
      }
    }
    const code = await stop(village.child);
    if (failure) throw failure;
    assert.equal(code, 0, `clean exit (output: ${village.output().slice(-2000)})`);
  }

  test('the cast runs in a container on the local node and moves; Ctrl-C removes it; a restart brings it back', async () => {
    let first = '';
    await run(async ({ admin, output }) => {
      assert.match(output(), /agents run as: containers on node local \(ai-village\/agent:/);
      const ada = await eventually(
        async () => {
          const agent = await admin.fleetAgent('ada');
          return agent.observed === 'running' ? agent : undefined;
        },
        'ada in a running container',
        60_000,
      );
      assert.equal(ada.node, 'local');
      first = ada.containerId!;
      seen.add(first);
      const info = await docker.getContainer(first).inspect();
      for (const mount of info.Mounts) if (mount.Type === 'volume' && mount.Name) workspaces.add(mount.Name);
      assert.equal(info.HostConfig.NetworkMode, 'none', 'its only way out is the egress daemon');
      await eventually(
        async () => {
          const agent = await admin.agent('ada');
          return agent.status.online && (agent.version > 0 || agent.walking);
        },
        'ada online and walking, from her container',
        60_000,
      );
      const local = await admin.node('local');
      assert.equal(local.engine.kind, 'socket');
      assert.equal(local.state, 'ready');
      assert.match(readFileSync(join(dataDir, 'logs', 'egress.log'), 'utf8'), /egress proxy running/);
    });
    await assert.rejects(
      docker.getContainer(first).inspect(),
      (error: { statusCode?: number }) => error.statusCode === 404,
    );

    await run(async ({ admin }) => {
      const again = await eventually(
        async () => {
          const agent = await admin.fleetAgent('ada');
          return agent.observed === 'running' ? agent : undefined;
        },
        'ada running again',
        60_000,
      );
      seen.add(again.containerId!);
      assert.notEqual(again.containerId, first);
      assert.deepEqual(
        (await admin.world()).agents.map((agent) => agent.id),
        ['ada'],
        'the same agent, not a new one',
      );
      await eventually(async () => (await admin.agent('ada')).status.online, 'ada online again', 60_000);
    });
  });
});
