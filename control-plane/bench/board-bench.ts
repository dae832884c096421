// `npm run bench -- board`: the town board under load, as issue 3 asks: with 100,000 posts and
// 1,000,000 replies (bulk-seeded, see board-seed.ts), list and full-text search latency, and 500
// agents polling their mail once a second while replies keep arriving. One control-plane process,
// real PostgreSQL and Redis, an isolated database. Prints figures against the aim and ratios to a
// no-op route measured in the same run, and checks that every agent got its mail exactly once.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { listQueryString, VillageClient, type ListParams, type Mail } from '../src/contract/index.js';
import { seedBoard } from './board-seed.js';
import { BENCH_ADMIN_TOKEN, sleep, startControlPlane, type RunningControlPlane } from './control-plane-process.js';
import { openLoop, percentile, throughput, type LoadClient } from './load.js';
import { steadyLoad } from './steady-load.js';
import { inBatches } from './batches.js';
import { ms, printColumns } from './table.js';

const POSTS = Number(process.env.BENCH_POSTS ?? 100_000);
const AGENTS = Number(process.env.BENCH_AGENTS ?? 500);
const USERS = Number(process.env.BENCH_USERS ?? 300);
const RATE = Number(process.env.BENCH_RATE ?? 50);
const PHASE_MS = Number(process.env.BENCH_PHASE_MS ?? 20_000);
const MAIL_MS = Number(process.env.BENCH_MAIL_MS ?? 30_000);
const REPLY_RATE = Number(process.env.BENCH_REPLY_RATE ?? 20);
// BENCH_KEEP_DATABASE=1 leaves the seeded database in place (its URL is printed) for EXPLAIN.
const KEEP_DATABASE = process.env.BENCH_KEEP_DATABASE === '1';
// BENCH_PHASES: which of reads, throughput, mail to run (all by default), e.g. `mail` while working on it.
const PHASES = new Set((process.env.BENCH_PHASES ?? 'reads,throughput,mail').split(','));
const WARM_UP_MS = 3_000;
const AIM_MS = 25;
const HUMANS = 4;

interface Figure {
  name: string;
  samples: number;
  errors: number;
  /** Calls the load did not start because 32 were still unanswered (the route is far slower than the rate). */
  notStarted?: number;
  p50: number;
  p99: number;
  max: number;
  /** The no-op route at the same rate, for ratios; absent for the baselines themselves. */
  baseline?: Figure;
  /** Whether the aim (p99 under 25 ms) applies. */
  aimed: boolean;
  note?: string;
}

const posts = (params: ListParams) => `/api/posts${listQueryString({ range: [0, 24], ...params })}`;
const byActivity: ListParams = { sort: ['lastActivityAt', 'DESC'] };

async function main() {
  const controlPlane = await startControlPlane({
    VILLAGE_SIGN_UP_LIMIT: '100',
    VILLAGE_JWT_SECRET: randomBytes(32).toString('base64url'),
    VILLAGE_ACCESS_TOKEN_TTL_S: '86400',
  });
  const database = new pg.Client({ connectionString: controlPlane.databaseUrl, application_name: 'board-bench' });
  // Dropping the database ends this connection: that is expected, not a crash.
  database.on('error', () => undefined);
  const stop = async () => {
    await database.end().catch(() => undefined);
    await controlPlane.stop({ keepDatabase: KEEP_DATABASE });
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => void stop().finally(() => process.exit(130)));
  }
  try {
    await database.connect();
    await run(controlPlane, database);
  } finally {
    await stop();
  }
}

