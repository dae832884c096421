// The agent image and its container boundary on a real Docker engine: the image builds offline from
// the local base, an agent container from it joins a real control plane and moves, and the boundary
// the fleet's spec asks for is what the engine gives, seen from outside (inspect) and from inside.
// Containers use the host network to reach the control plane on loopback (until the egress proxy is
// deployed); the egress-proxy mode is checked to have no network at all.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type Docker from 'dockerode';
import { AGENT_CAPABILITIES, EGRESS_SOCKET_DIRECTORY } from '../src/fleet/agent-container-spec.js';
import {
  agentImage,
  connectDocker,
  removeTestContainers,
  runAgentContainer,
  type AgentContainer,
  type BuiltImage,
} from './support/docker.js';
import {
  ADMIN_TOKEN,
  createTestEnvironment,
  startTestApp,
  type TestApp,
  type TestEnvironment,
} from './support/test-app.js';
import { TestViewer } from './support/viewer.js';

/** Linux capability numbers (linux/capability.h), for reading /proc/self/status inside. */
const CAPABILITY_BITS: Record<string, number> = {
  CHOWN: 0,
  DAC_OVERRIDE: 1,
  FOWNER: 3,
  FSETID: 4,
  KILL: 5,
  SETGID: 6,
  SETUID: 7,
};
/** Building the local base from nothing takes minutes (pretest builds it first); the image itself seconds. */
const IMAGE_TIMEOUT_MS = 30 * 60_000;

