// `npm run bench -- image`: the agent image and its containers, as issue 6 asks, on the real Docker engine.
//   1. Image build time from the local base: the content-hash check when nothing changed, a build
//      through Docker's layer cache (--force), and a build without it (--no-cache); each the whole
//      `npm run image:build` (staging the runtime, hashing, docker build) and docker build alone.
//   2. Container start → the agent's first move, over BENCH_IMAGE_AGENTS (20) agents: one at a time
//      (each on an otherwise quiet node), then all at once. Measured from the createContainer call to
//      the server's timestamp of the agent's first move (agent.walk_started or agent.moved), and to its
//      first API call (agent.online), with the runtime's default loop and the commons tier's CPU and
//      memory. Aim: first move under 5 s.
// Containers use the host network to reach the control plane on loopback (the egress proxy is not in
// this measurement). Prints figures; fails only when an agent never moves.
import { performance } from 'node:perf_hooks';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { VillageClient, type Entitlements, type WorldEvent } from '../src/contract/index.js';
import { agentImage, connectDocker, removeTestContainers, runAgentContainer } from '../test/support/docker.js';
import { TestViewer } from '../test/support/viewer.js';
import { BENCH_ADMIN_TOKEN, startControlPlane } from './control-plane-process.js';
import { percentile } from './load.js';
import { printColumns } from './table.js';

const AGENTS = Number(process.env.BENCH_IMAGE_AGENTS ?? 20);
const BUILDS = Number(process.env.BENCH_IMAGE_BUILDS ?? 3);
const FIRST_MOVE_TIMEOUT_MS = 60_000;
const AIM_S = 5;

const seconds = (value: number) => `${value.toFixed(2)} s`;

async function main() {
  const docker = await connectDocker();
  // Figures depend on the node: say which.
  console.log(
    `node: ${cpus().length} CPUs (${cpus()[0]?.model ?? 'unknown'}), load average ${loadavg()[0]!.toFixed(1)}`,
  );

  // 1. Builds. The first call also builds the local base if the engine lacks it (minutes, once).
  let started = performance.now();
  const first = await agentImage();
  const firstSeconds = (performance.now() - started) / 1000;
  console.log(
    `agent image ${first.reference}: ${first.built ? `built in ${seconds(firstSeconds)}` : 'up to date'} (local base)`,
  );
  const builds: { name: string; total: number[]; docker: number[] }[] = [
    { name: 'unchanged (content hash hit)', total: [], docker: [] },
    { name: 'with layer cache (--force)', total: [], docker: [] },
    { name: 'without cache (--no-cache)', total: [], docker: [] },
  ];
  for (let round = 0; round < BUILDS; round++) {
    for (const [index, options] of [{ recheck: true }, { force: true }, { noCache: true }].entries()) {
      started = performance.now();
      const image = await agentImage(options);
      builds[index]!.total.push((performance.now() - started) / 1000);
      builds[index]!.docker.push(image.seconds);
    }
  }
  printColumns(
    ['image build (from the local base)', 'runs', 'total p50', 'total max', 'docker build p50'],
    builds.map((build) => [
      build.name,
      String(build.total.length),
      seconds(percentile(build.total, 50)),
      seconds(Math.max(...build.total)),
      seconds(percentile(build.docker, 50)),
    ]),
    { first: 1, last: 4 },
  );
  // The no-cache builds left the earlier images of the same tag dangling: let the engine drop them.
  await docker.pruneImages({ filters: { dangling: ['true'], label: ['ai-village.content-hash'] } });
  const image = (await agentImage()).reference;

  // 2. Start → first move.
  const controlPlane = await startControlPlane({ VILLAGE_TICK_MS: '1000' });
  const admin = new VillageClient({ baseUrl: controlPlane.base.origin, token: BENCH_ADMIN_TOKEN });
  const viewer = new TestViewer(controlPlane.base.origin);
  const workspaces = mkdtempSync(join(tmpdir(), 'village-bench-workspaces-'));
  const rows: string[][] = [];
  let failed = false;
  try {
    await viewer.ready();
    const firstAt = (agentId: string, types: WorldEvent['type'][]) => {
      const event = viewer.events.find((e) => types.includes(e.type) && 'agentId' in e && e.agentId === agentId);
      return event ? Date.parse(event.at) : undefined;
    };

    const startAgent = async (id: string) => {
      const { token } = await admin.createAgent({ id, displayName: `Bench ${id}` });
      const { economy } = await admin.agent(id);
      const entitlements: Entitlements = economy.entitlements;
      const workspace = join(workspaces, id);
      mkdirSync(workspace);
      const createdAt = Date.now();
      const container = await runAgentContainer(docker, {
        agentId: id,
        token,
        entitlements,
        workspace,
        network: { mode: 'host', villageUrl: controlPlane.base.origin },
        image,
      });
      return { id, createdAt, apiMs: Date.now() - createdAt, container };
    };
    type Started = Awaited<ReturnType<typeof startAgent>>;
    const measure = async (agents: Started[]) => {
      const deadline = Date.now() + FIRST_MOVE_TIMEOUT_MS;
      const moves: number[] = [];
      const online: number[] = [];
      for (const agent of agents) {
        let moved: number | undefined;
        while ((moved = firstAt(agent.id, ['agent.walk_started', 'agent.moved'])) === undefined) {
          if (Date.now() > deadline) {
            console.error(`${agent.id} never moved:\n${(await agent.container.logs()).slice(-2000)}`);
            failed = true;
            break;
          }
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        if (moved !== undefined) moves.push((moved - agent.createdAt) / 1000);
        const seen = firstAt(agent.id, ['agent.online']);
        if (seen !== undefined) online.push((seen - agent.createdAt) / 1000);
      }
      return { moves, online, api: agents.map((agent) => agent.apiMs / 1000) };
    };
    const row = (name: string, figures: Awaited<ReturnType<typeof measure>>) => [
      name,
      String(figures.moves.length),
      seconds(percentile(figures.api, 50)),
      seconds(percentile(figures.online, 50)),
      seconds(percentile(figures.moves, 50)),
      seconds(percentile(figures.moves, 99)),
      percentile(figures.moves, 99) < AIM_S ? 'yes' : 'NO',
    ];

    // One at a time: each agent starts when the one before it has moved (the others keep living).
    const oneByOne: Started[] = [];
    for (let index = 0; index < AGENTS; index++) {
      const agent = await startAgent(`seq-${index}`);
      oneByOne.push(agent);
      await measure([agent]);
    }
    rows.push(row(`one at a time (up to ${AGENTS - 1} others running)`, await measure(oneByOne)));
    await removeTestContainers(docker);

    // All at once: the node starts AGENTS containers together.
    const burst = await Promise.all(Array.from({ length: AGENTS }, (_, index) => startAgent(`burst-${index}`)));
    rows.push(row(`${AGENTS} at once`, await measure(burst)));

    printColumns(
      [
        'container start → first move',
        'agents',
        'create+start',
        'online p50',
        'move p50',
        'move p99',
        `p99 < ${AIM_S} s`,
      ],
      rows,
      { first: 1, last: 5 },
    );
    console.log(`load average at the end: ${loadavg()[0]!.toFixed(1)} (${cpus().length} CPUs)`);
  } finally {
    viewer.close();
    await removeTestContainers(docker);
    await controlPlane.stop();
    rmSync(workspaces, { recursive: true, force: true });
  }
  if (failed) process.exit(1);
}

await main();