async function run({ base, client, databaseUrl }: RunningControlPlane, database: pg.Client) {
  console.log(
    `AI Village board benchmark: ${POSTS.toLocaleString('en')} posts, ${(POSTS * 10).toLocaleString('en')} replies, ` +
      `${AGENTS} agents; reads at ${RATE}/s for ${PHASE_MS / 1000} s each, mail for ${MAIL_MS / 1000} s`,
  );
  const admin = new VillageClient({ baseUrl: base.origin, token: BENCH_ADMIN_TOKEN });
  const agents = await inBatches(AGENTS, 8, async (i) => {
    const created = await admin.createAgent({
      id: `bench-${i}`,
      displayName: `Bench ${i}`,
      spawn: { x: i % 80, y: 29 },
    });
    return { id: created.id, token: created.token };
  });
  const humans = await inBatches(HUMANS, 1, async (i) => {
    const session = await new VillageClient({ baseUrl: base.origin }).signUp({
      handle: `visitor-${i}`,
      email: `visitor-${i}@bench.invalid`,
      password: `bench-password-${i}`,
      session: 'bearer',
    });
    return session.accessToken;
  });

  console.log('seeding (bulk SQL straight into the database)...');
  const seeded = await seedBoard(
    database,
    { posts: POSTS, replies: POSTS * 10, users: USERS, agentIds: agents.map((a) => a.id) },
    console.log,
  );
  const sizes = await database.query<{ name: string; size: string }>(
    `SELECT name, pg_size_pretty(pg_total_relation_size(name::regclass)) AS size
       FROM unnest(ARRAY['posts', 'replies', 'agent_mail']) AS name`,
  );
  console.log(
    `seeded in ${(seeded.ms / 1000).toFixed(1)} s: ${seeded.mailRows.toLocaleString('en')} mail items; ` +
      sizes.rows.map((row) => `${row.name} ${row.size}`).join(', '),
  );

  // The searches: a word in about one post in twelve, a word in a handful, two words together (about one
  // post in eighty), and a word in three posts of four: the pseudo-vocabulary is Zipf-distributed.
  const { common, tail } = seeded.vocabulary;
  const anonymous = new VillageClient({ baseUrl: base.origin });
  const found = async (q: string) => (await anonymous.posts({ range: [0, 0], filter: { q } })).total;
  let rare = 0;
  while (rare < 50 && (await found(tail[rare]!)) === 0) rare++; // a small BENCH_POSTS may miss the first ones
  const searches: Array<[string, string]> = [
    ['common word', common[79]!],
    ['rare word', tail[rare]!],
    ['two words', `${common[39]} ${common[119]}`],
    ['very common word', common[1]!],
  ];
  const matches = new Map<string, number>();
  for (const [, q] of searches) {
    const page = await anonymous.posts({ range: [0, 24], filter: { q } });
    if (page.items.length === 0) throw new Error(`the search "${q}" found nothing`);
    matches.set(q, page.total);
  }
  const everything = (await anonymous.posts({ range: [0, 0] })).total;
  const busiest = await database.query<{ id: string; reply_count: number }>(
    `SELECT id, reply_count FROM posts WHERE audience = 'public' AND status <> 'moderated'
      ORDER BY reply_count DESC LIMIT 50`,
  );

  const figures: Figure[] = [];
  const measure = async (name: string, rate: number, path: (i: number) => string, token?: (i: number) => string) => {
    const call = async (i: number) => {
      const res = await client.request('GET', path(i), token?.(i));
      if (res.status !== 200) throw new Error(`${res.status} on ${path(i)}`);
    };
    await steadyLoad(rate, WARM_UP_MS, call);
    const { latencies, errors, notStarted } = await steadyLoad(rate, PHASE_MS, call);
    return { ...summary(name, latencies, errors), notStarted };
  };
  const noop = () => '/api/health/live';
  if (PHASES.has('reads')) {
    console.log('measuring reads...');
    const baseline = await measure(`baseline: GET /api/health/live at ${RATE}/s`, RATE, noop);
    figures.push(baseline);
    const read = async (name: string, path: (i: number) => string, token?: (i: number) => string, note?: string) => {
      figures.push({ ...(await measure(name, RATE, path, token)), baseline, aimed: true, ...(note ? { note } : {}) });
    };
    await read('list, anonymous (first 25, by activity)', () => posts(byActivity), undefined, `${everything} visible`);
    await read(
      'list, signed-in agent',
      () => posts(byActivity),
      (i) => agents[i % agents.length]!.token,
    );
    await read('list, filter tag + status', () => posts({ ...byActivity, filter: { tag: 'garden', status: 'open' } }));
    for (const [name, q] of searches) {
      await read(`search, ${name} "${q}"`, () => posts({ filter: { q } }), undefined, `${matches.get(q)} matches`);
    }
    await read(
      'thread, 50 busiest (200 replies each)',
      (i) => `/api/posts/${busiest.rows[i % busiest.rows.length]!.id}`,
      undefined,
      `${busiest.rows.at(-1)!.reply_count}-${busiest.rows[0]!.reply_count} replies`,
    );
  }

  let rates: { listRps: number; noopRps: number; ratio: number } | undefined;
  if (PHASES.has('throughput')) {
    console.log('measuring throughput...');
    const listRps = await throughput(() => client.request('GET', posts(byActivity)), 8, 5_000);
    const noopRps = await throughput(() => client.request('GET', '/api/health/live'), 8, 5_000);
    rates = { listRps, noopRps, ratio: listRps / noopRps };
  }

  let mail: Awaited<ReturnType<typeof mailPhase>> | undefined;
  if (PHASES.has('mail')) {
    console.log(`measuring mail: ${AGENTS} agents polling once a second, ${REPLY_RATE} new replies a second...`);
    const mailBaseline = await measure(`baseline: GET /api/health/live at ${AGENTS}/s`, AGENTS, noop);
    figures.push(mailBaseline);
    mail = await mailPhase(client, database, agents, humans);
    const delivery = `delivery ${mail.check.ok ? 'OK' : 'WRONG'}`;
    figures.push({ ...mail.polls, baseline: mailBaseline, aimed: true, note: delivery });
    figures.push({ ...mail.writes, note: 'not aimed: context for the mail figure' });
  }

  printFigures(figures);
  if (rates) {
    const { listRps, noopRps, ratio } = rates;
    console.log(
      `throughput, 8 connections   list ${listRps.toFixed(0)}/s   no-op ${noopRps.toFixed(0)}/s   ratio ${ratio.toFixed(2)}`,
    );
  }
  const steps = seeded.steps.map(([name, ms]) => `${name} ${(ms / 1000).toFixed(1)}`).join(', ');
  console.log(`seeding                      ${(seeded.ms / 1000).toFixed(1)} s (${steps})`);
  if (mail) console.log(`mail delivery                ${mail.check.summary}`);
  if (KEEP_DATABASE) console.log(`database kept for EXPLAIN: ${databaseUrl}`);
  console.log('');
  console.log(
    JSON.stringify({
      posts: POSTS,
      replies: POSTS * 10,
      agents: AGENTS,
      seedMs: Math.round(seeded.ms),
      seedSteps: seeded.steps.map(([name, ms]) => [name, Math.round(ms)]),
      searches: searches.map(([name, q]) => ({ name, q, matches: matches.get(q) })),
      figures: figures.map(({ baseline: _baseline, ...figure }) => figure),
      throughput: rates,
      mail: mail?.check,
    }),
  );
  if (mail && !mail.check.ok) process.exitCode = 1;
}

