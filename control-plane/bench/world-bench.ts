// `npm run bench`: the world under load, as the issue asks: 500 agents moving once a second and
// 50 socket.io viewers against one control-plane process (its own process, real PostgreSQL and
// Redis, an isolated database). Prints figures and ratios; asserts nothing.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { createTestDatabase, deleteRedisKeys, TEST_REDIS_URL, testRedisPrefix } from '../test/support/test-database.js';
import { LoadClient, openLoop, percentile, throughput } from './load.js';
import { RawViewers } from './raw-viewers.js';
import { freePort } from '../test/support/free-port.js';

const AGENTS = Number(process.env.BENCH_AGENTS ?? 500);
const VIEWERS = Number(process.env.BENCH_VIEWERS ?? 50);
// Of the viewers, this many decode every frame to time each move's arrival; the rest only receive.
const MEASURING_VIEWERS = Math.min(VIEWERS, Number(process.env.BENCH_MEASURING_VIEWERS ?? 5));
const MOVE_RATE = Number(process.env.BENCH_MOVE_RATE ?? 1000);
const PHASE_MS = Number(process.env.BENCH_PHASE_MS ?? 15_000);
const WARM_UP_MS = 3_000;
const ADMIN = 'bench-admin-token-0123456789abcdef';
const MAIN = fileURLToPath(new URL('../src/main.js', import.meta.url));
// The main street runs the map's whole width on rows 29 and 30.
const STREET = { y: 29, width: 80 };

const ms = (value: number) => `${value.toFixed(1)} ms`;

