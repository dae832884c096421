// Placement as a pure function: labels, cordons, down nodes, engines, CPU (over-committed) and memory
// (not), and the reason given when no node fits.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { NodeAllocation, NodeRecord } from '../src/fleet/nodes.service.js';
import { CPU_OVERCOMMIT, placeAgent } from '../src/fleet/placement.js';
import { createLimiter } from '../src/fleet/limiter.js';
import {
  agentContainerName,
  agentContainerSpec,
  GPU_REQUEST,
  VILLAGE_LABEL,
} from '../src/fleet/agent-container-spec.js';

function node(name: string, overrides: Partial<NodeRecord> = {}): NodeRecord {
  return {
    name,
    labels: {},
    engine: { kind: 'socket', socketPath: '/var/run/docker.sock' },
    engineProblem: undefined,
    network: { mode: 'egress-proxy', egressDir: '/run/village/egress' },
    cordoned: false,
    state: 'ready',
    stateError: null,
    checkedAt: new Date(),
    cpus: 8,
    memoryMb: 16_384,
    gpuCount: 0,
    ...overrides,
  };
}
const need = { cpus: 1, memoryMb: 1024, selector: {} };
const none = new Map<string, NodeAllocation>();

describe('placement', () => {
  test('the node with the most free memory, ties by name', () => {
    const nodes = [node('b'), node('a'), node('c', { memoryMb: 8192 })];
    assert.deepEqual(placeAgent(nodes, none, need), { node: 'a' });
    const used = new Map([['a', { agents: 4, cpus: 4, memoryMb: 4096 }]]);
    assert.deepEqual(placeAgent(nodes, used, need), { node: 'b' });
  });

  test('only nodes with every label of the selector', () => {
    const nodes = [node('plain'), node('gpu', { labels: { gpu: 'h200', zone: 'a' }, memoryMb: 1024 })];
    assert.deepEqual(placeAgent(nodes, none, { ...need, selector: { gpu: 'h200' } }), { node: 'gpu' });
    const refused = placeAgent(nodes, none, { ...need, selector: { gpu: 'h200', zone: 'b' } });
    assert.equal(refused.node, undefined);
    assert.match(
      refused.node === undefined ? refused.reason : '',
      /plain: lacks label gpu=h200, zone=b; gpu: lacks label zone=b/,
    );
  });

  test('never a cordoned node, a down node or one without an engine; say why', () => {
    const nodes = [
      node('cordoned', { cordoned: true }),
      node('down', { state: 'down', stateError: 'connect ECONNREFUSED' }),
      node('daemons', { engine: undefined }),
      node('sealed', { engine: undefined, engineProblem: 'the TLS key of node sealed cannot be opened' }),
    ];
    const placement = placeAgent(nodes, none, need);
    assert.equal(placement.node, undefined);
    const reason = placement.node === undefined ? placement.reason : '';
    assert.match(reason, /cordoned: cordoned/);
    assert.match(reason, /down: down \(connect ECONNREFUSED\)/);
    assert.match(reason, /daemons: no Docker engine/);
    assert.match(reason, /sealed: the TLS key/);
    assert.deepEqual(placeAgent([], none, need), {
      node: undefined,
      reason: 'no node with a Docker engine is registered',
    });
  });

  test('memory is not over-committed; CPUs are, up to a factor', () => {
    const small = node('small', { cpus: 2, memoryMb: 2048 });
    const full = new Map([['small', { agents: 2, cpus: 1, memoryMb: 1536 }]]);
    const refused = placeAgent([small], full, need);
    assert.match(refused.node === undefined ? refused.reason : '', /512 MB free, the tier needs 1024 MB/);
    const busy = new Map([['small', { agents: 7, cpus: 2 * CPU_OVERCOMMIT - 0.5, memoryMb: 0 }]]);
    const cpu = placeAgent([small], busy, need);
    assert.match(cpu.node === undefined ? cpu.reason : '', /0.5 CPUs left to give/);
    const room = new Map([['small', { agents: 3, cpus: 2 * CPU_OVERCOMMIT - 1, memoryMb: 0 }]]);
    assert.deepEqual(placeAgent([small], room, need), { node: 'small' });
  });

  test('a node whose capacity was never read is taken, after the ones that were', () => {
    const fresh = node('fresh', { cpus: null, memoryMb: null, state: 'unknown' });
    assert.deepEqual(placeAgent([fresh], none, need), { node: 'fresh' });
    assert.deepEqual(placeAgent([fresh, node('known', { memoryMb: 2048 })], none, need), { node: 'known' });
  });
});

describe('the limiter', () => {
  test('never runs more than its concurrency at once, and runs everything', async () => {
    const limited = createLimiter(3);
    let active = 0;
    let peak = 0;
    const done = await Promise.all(
      Array.from({ length: 20 }, (_, index) =>
        limited(async () => {
          active++;
          peak = Math.max(peak, active);
          await new Promise((resolve) => setTimeout(resolve, 2 + (index % 3)));
          active--;
          return index;
        }),
      ),
    );
    assert.equal(peak, 3);
    assert.deepEqual(
      done,
      Array.from({ length: 20 }, (_, index) => index),
    );
  });
});

describe('the container spec for the fleet', () => {
  const input = {
    agentId: 'ada',
    token: 'avt_x',
    entitlements: { cpus: 1, memoryMb: 512 },
    workspace: 'village-workspace-ada-0123abcd',
    network: { mode: 'egress-proxy' as const, socketDirectory: '/run/village/egress/ada' },
    image: 'ai-village/agent:latest',
  };

  test('GPUs only when asked (a tier with a GPU share on a node with GPUs), all of them through the NVIDIA runtime', () => {
    assert.equal(agentContainerSpec(input).HostConfig!.DeviceRequests, undefined);
    assert.deepEqual(agentContainerSpec({ ...input, gpus: true }).HostConfig!.DeviceRequests, [GPU_REQUEST]);
  });

  test("the village's label names the container apart from another village's on the same engine", () => {
    const spec = agentContainerSpec({ ...input, labels: { [VILLAGE_LABEL]: '0123abcdef' } });
    assert.equal(spec.name, 'village-agent-ada-0123abcd');
    assert.equal(spec.name, agentContainerName('ada', '0123abcdef'));
    assert.equal(spec.Labels![VILLAGE_LABEL], '0123abcdef');
    assert.equal(spec.Labels!['ai-village.agent'], 'ada', 'the spec’s own labels win');
    assert.equal(agentContainerSpec(input).name, 'village-agent-ada');
  });
});