type Agent = { id: string; token: string };

/**
 * Each agent polls its mail once a second (staggered over the second), sending the cursor of its
 * last answer, while replies mentioning agents arrive at REPLY_RATE. A poll is skipped, and counted,
 * if the agent's previous one has not been answered. Afterwards every agent reads to the end, and
 * what each received is compared with its rows in agent_mail after its starting cursor.
 */
async function mailPhase(client: LoadClient, database: pg.Client, agents: Agent[], humans: string[]) {
  const { rows: cursors } = await database.query<{ id: string; mail_cursor: string }>(
    'SELECT id, mail_cursor FROM agents WHERE id = ANY($1::text[])',
    [agents.map((a) => a.id)],
  );
  const start = new Map(cursors.map((row) => [row.id, row.mail_cursor]));
  const pollers = agents.map((agent) => ({
    ...agent,
    start: start.get(agent.id)!,
    cursor: start.get(agent.id)!,
    seen: new Set<string>(),
    duplicates: 0,
    busy: false,
  }));
  type Poller = (typeof pollers)[number];
  const poll = async (poller: Poller): Promise<{ ms: number; mail: Mail }> => {
    const t0 = performance.now();
    const res = await client.request('GET', `/api/agents/${poller.id}/mail?cursor=${poller.cursor}`, poller.token);
    const ms = performance.now() - t0;
    if (res.status !== 200) throw new Error(`${res.status} on mail of ${poller.id}: ${res.body.slice(0, 200)}`);
    const mail = JSON.parse(res.body) as Mail;
    for (const item of mail.items) {
      if (poller.seen.has(item.cursor)) poller.duplicates++;
      else poller.seen.add(item.cursor);
    }
    poller.cursor = mail.cursor;
    return { ms, mail };
  };

  // Replies to recently active public threads (as agents and people), each mentioning one or two agents.
  const { rows: threads } = await database.query<{ id: string }>(
    `SELECT id FROM posts WHERE audience = 'public' AND status = 'open' AND NOT locked
      ORDER BY last_activity_at DESC LIMIT 1000`,
  );
  const writeLatencies: number[] = [];
  let writeErrors = 0;
  const writes = openLoop(REPLY_RATE, WARM_UP_MS + MAIL_MS, async (i) => {
    const token = i % 2 ? agents[(i * 7) % agents.length]!.token : humans[i % humans.length]!;
    const thread = threads[(i * 13) % threads.length]!.id;
    const mentions = [
      agents[(i * 31 + 5) % agents.length]!.id,
      ...(i % 3 ? [] : [agents[(i * 17) % agents.length]!.id]),
    ];
    const t0 = performance.now();
    const res = await client.request('POST', `/api/posts/${thread}/replies`, token, {
      body: `Bench reply ${i}: ${mentions.map((id) => `@${id}`).join(' and ')}, see this.`,
    });
    if (res.status !== 201) writeErrors++;
    else if (i >= (REPLY_RATE * WARM_UP_MS) / 1000) writeLatencies.push(performance.now() - t0);
  });

  const latencies: number[] = [];
  let errors = 0;
  let skipped = 0;
  let skippedInWarmUp = 0;
  const inFlight = new Set<Promise<void>>();
  const started = performance.now();
  const due = pollers.map((_, k) => (k * 1000) / pollers.length);
  for (let now = 0; now < WARM_UP_MS + MAIL_MS; now = performance.now() - started) {
    for (let k = 0; k < pollers.length; k++) {
      if (due[k]! > now) continue;
      due[k]! += 1000;
      const poller = pollers[k]!;
      if (poller.busy) {
        if (now >= WARM_UP_MS) skipped++;
        else skippedInWarmUp++;
        continue;
      }
      poller.busy = true;
      const measured = now >= WARM_UP_MS;
      const call = poll(poller).then(
        ({ ms }) => void (measured && latencies.push(ms)),
        () => void errors++,
      );
      const done = call.finally(() => {
        poller.busy = false;
        inFlight.delete(done);
      });
      inFlight.add(done);
    }
    await sleep(2);
  }
  await Promise.all(inFlight);
  await writes;

  // Read every agent's mail to the end (bounded), then compare with the table.
  let drainErrors = 0;
  await inBatches(pollers.length, 16, async (k) => {
    const poller = pollers[k]!;
    for (let i = 0; i < 200; i++) {
      const { mail } = await poll(poller).catch(() => ({ mail: undefined }));
      if (!mail) drainErrors++;
      else if (!mail.more && mail.items.length === 0) return;
    }
  });
  const { rows: expected } = await database.query<{ agent_id: string; items: string[] }>(
    // MailService's rule for what it shows (canSee in audience.ts; replies only while visible).
    `SELECT m.agent_id, array_agg(m.item_id::text ORDER BY m.item_id) AS items
       FROM unnest($1::text[], $2::bigint[]) AS s(agent_id, start)
       JOIN agent_mail m ON m.agent_id = s.agent_id AND m.item_id > s.start
       JOIN posts p ON p.id = m.post_id
       LEFT JOIN replies r ON r.id = m.reply_id
      WHERE CASE WHEN p.author_type = 'agent' AND p.author_id = m.agent_id THEN NOT p.removed
                 ELSE p.status <> 'moderated' AND (p.audience IN ('public', 'agents')
                      OR (p.audience = 'agent' AND p.audience_agent_id = m.agent_id)) END
        AND (r.id IS NULL OR r.status = 'visible')
      GROUP BY m.agent_id`,
    [pollers.map((p) => p.id), pollers.map((p) => p.start)],
  );
  const want = new Map(expected.map((row) => [row.agent_id, row.items]));
  let missing = 0;
  let unexpected = 0;
  let wrongAgents = 0;
  let delivered = 0;
  for (const poller of pollers) {
    const items = want.get(poller.id) ?? [];
    const missed = items.filter((item) => !poller.seen.has(item)).length;
    const extra = poller.seen.size - (items.length - missed);
    missing += missed;
    unexpected += extra;
    delivered += poller.seen.size;
    if (missed || extra || poller.duplicates) wrongAgents++;
  }
  const duplicates = pollers.reduce((sum, p) => sum + p.duplicates, 0);
  const ok = missing === 0 && unexpected === 0 && duplicates === 0 && errors === 0 && drainErrors === 0;
  const verdict =
    `${ok ? 'OK' : 'WRONG'}: ${delivered} items to ${pollers.length} agents, ${duplicates} twice, ` +
    `${missing} missing, ${unexpected} unexpected (${wrongAgents} agents wrong); ${skipped} polls skipped as the previous was unanswered ` +
    `(${skippedInWarmUp} more in the warm-up)`;
  return {
    polls: summary(`mail, ${AGENTS} agents once a second`, latencies, errors),
    writes: { ...summary(`reply writes at ${REPLY_RATE}/s (during mail)`, writeLatencies, writeErrors), aimed: false },
    check: {
      ok,
      delivered,
      duplicates,
      missing,
      unexpected,
      wrongAgents,
      skipped,
      skippedInWarmUp,
      errors,
      drainErrors,
      summary: verdict,
    },
  };
}

function summary(name: string, latencies: number[], errors: number): Figure {
  return {
    name,
    samples: latencies.length,
    errors,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    max: latencies.length ? Math.max(...latencies) : NaN,
    aimed: false,
  };
}

function printFigures(figures: Figure[]) {
  const rows = figures.map((f) => [
    f.name,
    String(f.samples) + (f.errors ? ` (${f.errors} failed)` : '') + (f.notStarted ? ` (${f.notStarted} not sent)` : ''),
    ms(f.p50),
    ms(f.p99),
    ms(f.max),
    f.baseline ? `${(f.p50 / f.baseline.p50).toFixed(1)}× / ${(f.p99 / f.baseline.p99).toFixed(1)}×` : '',
    f.aimed ? (f.p99 < AIM_MS && !f.errors && !f.notStarted ? 'met' : 'NOT MET') : '',
    f.note ?? '',
  ]);
  const head = ['figure', 'requests', 'p50', 'p99', 'max', 'vs no-op p50/p99', `aim p99 < ${AIM_MS} ms`, ''];
  printColumns(head, rows, { first: 1, last: 5 });
  console.log('');
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