describe('the agent container', { timeout: IMAGE_TIMEOUT_MS + 10 * 60_000 }, () => {
  let docker: Docker;
  let image: BuiltImage;
  let environment: TestEnvironment;
  let app: TestApp;
  let viewer: TestViewer;
  let workspace: string;
  const suffix = randomBytes(3).toString('hex');

  before(
    async () => {
      docker = await connectDocker();
      image = await agentImage();
      environment = await createTestEnvironment({ VILLAGE_TICK_MS: '100' });
      app = await startTestApp(environment);
      viewer = new TestViewer(app.url);
      await viewer.ready();
      workspace = mkdtempSync(join(tmpdir(), 'village-workspace-'));
    },
    { timeout: IMAGE_TIMEOUT_MS },
  );
  after(async () => {
    if (docker) await removeTestContainers(docker);
    viewer?.close();
    await app?.close();
    await environment?.dispose();
    if (workspace) rmSync(workspace, { recursive: true, force: true });
  });

  /** A new agent in the village and its container, on the host network, fast loop. */
  async function startAgent(id: string, options: { workspace?: string } = {}) {
    const agent = await app.admin.createAgent({ id, displayName: `Container ${id}` });
    const { economy } = await app.admin.agent(id);
    const container = await runAgentContainer(docker, {
      agentId: id,
      token: agent.token,
      entitlements: economy.entitlements,
      workspace: options.workspace ?? workspace,
      network: { mode: 'host', villageUrl: app.url },
      image: image.reference,
      settings: { VILLAGE_AGENT_LOOP_MS: '200' },
    });
    return { agent, container, entitlements: economy.entitlements };
  }

  /** The container's output, appended to an assertion's message when it fails. */
  async function explained<T>(container: AgentContainer, body: () => Promise<T>): Promise<T> {
    try {
      return await body();
    } catch (error) {
      const logs = await container.logs().catch((reason: unknown) => `(no logs: ${String(reason)})`);
      if (error instanceof Error) error.message += `\n--- container output ---\n${logs.slice(-4000)}`;
      throw error;
    }
  }

  test('the image builds offline on the local base, with Node LTS and the operator tools', async () => {
    const before = await docker.getImage(image.reference).inspect();
    // A full build, no layer cache: every step runs again, inside `--network none`.
    const rebuilt = await agentImage({ noCache: true });
    assert.equal(rebuilt.built, true);
    assert.equal(rebuilt.reference, image.reference, 'the same content hashes to the same tag');
    const info = await docker.getImage(rebuilt.reference).inspect();
    if (info.Id !== before.Id)
      await docker
        .getImage(before.Id)
        .remove()
        .catch(() => undefined);
    assert.match(info.Config.Labels?.['ai-village.base-hash'] ?? '', /^[0-9a-f]{16}$/, 'built on the local base');
    assert.match(info.Config.Labels?.['ai-village.content-hash'] ?? '', /^[0-9a-f]{16}$/);
    assert.deepEqual(info.Config.Entrypoint, ['node', '/opt/village/agent-image/dist/src/main.js']);
    assert.equal(info.Config.WorkingDir, '/workspace');
    assert.ok(Object.keys(info.Config.Volumes ?? {}).includes('/workspace'));
    assert.ok(!(info.Config.Env ?? []).some((line) => /TOKEN|SECRET|PASSWORD/.test(line)), 'no secret in the image');
  });

  test('a container from it joins the world and moves', async () => {
    const id = `box-${suffix}`;
    const { container } = await startAgent(id);
    await explained(container, async () => {
      await viewer.waitFor('agent.online', (event) => event.agentId === id, 30_000);
      await viewer.waitFor('agent.walk_started', (event) => event.agentId === id, 30_000);
      const moved = await viewer.waitFor('agent.moved', (event) => event.agentId === id, 30_000);
      assert.ok(moved.version > 0);
    });
    // SIGTERM: the runtime finishes its step and exits 0.
    assert.equal(await container.stop(), 0);
  });

  test('the boundary holds: not privileged, capabilities dropped, limits from the tier, only its own token', async () => {
    const id = `guard-${suffix}`;
    const { agent, container, entitlements } = await startAgent(id);
    await explained(container, async () => {
      const info = await container.inspect();
      const host = info.HostConfig;
      assert.equal(host.Privileged, false);
      assert.deepEqual(host.CapDrop, ['ALL']);
      assert.deepEqual([...(host.CapAdd ?? [])].sort(), [...AGENT_CAPABILITIES].sort());
      assert.ok(host.SecurityOpt?.includes('no-new-privileges:true'));
      assert.equal(host.NanoCpus, Math.round(entitlements.cpus * 1e9));
      assert.equal(host.Memory, entitlements.memoryMb * 1024 * 1024);
      assert.equal(host.MemorySwap, host.Memory);
      assert.equal(host.PidsLimit, 1024);
      assert.equal(host.NetworkMode, 'host');
      // Mounted: the workspace, nothing else (no Docker socket, no host directories).
      assert.deepEqual(
        info.Mounts.map((mount) => [mount.Type, mount.Source, mount.Destination]),
        [['bind', workspace, '/workspace']],
      );
      const env = info.Config.Env;
      assert.ok(env.includes(`VILLAGE_AGENT_TOKEN=${agent.token}`));
      assert.ok(!env.some((line) => line.includes(ADMIN_TOKEN)), 'the admin token never enters');
      const secretLike = env.filter((line) => /TOKEN|SECRET|PASSWORD|KEY/.test(line.split('=')[0]!));
      assert.deepEqual(secretLike, [`VILLAGE_AGENT_TOKEN=${agent.token}`]);

      // From inside: root, with exactly those capabilities, no new privileges, and limits in force.
      const status = await container.exec(['cat', '/proc/self/status']);
      const field = (name: string) => new RegExp(`^${name}:\\s*(\\S+)`, 'm').exec(status.output)?.[1];
      const expected = AGENT_CAPABILITIES.reduce((mask, name) => mask | (1n << BigInt(CAPABILITY_BITS[name]!)), 0n);
      assert.equal(BigInt(`0x${field('CapEff')}`), expected, status.output);
      assert.equal(BigInt(`0x${field('CapBnd')}`), expected);
      assert.equal(field('NoNewPrivs'), '1');
      assert.equal(field('Uid'), '0');
      const id0 = await container.exec(['id', '-u']);
      assert.equal(id0.output.trim(), '0');
      // Root works on its own files (what apt and dpkg need) but cannot mount or make devices.
      const chown = await container.exec(['sh', '-c', 'touch /tmp/f && chown 1000:1000 /tmp/f && stat -c %u /tmp/f']);
      assert.equal(chown.output.trim(), '1000');
      // apt drops to its _apt user to download: changing user works.
      const su = await container.exec(['su', 'nobody', '-s', '/bin/sh', '-c', 'id -u']);
      assert.equal(su.output.trim(), '65534', su.output);
      assert.notEqual((await container.exec(['mount', '-t', 'tmpfs', 'none', '/mnt'])).exitCode, 0);
      assert.notEqual((await container.exec(['mknod', '/tmp/disk', 'b', '8', '0'])).exitCode, 0);
      // The pids limit is the kernel's, not only Docker's word (cgroup v1 or v2).
      const pidsMax = await container.exec([
        'sh',
        '-c',
        'cat /sys/fs/cgroup/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids/pids.max',
      ]);
      assert.equal(pidsMax.output.trim(), '1024');
      // The workspace is the agent's and survives it: a file written inside is on the host.
      await container.exec(['sh', '-c', 'echo kept > /workspace/note.txt']);
      assert.equal(readFileSync(join(workspace, 'note.txt'), 'utf8'), 'kept\n');
      // The image's tools are there.
      const tools = await container.exec([
        'sh',
        '-c',
        'node --version && git --version && curl --version && python3 --version && cc --version && chromium --version',
      ]);
      assert.equal(tools.exitCode, 0, tools.output);
      assert.match(tools.output, /^v(22|24)\./, 'a Node LTS');
      // Chromium runs within the boundary and the tier's memory (without its own sandbox, which needs
      // the namespaces and capabilities an agent does not get).
      const page = await container.exec([
        'sh',
        '-c',
        'echo "<h1>inside</h1>" > /tmp/page.html && ' +
          'timeout 60 chromium --headless --no-sandbox --disable-gpu --dump-dom file:///tmp/page.html 2>/dev/null',
      ]);
      assert.match(page.output, /<h1>inside<\/h1>/, page.output);
    });
  });

  test('egress-proxy mode: no network but loopback, only the egress socket directory beside the workspace', async () => {
    const id = `sealed-${suffix}`;
    const agent = await app.admin.createAgent({ id, displayName: `Container ${id}` });
    const socketDirectory = mkdtempSync(join(tmpdir(), 'village-egress-'));
    try {
      // The network boundary alone: no egress proxy listens on the socket here, so the runtime is not started.
      const container = await runAgentContainer(
        docker,
        {
          agentId: id,
          token: agent.token,
          entitlements: { cpus: 0.5, memoryMb: 512 },
          workspace: `village-test-workspace-${suffix}`,
          network: { mode: 'egress-proxy', socketDirectory },
          image: image.reference,
        },
        { entrypoint: ['sleep', 'infinity'] },
      );
      await explained(container, async () => {
        const info = await container.inspect();
        assert.equal(info.HostConfig.NetworkMode, 'none');
        assert.deepEqual(info.Mounts.map((mount) => [mount.Type, mount.Destination]).sort(), [
          ['bind', EGRESS_SOCKET_DIRECTORY],
          ['volume', '/workspace'],
        ]);
        const interfaces = await container.exec(['sh', '-c', "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '"]);
        assert.deepEqual(interfaces.output.trim().split('\n'), ['lo']);
        // The control plane listens on the host's loopback: from inside, that is another machine.
        const port = new URL(app.url).port;
        const direct = await container.exec([
          'curl',
          '-sS',
          '--noproxy',
          '*',
          '--max-time',
          '3',
          `http://127.0.0.1:${port}/api/health`,
        ]);
        assert.notEqual(direct.exitCode, 0, direct.output);
      });
    } finally {
      await removeTestContainers(docker);
      await docker
        .getVolume(`village-test-workspace-${suffix}`)
        .remove()
        .catch(() => undefined);
      rmSync(socketDirectory, { recursive: true, force: true });
    }
  });
});
