// `npm run bench -- gpu`: the GPU reporter, as issue 7 asks: its CPU cost per sample and the share of
// agents' GPU memory it attributes to the right agent. No GPU here: the real daemon
// (agent-image/dist/src/gpu/main.js, as a node runs it) reads the fake nvidia-smi replaying the DGX
// recording (agent-image/test/fixtures/nvidia-smi/dgx-h100x8: the site's LLM server on GPUs 0-3),
// whose agent processes are real: BENCH_GPU_AGENTS (8) containers on the real Docker engine, labelled
// as the fleet labels them, on GPUs 4-7, and a container of no agent on GPU 7. Every few seconds one
// agent's container is replaced (a new PID, as the reconcile loop does), so the reporter meets
// containers it has never seen and processes that are gone. It samples every second for
// BENCH_GPU_SECONDS (40) against a real control plane, which bills every window.
//   1. CPU per sample: the daemon's own CPU time (utime + stime from /proc) over the samples it took;
//      the stand-in nvidia-smi's CPU (its children's) is shown apart: a real nvidia-smi costs more and
//      cannot be measured here. Aim: under 1% of one core at the default 10 s period.
//   2. Attributed: of the GPU memory held by processes in agents' containers (the truth the benchmark
//      knows), the part the samples attribute to the container's own agent. Aim: at least 99%.
//   3. Billed once: every agent sample in one bill, the bills' sum equal to the ledger's gpu_usage.
//   4. The parser alone: parsing the DGX recording's three outputs, per sample.
import { execFileSync, spawn } from 'node:child_process';
import { readFile, rename, mkdtemp, rm, writeFile, cp } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type Docker from 'dockerode';
import pg from 'pg';
import { VillageClient } from '../src/contract/index.js';
import { connectDocker } from '../test/support/docker.js';
import { BENCH_ADMIN_TOKEN, sleep, startControlPlane } from './control-plane-process.js';
import { printColumns } from './table.js';

const AGENTS = Number(process.env.BENCH_GPU_AGENTS ?? 8);
const SECONDS = Number(process.env.BENCH_GPU_SECONDS ?? 40);
const CHURN_EVERY_MS = Number(process.env.BENCH_GPU_CHURN_MS ?? 5_000);
const PERIOD_MS = 1_000;
const DEFAULT_PERIOD_MS = 10_000;
const AIM_CORE_PERCENT = 1;
const AIM_ATTRIBUTED = 0.99;
const RUN_LABEL = 'ai-village.bench-run';

const REPOSITORY = fileURLToPath(new URL('../../../', import.meta.url));
const FIXTURES = join(REPOSITORY, 'agent-image/test/fixtures/nvidia-smi');
const REPORTER = join(REPOSITORY, 'agent-image/dist/src/gpu/main.js');
const AGENT_GPUS = [
  'GPU-5d5ba0d6-d33d-2b2c-524d-9e3d8d2b8a77',
  'GPU-7fdaf0a5-179b-f636-d15d-daf243e3ff16',
  'GPU-c7384736-a75d-5afc-978f-d2f1294409fd',
  'GPU-a28ad590-3fda-56dd-84fc-0a0b96edc58d',
];
const LLM_GPUS = [
  'GPU-8932f937-d72c-4106-c12f-20bd9faed9f6',
  'GPU-41255406-c9af-f94b-4ebf-9d57ad1853da',
  'GPU-20bed2f5-819b-69ad-8d42-d3e1446080c1',
  'GPU-e86cb44c-6756-fd30-cd4a-1e6da3caf9b0',
];

interface Running {
  agentId: string | null;
  container: Docker.Container;
  id: string;
  pid: number;
  mib: number;
  gpu: string;
}

