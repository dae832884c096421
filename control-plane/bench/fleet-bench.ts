// `npm run bench -- fleet`: the fleet on the real Docker engine, as issue 7 asks.
//   1. Reconcile time for BENCH_FLEET_AGENTS (100) agents: a pass that creates every container (cold),
//      passes with every container already right (steady), and a pass that replaces a tenth of them
//      killed behind the fleet's back.
//   2. Time to freeze every agent ("pause all", docker pause of each container, through the HTTP API),
//      and to resume them, over BENCH_FLEET_ROUNDS (3) rounds. Aim: freeze-all under 2 s.
// The containers run the agent image with `sleep` as their entry point (so that 100 runtimes do not
// swamp the node's CPUs and colour the fleet's own figures), on the host network, one node. Everything
// the benchmark makes is removed at the end.
import { performance } from 'node:perf_hooks';
import { cpus, loadavg } from 'node:os';
import pg from 'pg';
import { FleetReconciler } from '../src/fleet/fleet-reconciler.service.js';
import { agentImage, connectDocker } from '../test/support/docker.js';
import { removeVillageContainers, villageIdOf } from '../test/support/fleet.js';
import { createTestEnvironment, startTestApp } from '../test/support/test-app.js';
import { percentile } from './load.js';
import { printColumns } from './table.js';

const AGENTS = Number(process.env.BENCH_FLEET_AGENTS ?? 100);
const ROUNDS = Number(process.env.BENCH_FLEET_ROUNDS ?? 3);
const AIM_FREEZE_S = 2;
const seconds = (value: number) => `${(value / 1000).toFixed(2)} s`;

async function main() {
  const docker = await connectDocker();
  console.log(
    `node: ${cpus().length} CPUs (${cpus()[0]?.model ?? 'unknown'}), load average ${loadavg()[0]!.toFixed(1)}`,
  );
  const agent = await agentImage();
  // The agent image with an idle entry point: the fleet's work is measured, not 100 runtimes'.
  const idle = `ai-village/fleet-bench:${agent.reference.split(':')[1]}`;
  const seed = await docker.createContainer({ Image: agent.reference, Entrypoint: ['true'] });
  await seed.commit({
    repo: 'ai-village/fleet-bench',
    tag: agent.reference.split(':')[1],
    changes: ['ENTRYPOINT ["sleep", "infinity"]'],
  });
  await seed.remove({ force: true });

  const environment = await createTestEnvironment({
    // The loop's own timer stays out of the way: the benchmark runs the passes.
    VILLAGE_FLEET_RECONCILE_MS: '600000',
    VILLAGE_AGENT_IMAGE: idle,
    LOG_LEVEL: 'error',
  });
  const app = await startTestApp(environment);
  const villageId = await villageIdOf(environment.database.url);
  const ids = Array.from({ length: AGENTS }, (_, index) => `bench-${String(index).padStart(3, '0')}`);
  try {
    await app.admin.registerNode({
      name: 'bench',
      engine: {
        kind: 'socket',
        socketPath: process.env.DOCKER_HOST?.replace(/^unix:\/\//, '') || '/var/run/docker.sock',
      },
      agentNetwork: { mode: 'host', villageUrl: app.url },
    });
    for (const id of ids) await app.admin.createAgent({ id, displayName: id });
    const db = new pg.Client({ connectionString: environment.database.url });
    await db.connect();
    await db.query(
      `INSERT INTO fleet_agents (agent_id, node, desired, desired_by) SELECT unnest($1::text[]), 'bench', 'running', 'bench'`,
      [ids],
    );
    const reconciler = app.app.get(FleetReconciler);
    const pass = async () => {
      const started = performance.now();
      const report = await reconciler.pass();
      if (!report) throw new Error('another pass held the lock');
      return { ms: performance.now() - started, report };
    };

    const cold = await pass();
    const { rows } = await db.query<{ running: number }>(
      `SELECT count(*)::int AS running FROM fleet_agents WHERE observed = 'running'`,
    );
    if (rows[0]!.running !== AGENTS)
      throw new Error(`${rows[0]!.running} of ${AGENTS} containers run after the first pass`);
    const steady: number[] = [];
    for (let round = 0; round < ROUNDS; round++) steady.push((await pass()).ms);
    // A tenth killed behind the fleet's back: the next pass replaces them (the first replacement has no back-off).
    const { rows: victims } = await db.query<{ container_id: string }>(
      `SELECT container_id FROM fleet_agents ORDER BY agent_id LIMIT $1`,
      [Math.max(1, Math.floor(AGENTS / 10))],
    );
    await Promise.all(victims.map((victim) => docker.getContainer(victim.container_id).kill()));
    const repair = await pass();

    printColumns(
      ['reconcile pass', 'agents', 'changes', 'time'],
      [
        ['cold: every container created', String(AGENTS), String(cold.report.changes), seconds(cold.ms)],
        [`steady: nothing to do (p50 of ${ROUNDS})`, String(AGENTS), '0', seconds(percentile(steady, 50))],
        [
          `repair: ${victims.length} killed containers replaced`,
          String(AGENTS),
          String(repair.report.changes),
          seconds(repair.ms),
        ],
      ],
      { first: 1, last: 3 },
    );

    const freeze: number[] = [];
    const resume: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      let started = performance.now();
      const paused = await app.admin.pauseAllAgents({ reason: 'benchmark' });
      freeze.push(performance.now() - started);
      if (paused.applied !== AGENTS)
        throw new Error(`pause all applied to ${paused.applied} of ${AGENTS}: ${JSON.stringify(paused.failed)}`);
      const frozen = await docker.listContainers({
        filters: { label: [`ai-village.village=${villageId}`], status: ['paused'] },
      });
      if (frozen.length !== AGENTS) throw new Error(`${frozen.length} of ${AGENTS} containers are paused`);
      started = performance.now();
      await app.admin.resumeAllAgents({ reason: 'benchmark' });
      resume.push(performance.now() - started);
    }
    printColumns(
      ['kill switch (HTTP, every agent)', 'rounds', 'p50', 'max', `aim`],
      [
        [
          'pause all (freeze)',
          String(ROUNDS),
          seconds(percentile(freeze, 50)),
          seconds(Math.max(...freeze)),
          `< ${AIM_FREEZE_S} s: ${Math.max(...freeze) < AIM_FREEZE_S * 1000 ? 'met' : 'missed'}`,
        ],
        ['resume all', String(ROUNDS), seconds(percentile(resume, 50)), seconds(Math.max(...resume)), ''],
      ],
      { first: 1, last: 3 },
    );
    console.log(`\nload average at the end: ${loadavg()[0]!.toFixed(1)}`);
    await db.end();
  } finally {
    await removeVillageContainers(docker, villageId, ids);
    await app.close();
    await environment.dispose();
    await docker
      .getImage(idle)
      .remove({ force: true })
      .catch(() => undefined);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
