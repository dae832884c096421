// The GPU-share rules on their own: a device's time split between its processes, MIG slices, unknown
// utilization, memory, and the price of a bill.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { GpuSampleSchema, type GpuSample } from '../src/contract/index.js';
import { gpuMills, processShares, roundedBill } from '../src/gpu/gpu-share.js';

const device = (uuid: string, fraction: number, utilizationPercent: number | null) => ({
  uuid,
  gpuUuid: uuid.startsWith('MIG-') ? 'GPU-parent' : uuid,
  index: 0,
  name: 'NVIDIA A100-SXM4-80GB',
  migProfile: uuid.startsWith('MIG-') ? '1g.10gb' : null,
  fraction,
  memoryTotalMib: 81920,
  memoryUsedMib: 0,
  utilizationPercent,
});
const process = (deviceUuid: string, pid: number, usedMemoryMib: number | null) => ({
  deviceUuid,
  pid,
  usedMemoryMib,
  containerId: null,
  agentId: null,
});

function shares(sample: GpuSample) {
  return processShares(GpuSampleSchema.parse(sample)).map((share) => [
    share.process.pid,
    Number(share.gpuSeconds.toFixed(6)),
    Number(share.gpuMemoryGibSeconds.toFixed(6)),
  ]);
}

describe('GPU shares', () => {
  test("a device's busy time is split equally between its processes; memory is each one's own", () => {
    const sample: GpuSample = {
      sampledAt: '2026-12-02T10:00:10Z',
      periodMs: 10_000,
      devices: [device('GPU-a', 1, 80), device('GPU-b', 1, 0)],
      processes: [process('GPU-a', 1, 1024), process('GPU-a', 2, 3072), process('GPU-b', 3, 512)],
    };
    assert.deepEqual(shares(sample), [
      [1, 4, 10],
      [2, 4, 30],
      // An idle GPU costs no time, only the memory held on it.
      [3, 0, 5],
    ]);
  });

  test('a MIG slice counts as its part of the GPU and as busy; the MIG GPU itself (slice unknown) as nothing', () => {
    const sample: GpuSample = {
      sampledAt: '2026-12-02T10:00:10Z',
      periodMs: 7_000,
      devices: [device('MIG-one', 1 / 7, null), device('GPU-parent', 0, null)],
      processes: [process('MIG-one', 10, null), process('GPU-parent', 11, 2048)],
    };
    assert.deepEqual(shares(sample), [
      [10, 1, 0],
      [11, 0, 14],
    ]);
  });

  test('a bill is priced per GPU-hour and GiB-hour', () => {
    const price = { gpuHour: 36_000, memoryGibHour: 3_600 };
    assert.equal(gpuMills({ gpuSeconds: 10, gpuMemoryGibSeconds: 5 }, price), 105);
    assert.equal(gpuMills({ gpuSeconds: 0.04, gpuMemoryGibSeconds: 0 }, price), 0.4);
    assert.equal(gpuMills({ gpuSeconds: 3600, gpuMemoryGibSeconds: 0 }, { gpuHour: 0, memoryGibHour: 1 }), 0);
  });

  test('bills are whole mills; what rounding leaves is carried to the next bill, so nothing is lost', () => {
    // 0.4 mills a bill: nothing, then 1 (0.8 owed), then nothing (0.2), then 1 (0.6)...
    let carry = 0;
    const costs: number[] = [];
    for (let bill = 0; bill < 10; bill++) {
      const next = roundedBill(0.4, carry);
      costs.push(next.cost);
      carry = next.carry;
      assert.ok(carry > -0.5 && carry <= 0.5, `carry ${carry}`);
    }
    assert.deepEqual(costs, [0, 1, 0, 1, 0, 0, 1, 0, 1, 0]);
    assert.equal(
      costs.reduce((a, b) => a + b),
      4,
    );
    assert.deepEqual(roundedBill(105, 0), { cost: 105, carry: 0 });
    assert.equal(roundedBill(1e16, 0).cost, 1_000_000_000_000);
  });
});
