// The container boundary as data: what agentContainerSpec asks Docker for, and what it refuses.
// agent-container.e2e.test.ts checks the same rules on a real container.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  AGENT_CAPABILITIES,
  AgentContainerSpecError,
  agentContainerSpec,
  type AgentContainerInput,
} from '../src/fleet/agent-container-spec.js';

const input = (overrides: Partial<AgentContainerInput> = {}): AgentContainerInput => ({
  agentId: 'ada',
  token: 'avt_ada-token',
  entitlements: { cpus: 0.5, memoryMb: 512 },
  workspace: '/var/lib/village/workspaces/ada',
  network: { mode: 'egress-proxy', socketDirectory: '/run/village-egress/ada' },
  image: 'ai-village/agent:abc',
  ...overrides,
});

const envOf = (spec: ReturnType<typeof agentContainerSpec>) =>
  Object.fromEntries(spec.Env!.map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]));

describe('agentContainerSpec', () => {
  test('never privileged: every capability dropped but those root needs on its own files, no new privileges', () => {
    const host = agentContainerSpec(input()).HostConfig!;
    assert.equal(host.Privileged, false);
    assert.deepEqual(host.CapDrop, ['ALL']);
    assert.deepEqual(host.CapAdd, [...AGENT_CAPABILITIES]);
    for (const dangerous of ['SYS_ADMIN', 'NET_ADMIN', 'NET_RAW', 'SYS_PTRACE', 'MKNOD', 'SYS_MODULE']) {
      assert.ok(!(host.CapAdd as string[]).includes(dangerous), dangerous);
    }
    assert.deepEqual(host.SecurityOpt, ['no-new-privileges:true']);
    assert.equal(host.ReadonlyRootfs, undefined, 'root may install packages in its own container');
    assert.equal(host.Devices, undefined);
  });

  test('limits come from the tier: CPUs, memory without swap, processes', () => {
    const host = agentContainerSpec(input({ entitlements: { cpus: 1.5, memoryMb: 1024 }, pidsLimit: 300 })).HostConfig!;
    assert.equal(host.NanoCpus, 1_500_000_000);
    assert.equal(host.Memory, 1024 * 1024 * 1024);
    assert.equal(host.MemorySwap, host.Memory);
    assert.equal(host.PidsLimit, 300);
    assert.equal(host.ShmSize, 256 * 1024 * 1024);
    assert.equal(agentContainerSpec(input()).HostConfig!.PidsLimit, 1024);
  });

  test('a tier never gets more CPUs than the node has', () => {
    const spec = agentContainerSpec(input({ entitlements: { cpus: 4, memoryMb: 8192 }, hostCpus: 2 }));
    assert.equal(spec.HostConfig!.NanoCpus, 2_000_000_000);
  });

  test('egress-proxy: no network, only the workspace and the egress socket directory mounted, proxies on loopback', () => {
    const spec = agentContainerSpec(input({ settings: { VILLAGE_AGENT_LOOP_MS: '500' } }));
    assert.equal(spec.HostConfig!.NetworkMode, 'none');
    assert.deepEqual(spec.HostConfig!.Mounts, [
      { Type: 'bind', Source: '/var/lib/village/workspaces/ada', Target: '/workspace' },
      { Type: 'bind', Source: '/run/village-egress/ada', Target: '/run/village', ReadOnly: false },
    ]);
    assert.equal(spec.HostConfig!.Binds, undefined);
    assert.deepEqual(envOf(spec), {
      VILLAGE_AGENT_LOOP_MS: '500',
      VILLAGE_AGENT_ID: 'ada',
      VILLAGE_AGENT_TOKEN: 'avt_ada-token',
      VILLAGE_URL: 'http://127.0.0.1:3128',
      VILLAGE_EGRESS_SOCKET: '/run/village/egress.sock',
      HTTP_PROXY: 'http://127.0.0.1:3128',
      HTTPS_PROXY: 'http://127.0.0.1:3128',
      http_proxy: 'http://127.0.0.1:3128',
      https_proxy: 'http://127.0.0.1:3128',
      NO_PROXY: '127.0.0.1,localhost,::1',
      no_proxy: '127.0.0.1,localhost,::1',
    });
    assert.equal(spec.Hostname, 'ada');
    assert.equal(spec.User, '0:0');
    assert.deepEqual(spec.Labels, { 'ai-village.role': 'agent', 'ai-village.agent': 'ada' });
  });

  test('host: the host network and the control plane directly, no proxy settings, no socket', () => {
    const spec = agentContainerSpec(
      input({ network: { mode: 'host', villageUrl: 'http://127.0.0.1:8080' }, workspace: 'village-ws-ada' }),
    );
    assert.equal(spec.HostConfig!.NetworkMode, 'host');
    assert.deepEqual(spec.HostConfig!.Mounts, [{ Type: 'volume', Source: 'village-ws-ada', Target: '/workspace' }]);
    assert.deepEqual(envOf(spec), {
      VILLAGE_AGENT_ID: 'ada',
      VILLAGE_AGENT_TOKEN: 'avt_ada-token',
      VILLAGE_URL: 'http://127.0.0.1:8080',
    });
    assert.equal(spec.Hostname, undefined);
  });

  test('settings: VILLAGE_* only, not the ones it sets itself, nothing named like a secret', () => {
    const refused: Record<string, RegExp> = {
      OPENAI_API_KEY: /only VILLAGE_\* settings/,
      PATH: /only VILLAGE_\* settings/,
      VILLAGE_AGENT_TOKEN: /set by the fleet itself/,
      VILLAGE_URL: /set by the fleet itself/,
      VILLAGE_ADMIN_TOKEN: /looks like a secret/,
      VILLAGE_GITHUB_SECRET: /looks like a secret/,
      VILLAGE_LLM_API_KEY: /looks like a secret/,
      VILLAGE_DB_PASSWORD: /looks like a secret/,
    };
    for (const [name, message] of Object.entries(refused)) {
      assert.throws(() => agentContainerSpec(input({ settings: { [name]: 'x' } })), message, name);
    }
    assert.throws(() => agentContainerSpec(input({ settings: { VILLAGE_AGENT_SEED: 'a\nb' } })), /must be one line/);
  });

  test('refuses what would weaken the boundary or cannot work', () => {
    const cases: [Partial<AgentContainerInput>, RegExp][] = [
      [{ workspace: '/' }, /the workspace must be an absolute, normalised directory other than \//],
      [{ workspace: '/var/lib/../../etc' }, /the workspace must be an absolute, normalised directory/],
      [{ workspace: 'ws/../x' }, /neither an absolute path nor a volume name/],
      [{ network: { mode: 'egress-proxy', socketDirectory: 'relative' } }, /the egress socket directory/],
      [{ network: { mode: 'host', villageUrl: 'file:///etc/passwd' } }, /must be http\(s\)/],
      [{ agentId: 'Ada Lovelace' }, /cannot name a container/],
      [{ token: '' }, /non-empty word/],
      [{ entitlements: { cpus: 0, memoryMb: 512 } }, /at least some CPU/],
      [{ entitlements: { cpus: 1, memoryMb: 16 } }, /64 MB/],
    ];
    for (const [overrides, message] of cases) {
      assert.throws(
        () => agentContainerSpec(input(overrides)),
        (error: unknown) => {
          assert.ok(error instanceof AgentContainerSpecError);
          assert.match(error.message, message);
          return true;
        },
      );
    }
  });
});