async function main() {
  const database = await createTestDatabase();
  const redisPrefix = testRedisPrefix();
  const port = await freePort();
  const base = new URL(`http://127.0.0.1:${port}`);
  // BENCH_PROFILE=<dir> writes a CPU profile of the control plane there.
  const profile = process.env.BENCH_PROFILE ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_PROFILE] : [];
  // BENCH_NODE_ARGS: extra Node flags for the control plane, e.g. to try GC settings.
  const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const server = spawn(process.execPath, [...nodeArgs, ...profile, MAIN], {
    env: {
      ...process.env,
      DATABASE_URL: database.url,
      REDIS_URL: TEST_REDIS_URL,
      VILLAGE_REDIS_PREFIX: redisPrefix,
      VILLAGE_ADMIN_TOKEN: ADMIN,
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      VILLAGE_OFFLINE_AFTER_MS: '600000',
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const client = new LoadClient(base);
  let stopViewers = async () => 0;
  try {
    await waitForHealth(client);
    console.log(
      `AI Village world benchmark: ${AGENTS} agents, ${VIEWERS} viewers, moves at ${MOVE_RATE}/s, ${PHASE_MS / 1000} s phases`,
    );

    const agents: Array<{ id: string; token: string }> = [];
    for (let i = 0; i < AGENTS; i++) {
      const spawnAt = { x: i % STREET.width, y: STREET.y };
      const res = await client.request('POST', '/api/agents', ADMIN, {
        id: `bench-${i}`,
        displayName: `Bench ${i}`,
        spawn: spawnAt,
      });
      if (res.status !== 201) throw new Error(`creating an agent failed: ${res.status} ${res.body}`);
      agents.push({ id: `bench-${i}`, token: JSON.parse(res.body).token });
    }

    // Viewers (in their own thread) record when each agent.moved (agentId@version) and tick reaches them.
    const viewers = new Worker(new URL('./viewer-worker.js', import.meta.url), {
      workerData: { origin: base.origin, viewers: MEASURING_VIEWERS },
    });
    const ask = <T>(type: string) =>
      new Promise<T>((resolve) => {
        const onMessage = (message: { type: string }) => {
          if (message.type !== type) return;
          viewers.off('message', onMessage);
          resolve(message as T);
        };
        viewers.on('message', onMessage);
        if (type !== 'ready') viewers.postMessage({ type });
      });
    await ask('ready');
    const rawViewers = new RawViewers(base.origin, VIEWERS - MEASURING_VIEWERS);
    await rawViewers.connect();
    stopViewers = () => {
      rawViewers.close();
      return viewers.terminate();
    };

    // Phase 1: every agent walks the street end to end, one tile per tick.
    await Promise.all(
      agents.map((agent, i) =>
        client.request('POST', `/api/agents/${agent.id}/move`, agent.token, {
          x: i % 2 ? 0 : STREET.width - 1,
          y: STREET.y + 1,
        }),
      ),
    );
    const rssBefore = rss(server.pid!);
    // Skip the ticks that overlap the burst of 500 walk requests; measure the steady walking world.
    await sleep(2000);
    const warmUp = (await ask<{ tickDurations: number[] }>('ticks')).tickDurations.length;
    await sleep(PHASE_MS);
    const walkTicks = (await ask<{ tickDurations: number[] }>('ticks')).tickDurations.slice(warmUp);

    // Phase 2: open-loop step moves at MOVE_RATE/s, spread over all agents (each steps between rows 29 and 30).
    const rowOf = new Map(agents.map((a) => [a.id, STREET.y + 1]));
    const acceptedAt: Array<[string, number]> = [];
    let refused = 0;
    const step = async (i: number) => {
      const agent = agents[i % agents.length]!;
      const row = rowOf.get(agent.id)!;
      const dy = row === STREET.y ? 1 : -1;
      rowOf.set(agent.id, row + dy);
      const t0 = performance.timeOrigin + performance.now();
      const res = await client.request('POST', `/api/agents/${agent.id}/move`, agent.token, { dy });
      if (res.status !== 200) {
        refused++;
        return;
      }
      const key = `${agent.id}@${JSON.parse(res.body).version}`;
      acceptedAt.push([key, t0]);
    };
    // A few seconds at the same rate first, unmeasured: JIT warm-up and every agent's first step.
    await openLoop(MOVE_RATE, WARM_UP_MS, step);
    acceptedAt.length = 0;
    refused = 0;
    const { latencies: moveLatencies, errors: moveErrors } = await openLoop(MOVE_RATE, PHASE_MS, step);
    await sleep(500); // let the last frames arrive
    const seen = await ask<{ arrivals: Array<[string, number[]]>; frames: number }>('report');
    const arrivals = new Map(seen.arrivals);
    const frames = seen.frames;
    const delays: number[] = [];
    for (const [key, t0] of acceptedAt) for (const t of arrivals.get(key) ?? []) delays.push(t - t0);
    const delivered = acceptedAt.filter(([key]) => (arrivals.get(key)?.length ?? 0) === MEASURING_VIEWERS).length;
    const rssAfter = rss(server.pid!);

    // Phase 3: saturation throughput of the move route against a no-op route of the same app.
    const spread = agents.map((a) => ({ ...a, row: rowOf.get(a.id)! }));
    let next = 0;
    const moveThroughput = await throughput(
      () => {
        const agent = spread[next++ % spread.length]!;
        const dy = agent.row === STREET.y ? 1 : -1;
        agent.row += dy;
        return client.request('POST', `/api/agents/${agent.id}/move`, agent.token, { dy });
      },
      32,
      PHASE_MS / 3,
    );
    const noopThroughput = await throughput(() => client.request('GET', '/api/health/live'), 32, PHASE_MS / 3);
    const rawFrames = { frames: rawViewers.frames, mebibytes: rawViewers.bytes / 2 ** 20 };

    const report = {
      agents: AGENTS,
      viewers: VIEWERS,
      tick: {
        samples: walkTicks.length,
        p50: percentile(walkTicks, 50),
        p99: percentile(walkTicks, 99),
        max: Math.max(...walkTicks),
      },
      moves: {
        offeredPerSecond: MOVE_RATE,
        sent: moveLatencies.length,
        refused,
        errors: moveErrors,
        p50: percentile(moveLatencies, 50),
        p99: percentile(moveLatencies, 99),
      },
      viewerDelay: {
        samples: delays.length,
        p50: percentile(delays, 50),
        p99: percentile(delays, 99),
        deliveredToAllViewers: `${delivered}/${acceptedAt.length}`,
      },
      throughput: { moveRps: moveThroughput, noopRps: noopThroughput, ratio: moveThroughput / noopThroughput },
      memoryMiB: { afterCreate: rssBefore, afterLoad: rssAfter },
      frames,
      rawViewers: rawFrames,
    };
    console.log('');
    console.log(
      `tick duration (500 walking)   p50 ${ms(report.tick.p50)}   p99 ${ms(report.tick.p99)}   max ${ms(report.tick.max)}   (${report.tick.samples} ticks; aim p99 < 100 ms)`,
    );
    console.log(
      `move latency at ${MOVE_RATE}/s      p50 ${ms(report.moves.p50)}   p99 ${ms(report.moves.p99)}   (${report.moves.sent} moves, ${refused} refused, ${moveErrors} failed; aim p99 < 20 ms)`,
    );
    console.log(
      `viewer delay, move→viewer    p50 ${ms(report.viewerDelay.p50)}   p99 ${ms(report.viewerDelay.p99)}   (${delays.length} deliveries, ${report.viewerDelay.deliveredToAllViewers} moves reached all ${MEASURING_VIEWERS} measuring viewers; aim p99 < 150 ms)`,
    );
    console.log(
      `throughput, 32 connections   move ${moveThroughput.toFixed(0)}/s   no-op ${noopThroughput.toFixed(0)}/s   ratio ${report.throughput.ratio.toFixed(2)}`,
    );
    console.log(
      `other viewers               ${VIEWERS - MEASURING_VIEWERS} received ${rawFrames.frames} frames, ${rawFrames.mebibytes.toFixed(1)} MiB in all`,
    );
    console.log(
      `control-plane memory (RSS)   ${rssBefore.toFixed(0)} MiB with ${AGENTS} agents and ${VIEWERS} viewers, ${rssAfter.toFixed(0)} MiB after the move load`,
    );
    console.log('');
    console.log(JSON.stringify({ ...report, tickDurations: walkTicks }));
  } finally {
    await stopViewers();
    client.close();
    server.kill('SIGTERM');
    await new Promise((resolve) => server.once('exit', resolve));
    await database.drop();
    await deleteRedisKeys(redisPrefix);
  }
}

function rss(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024;
}

async function waitForHealth(client: LoadClient) {
  for (let i = 0; i < 200; i++) {
    try {
      if ((await client.request('GET', '/api/health')).status === 200) return;
    } catch {
      /* not up yet */
    }
    await sleep(100);
  }
  throw new Error('the control plane did not start');
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
