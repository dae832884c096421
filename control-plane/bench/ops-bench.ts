// `npm run bench -- ops` (issue 11): the mixed load of the fault suite (moves, posts, transfers in 5:1:2)
// through a round-robin balancer, first to one control-plane replica, then to two, closed loop, and the
// ratio of the two throughputs; then, at a steady rate to both, the recovery after each fault: the
// clock-leading replica killed, Redis restarted, the database cut for 4 s. Recovery is the time from the
// fault's end (the kill, Redis answering again, the database reachable again) until a tick reaches a
// viewer and a move, a post and a transfer are each accepted again. Prints figures; fails only if an
// accepted write is missing or stored twice, or the ledger does not verify.
import pg from 'pg';
import { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import { VillageClient } from '../src/contract/index.js';
import { verifyLedger } from '../src/ledger/ledger-verify.js';
import { eventually } from '../test/support/eventually.js';
import { LoadBalancer, MixedLoad, PrivateRedis, ReplicaProcess, TcpProxy } from '../test/support/fault-harness.js';
import { freePort } from '../test/support/free-port.js';
import { createTestDatabase, TEST_POSTGRES_URL, testRedisPrefix } from '../test/support/test-database.js';
import { TestViewer } from '../test/support/viewer.js';
import { printColumns } from './table.js';

const ADMIN = 'bench-admin-token-0123456789abcdef';
const PHASE_MS = Number(process.env.BENCH_OPS_PHASE_MS ?? 15_000);
const WARM_UP_MS = 3_000;
const CLIENTS = Number(process.env.BENCH_OPS_CLIENTS ?? 32);
const AGENTS = Array.from({ length: Number(process.env.BENCH_OPS_AGENTS ?? 40) }, (_, i) => `bench-${i}`);
const STEADY = { moves: 30, posts: 6, transfers: 12 };
const MIX: ('move' | 'post' | 'transfer')[] = ['move', 'move', 'move', 'move', 'move', 'post', 'transfer', 'transfer'];
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function main() {
  const runId = `ops-${randomBytes(3).toString('hex')}`;
  const database = await createTestDatabase();
  const postgres = new URL(TEST_POSTGRES_URL);
  const databaseProxy = new TcpProxy(postgres.hostname, Number(postgres.port || 5432));
  const proxied = new URL(database.url);
  proxied.port = String(await databaseProxy.listen());
  const redis = new PrivateRedis(await freePort());
  await redis.start();
  const redisPrefix = testRedisPrefix();
  const env = {
    DATABASE_URL: proxied.toString(),
    REDIS_URL: redis.url,
    VILLAGE_REDIS_PREFIX: redisPrefix,
    VILLAGE_ADMIN_TOKEN: ADMIN,
    VILLAGE_JWT_SECRET: 'ops-bench-jwt-secret-0123456789abcdefghijk',
    VILLAGE_FLOWS: 'false',
    VILLAGE_FLEET: 'false',
    VILLAGE_TICK_MS: '200',
    LOG_LEVEL: 'error',
  };
  const replicas = [
    new ReplicaProcess('replica-a', await freePort(), env),
    new ReplicaProcess('replica-b', await freePort(), env),
  ];
  let backends = [replicas[0]!.port];
  const balancer = new LoadBalancer(() => backends);
  await balancer.listen();
  const redisClient = new Redis(redis.url, { maxRetriesPerRequest: 1 });
  redisClient.on('error', () => undefined);
  const viewers: TestViewer[] = [];
  const loads: MixedLoad[] = [];
  try {
    await replicas[0]!.start();
    const admin = new VillageClient({ baseUrl: balancer.url, token: ADMIN });
    for (const [i, id] of AGENTS.entries()) {
      await admin.createAgent({ id, displayName: id, spawn: { x: 2 + (i % 38) * 2, y: 29 + Math.floor(i / 38) } });
      await admin.createTransfer({
        debitAccount: 'treasury',
        creditAccount: `agent:${id}`,
        amount: 1_000_000,
        reason: 'grant',
      });
    }

    const closedLoop = async (label: string) => {
      const load = new MixedLoad(new URL(balancer.url), ADMIN, AGENTS, `${runId}-${label}`);
      loads.push(load);
      let measuring = false;
      let done = 0;
      const deadline = performance.now() + WARM_UP_MS + PHASE_MS;
      setTimeout(() => (measuring = true), WARM_UP_MS);
      await Promise.all(
        Array.from({ length: CLIENTS }, async (_, worker) => {
          for (let i = worker; performance.now() < deadline; i += CLIENTS) {
            await load.send(MIX[i % MIX.length]!);
            if (measuring) done++;
          }
        }),
      );
      return done / (PHASE_MS / 1000);
    };

    const one = await closedLoop('one');
    await replicas[1]!.start();
    backends = replicas.map((replica) => replica.port);
    const two = await closedLoop('two');

    // Recovery, at a steady rate to both replicas.
    for (let i = 0; i < 2; i++) {
      const viewer = new TestViewer(balancer.url);
      viewers.push(viewer);
      await viewer.ready();
    }
    const steady = new MixedLoad(new URL(balancer.url), ADMIN, AGENTS, `${runId}-steady`);
    loads.push(steady);
    steady.start(STEADY);
    await sleep(3000);
    const recovery = async (endedAt: number) => {
      const since = viewers.map((viewer) => viewer.events.length);
      const figures: Record<string, number> = {};
      await Promise.all([
        eventually(
          () => viewers.every((v, i) => v.events.slice(since[i]).some((e) => e.type === 'world.tick')),
          'a tick at every viewer',
          30_000,
        ).then(() => (figures.tick = performance.now() - endedAt)),
        ...(['move', 'post', 'transfer'] as const).map((kind) =>
          eventually(
            () => steady.acceptedAt.some((entry) => entry.kind === kind && entry.at > endedAt),
            `a ${kind} accepted`,
            30_000,
          ).then(() => (figures[kind] = performance.now() - endedAt)),
        ),
      ]);
      return figures;
    };
    const faults: [string, Record<string, number>][] = [];

    const leaderName = await redisClient.get(`${redisPrefix}clock:leader`);
    const leader = replicas.find((replica) => replica.name === leaderName) ?? replicas[0]!;
    await leader.kill('SIGKILL');
    faults.push(['clock-leading replica killed (SIGKILL)', await recovery(performance.now())]);
    await leader.start();
    await sleep(3000);

    await redis.stop();
    await sleep(3000);
    await redis.start();
    faults.push(['Redis restarted (down 3 s)', await recovery(performance.now())]);
    await sleep(3000);

    databaseProxy.cut();
    await sleep(4000);
    databaseProxy.restore();
    faults.push(['database cut (4 s)', await recovery(performance.now())]);
    await sleep(2000);
    await steady.drain(15_000);

    // What clients were told, against what is stored.
    const direct = new pg.Pool({ connectionString: database.url, max: 4 });
    let lost = 0;
    let twice = 0;
    try {
      const posts = await direct.query<{ title: string; copies: number }>(
        `SELECT title, count(*)::int AS copies FROM posts WHERE title LIKE $1 GROUP BY title`,
        [`${runId}-%`],
      );
      const copies = new Map(posts.rows.map((row) => [row.title, row.copies]));
      const transfers = await direct.query<{ key: string }>(
        `SELECT idempotency_key AS key FROM ledger_transfers WHERE idempotency_key LIKE $1`,
        [`%:${runId}-%`],
      );
      const recorded = new Set(transfers.rows.map((row) => row.key.slice(row.key.indexOf(`${runId}-`))));
      for (const write of loads.flatMap((load) => load.writes)) {
        if (write.kind === 'post') {
          const n = copies.get(write.key) ?? 0;
          if (write.outcome === 'accepted' && n === 0) lost++;
          if (n > 1) twice++;
        } else if (write.kind === 'transfer' && write.outcome === 'accepted' && !recorded.has(write.key)) lost++;
      }
      const ledger = await verifyLedger(direct);

      printColumns(
        ['mixed load (5 moves : 1 post : 2 transfers), closed loop', 'writes/s'],
        [
          [`one replica, ${CLIENTS} clients`, one.toFixed(0)],
          [`two replicas, ${CLIENTS} clients`, two.toFixed(0)],
          ['ratio two / one', (two / one).toFixed(2)],
        ],
        { first: 1, last: 1 },
      );
      printColumns(
        ['recovery after (s)', 'tick at viewers', 'move', 'post', 'transfer'],
        faults.map(([name, f]) => [
          name,
          ...[f.tick!, f.move!, f.post!, f.transfer!].map((v) => (v / 1000).toFixed(2)),
        ]),
        { first: 1, last: 4 },
      );
      const told = (kind: 'move' | 'post' | 'transfer', outcome: 'accepted' | 'unknown') => steady.count(kind, outcome);
      console.log(
        `\nsteady load during the faults: moves ${told('move', 'accepted')} accepted / ${told('move', 'unknown')} unanswered, ` +
          `posts ${told('post', 'accepted')} / ${told('post', 'unknown')}, transfers ${told('transfer', 'accepted')} / ${told('transfer', 'unknown')}`,
      );
      console.log(
        `accepted writes missing: ${lost}; posts stored twice: ${twice}; ledger: ${ledger.ok ? 'verified' : 'NOT VERIFIED'}, ${ledger.transfers} transfers`,
      );
      console.log(
        `load average at the end: ${(await import('node:os'))
          .loadavg()
          .map((v) => v.toFixed(2))
          .join(' ')}`,
      );
      if (lost > 0 || !ledger.ok) process.exitCode = 1;
    } finally {
      await direct.end();
    }
  } finally {
    for (const load of loads) load.close();
    for (const viewer of viewers) viewer.close();
    await Promise.all(replicas.map((replica) => replica.kill('SIGTERM')));
    await balancer.close();
    redisClient.disconnect();
    await redis.dispose();
    await databaseProxy.close();
    await database.drop();
  }
}

await main();
process.exit(process.exitCode ?? 0);
