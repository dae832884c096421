// The GPU reporter's parts on their own: the nvidia-smi parser on recorded outputs (several GPUs, MIG,
// a vGPU with [Not Supported] fields, no GPU, a driver error, output it must not trust), the runner's
// verdicts on the fake nvidia-smi (hanging included), the cgroup → container rule, and the settings.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile, cp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { migSlicesOf, parseComputeApps, parseGpuList, parseGpuQuery } from '../src/gpu/nvidia-smi-parse.js';
import { NvidiaSmi } from '../src/gpu/nvidia-smi.js';
import { containerIdFromCgroup, containerOfPid } from '../src/gpu/process-container.js';
import { dockerSocketPath } from '../src/gpu/docker-api.js';
import { readReporterSettings } from '../src/gpu/reporter-settings.js';
import { GpuReporter } from '../src/gpu/gpu-reporter.js';
import type { SampleOutcome } from '../src/gpu/gpu-sampler.js';
import { VillageApiError, type GpuSample } from '@ai-village/control-plane/contract';
import { FAKE_NVIDIA_SMI, FIXTURES } from './gpu-fixtures.js';

const recorded = (scenario: string, query: string) => readFile(join(FIXTURES, scenario, `${query}.txt`), 'utf8');

describe('the nvidia-smi parser', () => {
  test('eight GPUs of a DGX and their compute processes', async () => {
    const gpus = parseGpuQuery(await recorded('dgx-h100x8', 'query-gpu'));
    assert.deepEqual(gpus.problems, []);
    assert.equal(gpus.rows.length, 8);
    assert.deepEqual(gpus.rows[4], {
      index: 4,
      uuid: 'GPU-5d5ba0d6-d33d-2b2c-524d-9e3d8d2b8a77',
      name: 'NVIDIA H100 80GB HBM3',
      memoryTotalMib: 81559,
      memoryUsedMib: 20991,
      utilizationPercent: 37,
      mig: false,
    });
    const apps = parseComputeApps(await recorded('dgx-h100x8', 'query-compute-apps'));
    assert.deepEqual(apps.problems, []);
    assert.equal(apps.rows.length, 8);
    // One process on four GPUs is four rows (the LLM server spans GPUs 0-3).
    assert.equal(apps.rows.filter((app) => app.pid === 2841).length, 4);
    assert.deepEqual(apps.rows[4], {
      gpuUuid: 'GPU-5d5ba0d6-d33d-2b2c-524d-9e3d8d2b8a77',
      pid: 31337,
      usedMemoryMib: 12288,
    });
  });

  test('a GPU in MIG mode: no utilization, and its MIG devices from -L with their slices', async () => {
    const gpus = parseGpuQuery(await recorded('a100-mig', 'query-gpu'));
    assert.deepEqual(gpus.problems, []);
    assert.deepEqual(
      gpus.rows.map((gpu) => [gpu.index, gpu.mig, gpu.utilizationPercent]),
      [
        [0, true, null],
        [1, false, 41],
      ],
    );
    const list = parseGpuList(await recorded('a100-mig', 'list-gpus'));
    assert.deepEqual(list.problems, []);
    assert.deepEqual(
      list.rows.map((device) => [device.gpuIndex, device.index, device.profile, device.slices]),
      [
        [0, 0, '3g.40gb', 3],
        [0, 1, '2g.20gb', 2],
        [0, 2, '1g.10gb', 1],
        [0, 3, '1g.10gb', 1],
      ],
    );
    assert.equal(list.rows[2]!.uuid, 'MIG-50f1c4c9-1508-5e8d-bb06-d08145b22e01');
    assert.equal(migSlicesOf('NVIDIA A100-SXM4-80GB'), 7);
    assert.equal(migSlicesOf('NVIDIA H200'), 7);
    assert.equal(migSlicesOf('NVIDIA A30'), 4);
    // Newer profiles (with media extensions) and the older MIG UUID form parse too.
    const newer = parseGpuList(
      'GPU 0: NVIDIA H200 (UUID: GPU-a28ad590-3fda-56dd-84fc-0a0b96edc58d)\n' +
        '  MIG 1g.18gb+me   Device  0: (UUID: MIG-GPU-a28ad590-3fda-56dd-84fc-0a0b96edc58d/7/0)\n',
    );
    assert.deepEqual(newer.problems, []);
    assert.deepEqual(
      [newer.rows[0]!.profile, newer.rows[0]!.uuid],
      ['1g.18gb+me', 'MIG-GPU-a28ad590-3fda-56dd-84fc-0a0b96edc58d/7/0'],
    );
  });

  test('[Not Supported] and [N/A] are unknown values, not errors, where a column may be unknown', async () => {
    const gpus = parseGpuQuery(await recorded('vgpu-not-supported', 'query-gpu'));
    assert.deepEqual(gpus.problems, []);
    assert.deepEqual([gpus.rows[0]!.utilizationPercent, gpus.rows[0]!.mig], [null, false]);
    const apps = parseComputeApps(await recorded('vgpu-not-supported', 'query-compute-apps'));
    assert.deepEqual(apps.problems, []);
    assert.deepEqual(
      apps.rows.map((app) => [app.pid, app.usedMemoryMib]),
      [
        [3131, null],
        [3377, null],
      ],
    );
  });

  test('lines it cannot trust are left out and named; the good ones are kept', async () => {
    const gpus = parseGpuQuery(await recorded('unexpected', 'query-gpu'));
    assert.deepEqual(
      gpus.rows.map((gpu) => gpu.index),
      [0],
    );
    assert.equal(gpus.problems.length, 5);
    assert.match(gpus.problems[0]!, /^line 1: 1 columns, expected 7/);
    assert.match(gpus.problems[1]!, /^line 2: index "index" is not a whole number/);
    assert.match(gpus.problems[2]!, /^line 4: 4 columns, expected 7/);
    assert.match(gpus.problems[3]!, /^line 5: memory.used "lots" is not a whole number/);
    assert.match(gpus.problems[4]!, /^line 6: GPU UUID "\[Unknown Error\]" is not a GPU UUID/);
    const apps = parseComputeApps(await recorded('unexpected', 'query-compute-apps'));
    assert.deepEqual(
      apps.rows.map((app) => app.pid),
      [6002, 6003],
    );
    assert.deepEqual(
      apps.problems.map((problem) => problem.slice(0, 20)),
      ['line 3: pid is [N/A]', 'line 4: 1 columns, e'],
    );
    assert.deepEqual(parseComputeApps('No running processes found\n'), { rows: [], problems: [] });
    assert.deepEqual(parseComputeApps(''), { rows: [], problems: [] });
    assert.equal(
      parseGpuQuery('0, GPU-8932f937-d72c-4106-c12f-20bd9faed9f6, X, 1, 1, 101, Disabled').problems.length,
      1,
    );
  });
});

