// The GPU reporter end to end, against recordings: the fake nvidia-smi replays a recorded output whose
// PIDs are those of real processes (a container of an agent, a container of no agent, one of an agent
// the village does not know, a process on the host), so the reporter maps them through the real /proc
// and the real Docker engine; the real control plane bills the samples on its ledger. Then nvidia-smi
// hangs, loses its driver and prints nonsense, and the reporter keeps going; samples sent again change
// nothing; every agent sample is billed exactly once. A GPU in MIG mode maps a process to its slice.
import assert from 'node:assert/strict';
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { VillageClient } from '@ai-village/control-plane/contract';
import { ContainerDirectory } from '../src/gpu/container-directory.js';
import { DockerApi } from '../src/gpu/docker-api.js';
import { GpuReporter } from '../src/gpu/gpu-reporter.js';
import { GpuSampler } from '../src/gpu/gpu-sampler.js';
import { NvidiaSmi } from '../src/gpu/nvidia-smi.js';
import { eventually, startControlPlane, type ControlPlane } from './control-plane-process.js';
import { FAKE_NVIDIA_SMI, FIXTURES } from './gpu-fixtures.js';

const run = promisify(execFile);
const TEST_RUN_LABEL = 'ai-village.test-run';
const GPU0 = 'GPU-f2d6c8b4-1e3a-4c5d-9b7e-0a1b2c3d4e5f';
const GPU1 = 'GPU-0b9e8d7c-6a5f-4e3d-2c1b-a0f9e8d7c6b5';

/** The agent image's local base (any image with `sleep` would do; this one the test setup guarantees). */
async function baseImage(): Promise<string> {
  const script = new URL('../../docker/build-base-image.mjs', import.meta.url);
  const { baseReference } = (await import(script.href)) as { baseReference: () => { reference: string } };
  return baseReference().reference;
}

interface Container {
  id: string;
  pid: number;
}

async function container(image: string, labels: Record<string, string>, env: Record<string, string> = {}) {
  const args = ['run', '-d', '--rm', '--network', 'none', '--label', `${TEST_RUN_LABEL}=${process.pid}`];
  for (const [name, value] of Object.entries(labels)) args.push('--label', `${name}=${value}`);
  for (const [name, value] of Object.entries(env)) args.push('-e', `${name}=${value}`);
  const { stdout } = await run('docker', [...args, image, 'sleep', '600']);
  const id = stdout.trim();
  const { stdout: pid } = await run('docker', ['inspect', '-f', '{{.State.Pid}}', id]);
  return { id, pid: Number(pid.trim()) } satisfies Container;
}