async function main() {
  console.log(
    `AI Village GPU reporter benchmark: ${AGENTS} agent containers (one replaced every ${CHURN_EVERY_MS / 1000} s), ` +
      `a sample a second for ${SECONDS} s, the fake nvidia-smi replaying eight H100s`,
  );
  console.log(
    `node: ${cpus().length} CPUs (${cpus()[0]?.model ?? 'unknown'}), load average ${loadavg()[0]!.toFixed(1)}`,
  );
  const docker = await connectDocker();
  const image = await baseImage();
  const server = await startControlPlane({
    VILLAGE_GPU_BILLING_WINDOW_MS: '5000',
    VILLAGE_GPU_BILLING_GRACE_MS: '1500',
    VILLAGE_GPU_BILLING_SWEEP_MS: '500',
  });
  const database = new pg.Pool({ connectionString: server.databaseUrl, max: 2 });
  const recording = await mkdtemp(join(tmpdir(), 'village-gpu-bench-'));
  const running: Running[] = [];
  /** Every PID the recording ever listed, and whose it truly was. */
  const truth = new Map<number, string | null>();
  let reporter: ReturnType<typeof spawn> | undefined;
  try {
    const admin = new VillageClient({ baseUrl: server.base.href, token: BENCH_ADMIN_TOKEN });
    const { token } = await admin.registerNode({ name: 'bench-gpu', labels: {} });
    for (let i = 0; i < AGENTS; i++) {
      const agentId = `gpu-bench-${i}`;
      await admin.createAgent({ id: agentId, displayName: `GPU ${i}` });
      await admin.createTransfer({
        debitAccount: 'treasury',
        creditAccount: `agent:${agentId}`,
        amount: 1_000_000,
        reason: 'grant',
      });
      running.push(await start(docker, image, agentId, AGENT_GPUS[i % AGENT_GPUS.length]!, 2048 + 512 * i));
    }
    running.push(await start(docker, image, null, AGENT_GPUS[3]!, 8000));
    const host = { pid: process.pid, mib: 0 };
    await cp(join(FIXTURES, 'dgx-h100x8'), recording, { recursive: true });
    const write = async () => {
      const lines = [
        // The site's LLM server, on the host (this process stands in for it: a PID outside containers).
        ...LLM_GPUS.map((gpu) => `${gpu}, ${host.pid}, 70724`),
        ...running.map((r) => `${r.gpu}, ${r.pid}, ${r.mib}`),
      ];
      for (const r of running) truth.set(r.pid, r.agentId);
      truth.set(host.pid, null);
      // Replaced whole, so the stand-in never reads half a file.
      await writeFile(join(recording, 'next.txt'), `${lines.join('\n')}\n`);
      await rename(join(recording, 'next.txt'), join(recording, 'query-compute-apps.txt'));
    };
    await write();

    reporter = spawn(process.execPath, [REPORTER], {
      env: {
        ...process.env,
        VILLAGE_URL: server.base.href,
        VILLAGE_NODE_TOKEN: token,
        VILLAGE_GPU_PERIOD_MS: String(PERIOD_MS),
        VILLAGE_NVIDIA_SMI: join(FIXTURES, 'fake-nvidia-smi'),
        VILLAGE_NVIDIA_SMI_TIMEOUT_MS: '800',
        FAKE_NVIDIA_SMI_DIR: recording,
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    // Measured from its first sample on: loading its modules is a start-up cost, not a sample's.
    await waitFor(async () => {
      const { rows: first } = await database.query<{ n: number }>(`SELECT count(*)::int AS n FROM gpu_samples`);
      return first[0]!.n > 0;
    }, 30_000);
    const cpuBefore = await cpuOf(reporter.pid!);
    const started = performance.now();
    let replaced = 0;
    let next = 0;
    while (performance.now() - started < SECONDS * 1000) {
      await sleep(CHURN_EVERY_MS);
      // The reconcile loop replaces an agent's container: the new one first, then the old one goes.
      const old = running[next]!;
      const fresh = await start(docker, image, old.agentId, old.gpu, old.mib);
      running[next] = fresh;
      await write();
      await old.container.remove({ force: true });
      replaced++;
      next = (next + 1) % AGENTS;
    }
    const cpuAfter = await cpuOf(reporter.pid!);
    const elapsedMs = performance.now() - started;
    reporter.kill('SIGTERM');
    await new Promise((resolve) => reporter!.once('exit', resolve));

    // What the control plane stored from the daemon.
    const { rows } = await database.query<{
      pid: number;
      sampled_at: Date;
      used_memory_mib: number;
      agent_id: string | null;
    }>(`SELECT pid, sampled_at, used_memory_mib, agent_id FROM gpu_samples WHERE node = 'bench-gpu'`);
    const moments = new Set(rows.map((row) => row.sampled_at.getTime()));
    // The samples taken between the two readings (a sample's time is when it was due, just before it is taken).
    const measured = [...moments].filter((at) => at > cpuBefore.at && at <= cpuAfter.at).length;
    let agentMib = 0;
    let rightMib = 0;
    let wrongMib = 0;
    for (const row of rows) {
      const owner = truth.get(row.pid);
      if (!owner) continue;
      agentMib += row.used_memory_mib;
      if (row.agent_id === owner) rightMib += row.used_memory_mib;
      else if (row.agent_id !== null) wrongMib += row.used_memory_mib;
    }
    const ticks = clockTicks();
    const ownMs = ((cpuAfter.own - cpuBefore.own) / ticks) * 1000;
    const childMs = ((cpuAfter.children - cpuBefore.children) / ticks) * 1000;
    const perSample = ownMs / Math.max(1, measured);
    const childPerSample = childMs / Math.max(1, measured);
    const attributed = agentMib === 0 ? 0 : rightMib / agentMib;

    // Every window billed once.
    await waitFor(async () => {
      const { rows: left } = await database.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM gpu_samples WHERE agent_id IS NOT NULL AND usage_id IS NULL`,
      );
      return left[0]!.n === 0;
    }, 20_000);
    const { rows: money } = await database.query<{
      bills: number;
      charged: string;
      ledger: string;
      keys: number;
      transfers: number;
    }>(
      `SELECT (SELECT count(*)::int FROM gpu_usage) AS bills,
              (SELECT coalesce(sum(charged), 0) FROM gpu_usage) AS charged,
              (SELECT coalesce(sum(amount), 0) FROM ledger_transfers WHERE reason = 'gpu_usage') AS ledger,
              (SELECT count(DISTINCT idempotency_key)::int FROM ledger_transfers WHERE reason = 'gpu_usage') AS keys,
              (SELECT count(*)::int FROM ledger_transfers WHERE reason = 'gpu_usage') AS transfers`,
    );
    const verified = await admin.verifyLedger();
    const parse = await parserCost();

    printColumns(
      ['measure', 'value', 'aim'],
      [
        ['samples taken (1 s period)', String(measured), ''],
        ['containers replaced meanwhile', String(replaced), ''],
        ["daemon's CPU per sample", `${perSample.toFixed(2)} ms`, ''],
        [
          '  as % of one core at a 10 s period',
          `${((perSample / DEFAULT_PERIOD_MS) * 100).toFixed(3)} %`,
          `< ${AIM_CORE_PERCENT} %`,
        ],
        ['  as % of one core at a 1 s period', `${((perSample / PERIOD_MS) * 100).toFixed(3)} %`, ''],
        ["stand-in nvidia-smi's CPU per sample", `${childPerSample.toFixed(2)} ms`, '(not the real one)'],
        ['parsing the three outputs, per sample', `${parse.toFixed(3)} ms`, ''],
        [
          "agents' GPU memory attributed to their agent",
          `${(attributed * 100).toFixed(2)} %`,
          `≥ ${AIM_ATTRIBUTED * 100} %`,
        ],
        ['  attributed to a wrong agent', `${wrongMib} MiB`, '0'],
        ['bills (agent × window)', String(money[0]!.bills), ''],
        ['charged in bills = gpu_usage in the ledger', `${money[0]!.charged} = ${money[0]!.ledger} mills`, 'equal'],
        ['gpu_usage transfers, distinct keys', `${money[0]!.transfers}, ${money[0]!.keys}`, 'equal'],
        ['ledger verified', String(verified.ok), 'true'],
      ],
      { first: 1, last: 1 },
    );
    console.log(`\n(${(elapsedMs / 1000).toFixed(1)} s measured; load average at the end ${loadavg()[0]!.toFixed(1)})`);
    const problems = [
      wrongMib > 0 ? 'memory was attributed to a wrong agent' : '',
      money[0]!.charged !== money[0]!.ledger ? 'bills and ledger disagree' : '',
      money[0]!.transfers !== money[0]!.keys ? 'a window was charged twice' : '',
      verified.ok ? '' : 'the ledger does not verify',
      measured === 0 ? 'no sample was taken' : '',
    ].filter(Boolean);
    if (problems.length) throw new Error(problems.join('; '));
  } finally {
    if (reporter && reporter.exitCode === null) reporter.kill('SIGKILL');
    await Promise.all(running.map((r) => r.container.remove({ force: true }).catch(() => undefined)));
    await rm(recording, { recursive: true, force: true });
    await database.end();
    await server.stop();
  }
}

async function start(
  docker: Docker,
  image: string,
  agentId: string | null,
  gpu: string,
  mib: number,
): Promise<Running> {
  const container = await docker.createContainer({
    Image: image,
    Cmd: ['sleep', '3600'],
    Labels: {
      [RUN_LABEL]: String(process.pid),
      ...(agentId ? { 'ai-village.agent': agentId, 'ai-village.role': 'agent' } : { 'ai-village.role': 'llm' }),
    },
    HostConfig: { NetworkMode: 'none' },
  });
  await container.start();
  const info = await container.inspect();
  return { agentId, container, id: info.Id, pid: info.State.Pid, mib, gpu };
}

async function baseImage(): Promise<string> {
  const script = new URL('../../../agent-image/docker/build-base-image.mjs', import.meta.url);
  const { baseReference } = (await import(script.href)) as { baseReference: () => { reference: string } };
  return baseReference().reference;
}

/** A process's CPU time so far, in clock ticks: its own, and its waited-for children's. */
async function cpuOf(pid: number) {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return {
    at: Date.now(),
    own: Number(fields[11]) + Number(fields[12]),
    children: Number(fields[13]) + Number(fields[14]),
  };
}

function clockTicks(): number {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
}

/** The parser alone on the DGX recording, per sample (best of a few runs). */
async function parserCost(): Promise<number> {
  const parser = (await import(
    new URL('../../../agent-image/dist/src/gpu/nvidia-smi-parse.js', import.meta.url).href
  )) as {
    parseGpuQuery(text: string): unknown;
    parseComputeApps(text: string): unknown;
    parseGpuList(text: string): unknown;
  };
  const read = (name: string) => readFile(join(FIXTURES, 'dgx-h100x8', `${name}.txt`), 'utf8');
  const [gpus, apps, list] = await Promise.all([read('query-gpu'), read('query-compute-apps'), read('list-gpus')]);
  let best = Infinity;
  for (let run = 0; run < 5; run++) {
    const started = performance.now();
    for (let i = 0; i < 2000; i++) {
      parser.parseGpuQuery(gpus);
      parser.parseComputeApps(apps);
      parser.parseGpuList(list);
    }
    best = Math.min(best, (performance.now() - started) / 2000);
  }
  return best;
}

async function waitFor(probe: () => Promise<boolean>, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms`);
    await sleep(200);
  }
}

await main();