describe('running nvidia-smi', () => {
  const smi = (scenario: string, timeoutMs = 2_000) => {
    process.env.FAKE_NVIDIA_SMI_DIR = join(FIXTURES, scenario);
    return new NvidiaSmi({ path: FAKE_NVIDIA_SMI, timeoutMs });
  };

  test('its output, or no devices, or a driver error, or an exit code: said plainly', async () => {
    const ok = await smi('h100x2').gpus();
    assert.ok(ok.ok && !('noDevices' in ok) && ok.stdout.includes('NVIDIA H100 PCIe'));
    assert.deepEqual(await smi('no-devices').gpus(), { ok: true, noDevices: true, stdout: '' });
    const driver = await smi('driver-error').gpus();
    assert.equal(driver.ok, false);
    assert.ok(!driver.ok && driver.failure === 'driver' && driver.exitCode === 9);
    assert.match(!driver.ok ? driver.message : '', /couldn't communicate with the NVIDIA driver/);
    const lost = await smi('gpu-lost').computeApps();
    assert.ok(!lost.ok && lost.failure === 'failed' && lost.exitCode === 15);
    assert.match(!lost.ok ? lost.message : '', /exited 15: Unable to determine the device handle/);
    const missing = await new NvidiaSmi({ path: '/nonexistent/nvidia-smi' }).gpus();
    assert.ok(!missing.ok && missing.failure === 'missing');
    const capped = await new NvidiaSmi({ path: FAKE_NVIDIA_SMI, maxBuffer: 64 }).gpus();
    assert.ok(!capped.ok && capped.failure === 'too-much-output');
  });

  test('a hanging nvidia-smi is killed at the time limit', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'village-smi-hang-'));
    try {
      await cp(join(FIXTURES, 'h100x2'), dir, { recursive: true });
      await writeFile(join(dir, 'hang'), '');
      process.env.FAKE_NVIDIA_SMI_DIR = dir;
      const started = Date.now();
      const hung = await new NvidiaSmi({ path: FAKE_NVIDIA_SMI, timeoutMs: 300 }).gpus();
      assert.ok(!hung.ok && hung.failure === 'timeout', JSON.stringify(hung));
      assert.ok(Date.now() - started < 2_000, 'it does not wait for the hung program');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('a process and its container', () => {
  const ID = 'c483ac289cf8690bbade7c22b58e389dfbe7e36a8713c24ce69abffeef9c24bd';
  const INNER = '4f1b8e0c7d2a9e6b5c3f1a0d8e7b6c5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c';

  test('the container id in every cgroup layout Docker and Kubernetes use, and none outside containers', () => {
    // cgroup v1 with the cgroupfs driver (as on this machine).
    assert.equal(containerIdFromCgroup(`12:memory:/docker/${ID}\n4:pids:/docker/${ID}\n0::/docker/${ID}\n`), ID);
    assert.equal(containerIdFromCgroup(`12:memory:/docker/${ID}\n1:name=systemd:/docker/${ID}\n`), ID);
    // cgroup v2 with systemd.
    assert.equal(containerIdFromCgroup(`0::/system.slice/docker-${ID}.scope\n`), ID);
    // Kubernetes with containerd, and CRI-O.
    assert.equal(
      containerIdFromCgroup(
        `0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod0b1c2d3e_4f5a_6b7c_8d9e_0f1a2b3c4d5e.slice/cri-containerd-${ID}.scope\n`,
      ),
      ID,
    );
    assert.equal(containerIdFromCgroup(`0::/kubepods/besteffort/pod1234/crio-${ID}\n`), ID);
    // Docker in Docker: the innermost container is the process's own.
    assert.equal(containerIdFromCgroup(`0::/docker/${ID}/docker/${INNER}\n`), INNER);
    // A host process, and a process in a non-container cgroup with a shorter hex name.
    assert.equal(containerIdFromCgroup('0::/user.slice/user-0.slice/session-3.scope\n'), null);
    assert.equal(containerIdFromCgroup('4:memory:/process_api/94a29e21e41f6d980a293e85d5e86c0d\n0::/\n'), null);
  });

  test('read from /proc: this process is in none of them; a process that is gone is nobody’s', async () => {
    const proc = await mkdtemp(join(tmpdir(), 'village-proc-'));
    try {
      assert.equal(await containerOfPid(999_999_999, proc), null);
      const own = await readFile(`/proc/${process.pid}/cgroup`, 'utf8');
      assert.equal(await containerOfPid(process.pid), containerIdFromCgroup(own));
    } finally {
      await rm(proc, { recursive: true, force: true });
    }
  });
});

describe('the reporter settings', () => {
  test('defaults, and every refusal names its variable', () => {
    const base = { VILLAGE_URL: 'http://127.0.0.1:8080', VILLAGE_NODE_TOKEN: 'vnt_abc' };
    assert.deepEqual(readReporterSettings(base), {
      controlPlaneUrl: 'http://127.0.0.1:8080',
      nodeToken: 'vnt_abc',
      periodMs: 10_000,
      nvidiaSmi: 'nvidia-smi',
      nvidiaSmiTimeoutMs: 5_000,
      procRoot: '/proc',
      dockerHost: undefined,
    });
    assert.throws(() => readReporterSettings({ ...base, VILLAGE_NODE_TOKEN: ' ' }), /VILLAGE_NODE_TOKEN is required/);
    assert.throws(() => readReporterSettings({ ...base, VILLAGE_URL: 'ftp://x' }), /VILLAGE_URL/);
    assert.throws(
      () => readReporterSettings({ ...base, VILLAGE_GPU_PERIOD_MS: '500' }),
      /VILLAGE_GPU_PERIOD_MS must be at least 1000/,
    );
    assert.throws(
      () => readReporterSettings({ ...base, VILLAGE_GPU_PERIOD_MS: '2000', VILLAGE_NVIDIA_SMI_TIMEOUT_MS: '2000' }),
      /VILLAGE_NVIDIA_SMI_TIMEOUT_MS must be shorter than VILLAGE_GPU_PERIOD_MS/,
    );
    assert.throws(() => readReporterSettings({ ...base, VILLAGE_GPU_PROC_ROOT: 'proc' }), /VILLAGE_GPU_PROC_ROOT/);
    assert.equal(dockerSocketPath('unix:///run/docker.sock'), '/run/docker.sock');
    assert.equal(dockerSocketPath(undefined), '/var/run/docker.sock');
    assert.throws(() => dockerSocketPath('tcp://10.0.0.1:2376'), /unix:\/\/ socket/);
  });
});

describe('the reporter loop', () => {
  const outcome = (at: Date, periodMs: number): SampleOutcome => ({
    ok: true,
    sample: {
      sampledAt: at.toISOString(),
      periodMs,
      devices: [],
      processes: [{ deviceUuid: 'GPU-x', pid: 1, usedMemoryMib: 1, containerId: null, agentId: null }],
    },
    problems: [],
    memory: { usedMib: 1, agentMib: 0 },
  });

  test('samples wait while the control plane is away and go in order; a refused batch is dropped, said, and not retried', async () => {
    const sent: string[][] = [];
    const answers: (Error | null)[] = [
      new VillageApiError(503, undefined, '/api/gpu/samples'),
      null,
      new VillageApiError(400, { statusCode: 400, error: 'Bad Request', message: 'no' }, '/api/gpu/samples'),
      null,
    ];
    const logged: string[] = [];
    const reporter = new GpuReporter({
      client: {
        reportGpuSamples: async (samples: GpuSample[]) => {
          const answer = answers.shift();
          if (answer) throw answer;
          sent.push(samples.map((s) => s.sampledAt));
          return { recorded: samples.length, duplicates: 0, unattributed: 0, expired: 0 };
        },
      },
      sampler: { take: async (at, periodMs) => outcome(at, periodMs) },
      periodMs: 1000,
      log: (level, message) => logged.push(`${level} ${message}`),
    });
    const at = (s: number) => new Date(Date.UTC(2026, 11, 2, 10, 0, s));
    await reporter.sampleAt(at(1)); // 503: kept
    assert.equal(reporter.queued, 1);
    assert.ok(logged.some((line) => line.startsWith('warn could not send GPU samples')));
    await reporter.sampleAt(at(2)); // both go, oldest first
    assert.deepEqual(sent, [[at(1).toISOString(), at(2).toISOString()]]);
    await reporter.sampleAt(at(3)); // 400: dropped
    assert.equal(reporter.queued, 0);
    assert.equal(reporter.stats.refused, 1);
    assert.ok(logged.some((line) => line.startsWith('error the control plane refused GPU samples')));
    await reporter.sampleAt(at(4));
    assert.deepEqual(sent.at(-1), [at(4).toISOString()]);
    assert.ok(logged.some((line) => line === 'info recovered: send'));
  });

  test('a full queue drops the oldest samples and says so; a failed sample is said once a minute', async () => {
    const logged: string[] = [];
    const reporter = new GpuReporter({
      client: {
        reportGpuSamples: () => Promise.reject(new Error('connect ECONNREFUSED')),
      },
      sampler: { take: async (at, periodMs) => outcome(at, periodMs) },
      periodMs: 1000,
      queueLimit: 2,
      log: (level, message) => logged.push(`${level} ${message}`),
    });
    for (let s = 0; s < 5; s++) await reporter.sampleAt(new Date(Date.UTC(2026, 11, 2, 10, 0, s)));
    assert.equal(reporter.queued, 2);
    assert.equal(reporter.stats.dropped, 3);
    assert.equal(logged.filter((line) => line.includes('the control plane was away too long')).length, 1);
    assert.equal(logged.filter((line) => line.includes('could not send GPU samples')).length, 1);

    const failing = new GpuReporter({
      client: { reportGpuSamples: () => Promise.reject(new Error('unused')) },
      sampler: {
        take: async () => ({ ok: false, failure: 'timeout', message: 'nvidia-smi did not finish within 5000 ms' }),
      },
      log: (level, message) => logged.push(`${level} ${message}`),
    });
    for (let s = 0; s < 4; s++) await failing.sampleAt(new Date(Date.UTC(2026, 11, 2, 10, 0, s * 10)));
    assert.equal(failing.stats.failed, 4);
    assert.equal(logged.filter((line) => line.includes('did not finish within 5000 ms')).length, 1);
  });
});
