// `npm run bench -- flows`: the delay from an event to its effect through the embedded Node-RED and the
// default reward flow: people mark agents' replies helpful at BENCH_FLOW_RATE a second (open loop), and
// each mark's reward lands in the ledger. The delay is the ledger transfer's time minus the mark's time
// (both PostgreSQL's clock), so it covers the event stream, the flow, and the reward call back into the
// API. Checks afterwards that every mark paid exactly once.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VillageClient, type HelpfulMark, type Transfer } from '../src/contract/index.js';
import { inBatches } from './batches.js';
import { BENCH_ADMIN_TOKEN, sleep, startControlPlane } from './control-plane-process.js';
import { openLoop, percentile } from './load.js';
import { ms, printColumns } from './table.js';

const RATE = Number(process.env.BENCH_FLOW_RATE ?? 100);
const PHASE_MS = Number(process.env.BENCH_PHASE_MS ?? 15_000);
const WARMUP_MS = 3_000;
const AGENTS = Number(process.env.BENCH_FLOW_AGENTS ?? 50);
const marks = Math.ceil((RATE * (PHASE_MS + WARMUP_MS)) / 1000);

const dataDir = mkdtempSync(join(tmpdir(), 'village-flows-bench-'));
const village = await startControlPlane({
  VILLAGE_FLOWS: 'true',
  VILLAGE_FLOWS_CREDENTIAL_SECRET: 'flows-bench-credential-secret-0123456789',
  VILLAGE_DATA_DIR: dataDir,
  VILLAGE_SIGN_UP_LIMIT: '1000',
});
try {
  const url = village.base.origin;
  const admin = new VillageClient({ baseUrl: url, token: BENCH_ADMIN_TOKEN, timeoutMs: 30_000 });
  console.log(`flows: ${marks} questions, each answered by one of ${AGENTS} agents; marks at ${RATE}/s`);
  const agents = await inBatches(AGENTS, 10, (i) =>
    admin.createAgent({ id: `flow-agent-${i}`, displayName: `Agent ${i}` }),
  );
  const asAgents = agents.map((agent) => new VillageClient({ baseUrl: url, token: agent.token, timeoutMs: 30_000 }));
  const judge = new VillageClient({ baseUrl: url, timeoutMs: 30_000 });
  const session = await judge.signUp({
    handle: 'bench-judge',
    email: 'judge@bench.test',
    password: 'correct horse battery',
    session: 'bearer',
  });
  judge.setToken(session.accessToken);
  // One question per mark (posted by the village), each answered by an agent: each reward names its post.
  const replies = await inBatches(marks, 16, async (i) => {
    const question = await admin.createPost({ title: `Question ${i}`, body: 'Who knows?' });
    return asAgents[i % AGENTS]!.reply(question.id, { body: `Answer ${i}` });
  });

  // The flows are running when a mark pays (the first event also opens the flows' event stream).
  const probe = await judge.markReplyHelpful(replies[0]!.id);
  for (let i = 0; ; i++) {
    if ((await rewardsFor([probe.postId])).size === 1) break;
    if (i > 300) throw new Error('the default reward flow never paid the first mark');
    await sleep(100);
  }

  const marked: HelpfulMark[] = [];
  const warmupCount = Math.floor((RATE * WARMUP_MS) / 1000);
  const load = await openLoop(RATE, PHASE_MS + WARMUP_MS, async (i) => {
    const reply = replies[i + 1];
    if (!reply) return;
    const mark = await judge.markReplyHelpful(reply.id);
    if (i >= warmupCount) marked.push(mark);
  });
  // Let the last rewards land.
  const posts = marked.map((mark) => mark.postId);
  let paid = new Map<number, Transfer[]>();
  for (let i = 0; i < 100; i++) {
    paid = await rewardsFor(posts);
    if (paid.size >= posts.length) break;
    await sleep(100);
  }
  await sleep(1000);
  paid = await rewardsFor(posts);

  const delays: number[] = [];
  let missing = 0;
  let doubled = 0;
  for (const mark of marked) {
    const transfers = paid.get(mark.postId) ?? [];
    if (transfers.length === 0) missing++;
    if (transfers.length > 1) doubled++;
    if (transfers[0]) delays.push(Date.parse(transfers[0].createdAt) - Date.parse(mark.createdAt));
  }
  printColumns(
    ['figure', 'value', 'aim'],
    [
      ['marks measured (after 3 s warm-up)', String(marked.length), ''],
      ['mark requests that failed', String(load.errors), '0'],
      ['mark answer, p50 / p99', `${ms(percentile(load.latencies, 50))} / ${ms(percentile(load.latencies, 99))}`, ''],
      ['mark → ledger transfer, p50', ms(percentile(delays, 50)), ''],
      ['mark → ledger transfer, p99', ms(percentile(delays, 99)), '< 100 ms'],
      ['mark → ledger transfer, max', ms(Math.max(...delays)), ''],
      ['marks never paid / paid twice', `${missing} / ${doubled}`, '0 / 0'],
    ],
    { first: 1, last: 1 },
  );
  if (missing || doubled || load.errors) {
    console.error('flows benchmark: some marks were not paid exactly once');
    process.exitCode = 1;
  }

  /** Reward transfers by post id. */
  async function rewardsFor(postIds: number[]): Promise<Map<number, Transfer[]>> {
    const wanted = new Set(postIds);
    const byPost = new Map<number, Transfer[]>();
    for (let start = 0; ; start += 1000) {
      const page = await admin.transfers({
        filter: { reason: 'reward' },
        sort: ['id', 'ASC'],
        range: [start, start + 999],
      });
      for (const transfer of page.items) {
        if (transfer.postId === null || !wanted.has(transfer.postId)) continue;
        byPost.set(transfer.postId, [...(byPost.get(transfer.postId) ?? []), transfer]);
      }
      if (page.items.length < 1000) return byPost;
    }
  }
} finally {
  await village.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