describe('the GPU reporter', { timeout: 180_000 }, () => {
  let village: ControlPlane;
  let node: VillageClient;
  let recording: string;
  let host: ChildProcess;
  const containers: Record<string, Container> = {};
  const logged: { level: string; message: string; fields?: Record<string, unknown> }[] = [];

  before(async () => {
    village = await startControlPlane({
      env: {
        VILLAGE_GPU_BILLING_WINDOW_MS: '2000',
        VILLAGE_GPU_BILLING_GRACE_MS: '500',
        VILLAGE_GPU_BILLING_SWEEP_MS: '250',
      },
    });
    const image = await baseImage();
    await village.createAgent({ id: 'ada', displayName: 'Ada' });
    await village.createAgent({ id: 'bo', displayName: 'Bo' });
    await village.admin.createTransfer({
      debitAccount: 'treasury',
      creditAccount: 'agent:ada',
      amount: 100_000,
      reason: 'grant',
    });
    const { token } = await village.admin.registerNode({ name: 'sparky-gpu', labels: { gpu: 'h100' } });
    node = new VillageClient({ baseUrl: village.url, token });
    const [ada, llm, ghost, bo] = await Promise.all([
      container(image, { 'ai-village.agent': 'ada', 'ai-village.role': 'agent' }),
      // The site's LLM server: a container, but no agent's.
      container(image, { 'ai-village.role': 'llm' }),
      // An agent container of an agent this village does not know.
      container(image, { 'ai-village.agent': 'ghost' }),
      // Bo holds one 1g slice of the MIG GPU (as NVIDIA's container toolkit is told).
      container(
        image,
        { 'ai-village.agent': 'bo' },
        { NVIDIA_VISIBLE_DEVICES: 'MIG-50f1c4c9-1508-5e8d-bb06-d08145b22e01' },
      ),
    ]);
    Object.assign(containers, { ada, llm, ghost, bo });
    host = spawn('sleep', ['600'], { stdio: 'ignore' });
    recording = await mkdtemp(join(tmpdir(), 'village-gpu-recording-'));
    await useRecording('h100x2', [
      `${GPU0}, ${ada.pid}, 16264`,
      `${GPU0}, ${llm.pid}, 30000`,
      `${GPU1}, ${ghost.pid}, 2048`,
      `${GPU1}, ${host.pid}, 1024`,
    ]);
    process.env.FAKE_NVIDIA_SMI_DIR = recording;
  });

  after(async () => {
    host?.kill('SIGKILL');
    const ids = Object.values(containers).map((c) => c.id);
    if (ids.length) await run('docker', ['rm', '-f', ...ids]).catch(() => undefined);
    if (recording) await rm(recording, { recursive: true, force: true });
    await village?.dispose();
  });

  /** The recording the fake nvidia-smi replays from now on: a scenario's GPUs and these process lines. */
  async function useRecording(scenario: string, processes: string[] | null) {
    await rm(recording, { recursive: true, force: true });
    await cp(join(FIXTURES, scenario), recording, { recursive: true });
    if (processes) await writeFile(join(recording, 'query-compute-apps.txt'), `${processes.join('\n')}\n`);
  }

  function reporter(periodMs = 1_000) {
    return new GpuReporter({
      client: node,
      sampler: new GpuSampler({
        smi: new NvidiaSmi({ path: FAKE_NVIDIA_SMI, timeoutMs: 400 }),
        directory: new ContainerDirectory(new DockerApi()),
      }),
      periodMs,
      log: (level, message, fields) => logged.push({ level, message, ...(fields ? { fields } : {}) }),
    });
  }

  async function gpuTransfers(agentId: string) {
    const page = await village.admin.transfers({ filter: { reason: 'gpu_usage', agentId }, range: [0, 999] });
    return page.items;
  }

  test('samples of real processes become charges of their agents, once; nobody else is billed', async () => {
    const daemon = reporter();
    daemon.start();
    try {
      const first = await eventually(
        async () => (await village.admin.gpuUsage({ filter: { agentId: 'ada' } })).items[0],
        'a GPU bill for ada',
        20_000,
      );
      assert.ok(first.samples >= 1);
      assert.equal(first.status, 'charged');
      const [transfer] = await gpuTransfers('ada');
      assert.equal(transfer!.id, first.transferId);
      assert.equal(transfer!.amount, first.cost);
      assert.equal(transfer!.creditAccount.split('#')[0], 'compute_revenue');

      const samples = await village.admin.gpuSamples({ range: [0, 999] });
      const byPid = new Map(samples.items.map((s) => [s.pid, s]));
      assert.deepEqual(
        [containers.ada!.pid, containers.llm!.pid, containers.ghost!.pid, host.pid!].map((pid) => [
          byPid.get(pid)?.attribution,
          byPid.get(pid)?.containerId,
          byPid.get(pid)?.reportedAgentId,
        ]),
        [
          ['agent', containers.ada!.id, 'ada'],
          ['not_an_agent', containers.llm!.id, null],
          ['unknown_agent', containers.ghost!.id, 'ghost'],
          ['no_container', null, null],
        ],
      );
      // GPU 0 is 64% busy, shared by ada's process and the LLM server's: 0.32 GPU-seconds a second each.
      assert.ok(Math.abs(byPid.get(containers.ada!.pid)!.gpuSeconds - 0.32) < 1e-9);

      // A sample sent again (a retry, a restarted reporter) is the same key: nothing changes.
      const again = byPid.get(containers.ada!.pid)!.sampledAt;
      const sent = daemon.stats.sent;
      await daemon.sampleAt(new Date(again));
      assert.ok(daemon.stats.sent > sent, 'the sample was sent again');
      const atThatMoment = await village.admin.gpuSamples({ filter: { pid: containers.ada!.pid }, range: [0, 999] });
      assert.equal(atThatMoment.items.filter((s) => s.sampledAt === again).length, 1);
    } finally {
      await daemon.stop();
    }
    await settledBills();
  });

  test('nvidia-smi hanging, without its driver, or printing nonsense costs those samples only; the reporter goes on', async () => {
    const daemon = reporter();
    daemon.start();
    try {
      await eventually(() => daemon.stats.taken >= 1, 'a first sample');
      for (const [scenario, said] of [
        ['hang', /did not finish within 400 ms/],
        ['driver-error', /couldn't communicate with the NVIDIA driver/],
        ['unexpected', /line 1: 1 columns|process .* which --query-gpu did not list/],
        ['gpu-lost', /exited 15/],
        ['no-devices', /sees no GPU/],
      ] as const) {
        if (scenario === 'hang') {
          await writeFile(join(recording, 'hang'), '');
        } else {
          await useRecording(scenario, null);
        }
        await eventually(
          () => logged.some((entry) => said.test(entry.message) || said.test(JSON.stringify(entry.fields ?? {}))),
          `the reporter to say: ${said}`,
          10_000,
        );
      }
      const failed = daemon.stats.failed;
      await useRecording('h100x2', [`${GPU0}, ${containers.ada!.pid}, 16264`]);
      const taken = daemon.stats.taken;
      await eventually(() => daemon.stats.taken >= taken + 2, 'samples again after nvidia-smi recovered', 10_000);
      assert.ok(failed >= 3, `failed samples: ${failed}`);
      assert.equal(daemon.stats.refused, 0);
      assert.ok(logged.some((entry) => /^recovered: smi:/.test(entry.message)));
    } finally {
      await daemon.stop();
    }
    await settledBills();
  });

  test('a process on a GPU in MIG mode is billed for its own slice', async () => {
    await useRecording('a100-mig', [
      `GPU-7fdaf0a5-179b-f636-d15d-daf243e3ff16, ${containers.bo!.pid}, 9807`,
      `GPU-7fdaf0a5-179b-f636-d15d-daf243e3ff16, ${host.pid}, 1074`,
    ]);
    const sampler = new GpuSampler({
      smi: new NvidiaSmi({ path: FAKE_NVIDIA_SMI, timeoutMs: 2_000 }),
      directory: new ContainerDirectory(new DockerApi()),
    });
    const outcome = await sampler.take(new Date(), 1000);
    assert.ok(outcome.ok && !('noDevices' in outcome));
    const { sample, problems } = outcome;
    const slice = sample.devices.find((d) => d.uuid === 'MIG-50f1c4c9-1508-5e8d-bb06-d08145b22e01')!;
    assert.deepEqual(
      [slice.migProfile, slice.fraction, slice.gpuUuid],
      ['1g.10gb', 1 / 7, 'GPU-7fdaf0a5-179b-f636-d15d-daf243e3ff16'],
    );
    const bo = sample.processes.find((p) => p.pid === containers.bo!.pid)!;
    assert.deepEqual([bo.deviceUuid, bo.agentId], [slice.uuid, 'bo']);
    // The host process's slice cannot be known: it stays on the MIG GPU itself (part 0), and it is said.
    const hostProcess = sample.processes.find((p) => p.pid === host.pid)!;
    assert.equal(hostProcess.deviceUuid, 'GPU-7fdaf0a5-179b-f636-d15d-daf243e3ff16');
    assert.equal(sample.devices.find((d) => d.uuid === hostProcess.deviceUuid)!.fraction, 0);
    assert.ok(problems.some((p) => p.includes(`process ${host.pid} on GPU 0 (MIG): not in a container`)));
    const result = await node.reportGpuSamples([sample]);
    assert.deepEqual(result, { recorded: 2, duplicates: 0, unattributed: 1, expired: 0 });
    const stored = await village.admin.gpuSamples({ filter: { agentId: 'bo' } });
    assert.ok(Math.abs(stored.items[0]!.gpuSeconds - 1 / 7) < 1e-9);
  });

  /** Once every window is billed: every agent sample in exactly one bill, the bills equal the ledger. */
  async function settledBills() {
    await eventually(
      async () => (await village.admin.gpuSamples({ filter: { attribution: 'agent', billed: false } })).total === 0,
      'every agent sample billed',
      15_000,
    );
    const bills = (await village.admin.gpuUsage({ filter: { agentId: 'ada' }, range: [0, 999] })).items;
    const transfers = await gpuTransfers('ada');
    assert.equal(transfers.length, bills.filter((bill) => bill.charged > 0).length);
    assert.equal(
      transfers.reduce((sum, t) => sum + t.amount, 0),
      bills.reduce((sum, bill) => sum + bill.charged, 0),
    );
    assert.equal(new Set(transfers.map((t) => t.idempotencyKey)).size, transfers.length);
    const samples = (await village.admin.gpuSamples({ filter: { agentId: 'ada' }, range: [0, 999] })).items;
    assert.equal(
      bills.reduce((sum, bill) => sum + bill.samples, 0),
      samples.length,
    );
    assert.equal((await village.admin.verifyLedger()).ok, true);
  }
});
