// `npm run bench -- gateway`: the compute gateway under load, as issue 5 asks. A fake OpenAI-compatible
// upstream runs in a process of its own (fake-upstream-process.ts); the gateway is a control-plane
// process configured with it (real PostgreSQL and Redis, an isolated database). With the real `openai`
// client, the same requests go straight to the fake and through the gateway, and the difference is the
// gateway's added latency: non-streaming calls at 500/s (open loop), and 200 concurrent streams (time to
// first and to last token). Then 100 concurrent calls of one agent with a small balance, spread over two
// replicas on the same database and Redis: nothing may be spent beyond the balance, and the ledger must
// verify. Prints figures against the aim; fails only on overspend or a ledger that does not verify.
import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';
import pg from 'pg';
import {
  agentAccount,
  VillageClient,
  type ChatCompletionRequest,
  type TierPolicyRequest,
} from '../src/contract/index.js';
import { estimatePromptTokens } from '../src/compute/token-estimate.js';
import { DEFAULT_TIER_POLICY } from '../src/economy/default-tier-policy.js';
import { verifyLedger } from '../src/ledger/ledger-verify.js';
import { BENCH_ADMIN_TOKEN, sleep, startControlPlane, type RunningControlPlane } from './control-plane-process.js';
import type { FakeUpstreamCommand, FakeUpstreamReply } from './fake-upstream-process.js';
import { percentile } from './load.js';
import { steadyLoad } from './steady-load.js';
import { inBatches } from './batches.js';
import { ms, printColumns } from './table.js';

const AGENTS = Number(process.env.BENCH_AGENTS ?? 100);
const RATE = Number(process.env.BENCH_RATE ?? 500);
/** A rate far below saturation, for context: what a call costs when nothing queues. */
const LOW_RATE = Number(process.env.BENCH_LOW_RATE ?? 50);
const PHASE_MS = Number(process.env.BENCH_PHASE_MS ?? 15_000);
const LOW_RATE_MS = Number(process.env.BENCH_LOW_RATE_MS ?? 10_000);
const STREAMS = Number(process.env.BENCH_STREAMS ?? 200);
const STREAM_MS = Number(process.env.BENCH_STREAM_MS ?? 15_000);
/** Words of a streamed answer: one stream event each. */
const STREAM_WORDS = Number(process.env.BENCH_STREAM_WORDS ?? 64);
/** The fake's time to its first byte, and between the events of a stream (a model writing 20 tokens/s). */
const UPSTREAM_DELAY_MS = Number(process.env.BENCH_UPSTREAM_DELAY_MS ?? 20);
const CHUNK_DELAY_MS = Number(process.env.BENCH_CHUNK_DELAY_MS ?? 50);
/** Calls made one at a time, each ONE_AT_A_TIME_PAUSE_MS after the last answer (its bill done meanwhile). */
const ONE_AT_A_TIME_CALLS = Number(process.env.BENCH_ONE_AT_A_TIME_CALLS ?? 300);
const ONE_AT_A_TIME_PAUSE_MS = 10;
// BENCH_PHASES: which of calls, low-rate, one-at-a-time, streams, overspend to run (all by default).
const PHASES = new Set((process.env.BENCH_PHASES ?? 'calls,low-rate,one-at-a-time,streams,overspend').split(','));
const WARM_UP_MS = 3_000;
/** Calls before the measured ones of the one-at-a-time phase. */
const WARM_UP_CALLS = 200;
/** At most this many non-streaming calls outstanding: a gateway far slower than the rate cannot pile up calls. */
const MAX_IN_FLIGHT = 256;
const OVERSPEND_CALLS = 100;
/** The small balance covers this many worst-case holds (and half of one more). */
const OVERSPEND_HOLDS = 10;
const AIM = { p50: 3, p99: 15 };
/** 1 mill a prompt token, 2 a completion token: a hold is the prompt estimate plus twice max_tokens. */
const PRICE = { promptPricePerMtok: 1_000_000, completionPricePerMtok: 2_000_000 };
const REQUEST = {
  model: 'small',
  messages: [{ role: 'user' as const, content: 'You are a villager. Say hello to the baker in a few words.' }],
  max_tokens: 16,
};

interface Figure {
  name: string;
  latencies: number[];
  outcomes: Outcomes;
  notStarted?: number;
  /** The same figure measured straight at the upstream: the gateway's added latency is the difference. */
  direct?: Figure;
  /** Control-plane CPU time per answered call (gateway figures only). */
  cpuMsPerCall?: number;
  /** The share of the machine's CPUs busy during the phase (every process: load, fake, gateway, databases). */
  machineBusy?: number;
  /** Context only: the aim is not judged on it. */
  context?: boolean;
}

/** What the calls of a phase came to: answered, refused (by status and code) or failed. */
class Outcomes {
  ok = 0;
  readonly refused = new Map<string, number>();
  failed = 0;

  async watch<T>(call: Promise<T>): Promise<T> {
    try {
      const result = await call;
      this.ok++;
      return result;
    } catch (error) {
      if (error instanceof OpenAI.APIError && error.status) {
        const key = `${error.status}${error.code ? ` ${error.code}` : ''}`;
        this.refused.set(key, (this.refused.get(key) ?? 0) + 1);
      } else this.failed++;
      throw error;
    }
  }

  get problems() {
    return [...this.refused.values()].reduce((sum, n) => sum + n, 0) + this.failed;
  }

  describe() {
    const parts = [...this.refused].map(([key, n]) => `${n}× ${key}`);
    if (this.failed) parts.push(`${this.failed} failed`);
    return parts.join(', ');
  }
}

async function main() {
  const fake = await startFakeUpstream();
  const gatewayEnv = {
    VILLAGE_LLM_UPSTREAMS: JSON.stringify([
      { name: 'bench', baseUrl: fake.baseUrl, models: ['small'], maxConcurrency: 10_000, timeoutMs: 30_000 },
    ]),
    // No free allowance: every call takes the full path (a ledger hold, settled to the real price).
    VILLAGE_LLM_COMMONS_TOKENS_PER_HOUR: '0',
    // The loop breaker would pause agents that spend this fast, which is not what is measured here.
    VILLAGE_LLM_SPEND_LIMIT: '1000000000',
    LOG_LEVEL: 'warn',
  };
  let controlPlane: RunningControlPlane | undefined;
  let replica: RunningControlPlane | undefined;
  let database: pg.Pool | undefined;
  const stop = async () => {
    await database?.end().catch(() => undefined);
    await replica?.stop();
    await controlPlane?.stop();
    await fake.stop();
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => void stop().finally(() => process.exit(130)));
  }
  try {
    controlPlane = await startControlPlane(gatewayEnv);
    database = new pg.Pool({ connectionString: controlPlane.databaseUrl, max: 4, application_name: 'gateway-bench' });
    // Dropping the database ends these connections: that is expected, not a crash.
    database.on('error', () => undefined);
    const startReplica = async () => (replica = await startControlPlane(gatewayEnv, { sharing: controlPlane }));
    await run(controlPlane, fake, database, startReplica);
  } finally {
    await stop();
  }
}

async function run(
  controlPlane: RunningControlPlane,
  fake: FakeUpstreamProcess,
  database: pg.Pool,
  startReplica: () => Promise<RunningControlPlane>,
) {
  console.log(
    `AI Village gateway benchmark: ${AGENTS} agents; non-streaming calls at ${RATE}/s for ${PHASE_MS / 1000} s, ` +
      `${STREAMS} concurrent streams for ${STREAM_MS / 1000} s (after ${WARM_UP_MS / 1000} s of warm-up each), ` +
      `straight to the fake upstream and through the gateway; then ${OVERSPEND_CALLS} calls on one small balance ` +
      `across two replicas. Fake upstream: ${UPSTREAM_DELAY_MS} ms to the first byte, ${CHUNK_DELAY_MS} ms between stream events.`,
  );
  const admin = new VillageClient({ baseUrl: controlPlane.base.origin, token: BENCH_ADMIN_TOKEN });
  await admin.setTierPolicy(benchTierPolicy());
  const priced = await controlPlane.client.request('PUT', '/api/llm/models/small', BENCH_ADMIN_TOKEN, PRICE);
  if (priced.status !== 200) throw new Error(`pricing the model: ${priced.status} ${priced.body}`);

  const agents = await inBatches(AGENTS, 8, async (i) => {
    const created = await admin.createAgent({ id: `bench-${i}`, displayName: `Bench ${i}` });
    await admin.createTransfer({
      debitAccount: 'treasury',
      creditAccount: agentAccount(created.id),
      amount: 1_000_000,
      reason: 'grant',
    });
    return created;
  });
  const openai = (baseURL: string, apiKey: string) =>
    new OpenAI({ baseURL, apiKey, maxRetries: 0, timeout: 30_000, logLevel: 'off' });
  const direct = agents.map((agent) => openai(fake.baseUrl, agent.token));
  const gateway = agents.map((agent) => openai(`${controlPlane.base.origin}/v1`, agent.token));

  const figures: Figure[] = [];
  // Every call answered through the gateway is billed once, after its answer: each phase waits for
  // the bills of the one before, so that they do not weigh on its figures.
  let gatewayCalls = 0;
  const billed = () => settledUsage(database, gatewayCalls);
  const callPhase = async (rate: number, ms: number, context: boolean) => {
    console.log(`measuring non-streaming calls at ${rate}/s...`);
    await fake.command({ type: 'behave', behaviour: { delayMs: UPSTREAM_DELAY_MS } });
    const calls = async (clients: OpenAI[], pid?: number) => {
      const call = (outcomes: Outcomes) => (i: number) =>
        outcomes.watch(clients[i % clients.length]!.chat.completions.create(REQUEST));
      const warmUp = new Outcomes();
      await steadyLoad(rate, WARM_UP_MS, call(warmUp), MAX_IN_FLIGHT);
      const outcomes = new Outcomes();
      const meter = cpuMeter(pid);
      const { latencies, notStarted } = await steadyLoad(rate, ms, call(outcomes), MAX_IN_FLIGHT);
      return { latencies, outcomes, notStarted, warmUp, ...meter(outcomes.ok) };
    };
    const straight = await calls(direct);
    const through = await calls(gateway, controlPlane.pid);
    gatewayCalls += through.warmUp.ok + through.outcomes.ok;
    await billed();
    const name = `non-streaming at ${rate}/s`;
    const baseline: Figure = { name: `direct: ${name}`, ...straight };
    figures.push(baseline, { name: `gateway: ${name}`, ...through, direct: baseline, context });
  };
  if (PHASES.has('calls')) await callPhase(RATE, PHASE_MS, false);
  if (PHASES.has('low-rate')) await callPhase(LOW_RATE, LOW_RATE_MS, true);
  if (PHASES.has('one-at-a-time')) {
    // What the gateway's own path adds to a call when nothing else runs: no queueing, no neighbours.
    console.log(`measuring ${ONE_AT_A_TIME_CALLS} non-streaming calls one at a time...`);
    await fake.command({ type: 'behave', behaviour: { delayMs: UPSTREAM_DELAY_MS } });
    const oneByOne = async (clients: OpenAI[], pid?: number) => {
      const warmUp = new Outcomes();
      const outcomes = new Outcomes();
      const latencies: number[] = [];
      let meter = cpuMeter(pid);
      for (let i = -WARM_UP_CALLS; i < ONE_AT_A_TIME_CALLS; i++) {
        if (i === 0) meter = cpuMeter(pid);
        const started = performance.now();
        const answered = await (i < 0 ? warmUp : outcomes)
          .watch(clients[(i + WARM_UP_CALLS) % clients.length]!.chat.completions.create(REQUEST))
          .then(
            () => true,
            () => false,
          );
        if (i >= 0 && answered) latencies.push(performance.now() - started);
        await sleep(ONE_AT_A_TIME_PAUSE_MS);
      }
      return { latencies, outcomes, warmUp, ...meter(outcomes.ok) };
    };
    const straight = await oneByOne(direct);
    const through = await oneByOne(gateway, controlPlane.pid);
    gatewayCalls += through.warmUp.ok + through.outcomes.ok;
    await billed();
    const name = `non-streaming, one at a time`;
    const baseline: Figure = { name: `direct: ${name}`, ...straight };
    figures.push(baseline, { name: `gateway: ${name}`, ...through, direct: baseline, context: true });
  }

  if (PHASES.has('streams')) {
    console.log(`measuring ${STREAMS} concurrent streams...`);
    await fake.command({
      type: 'behave',
      behaviour: { delayMs: UPSTREAM_DELAY_MS, chunkDelayMs: CHUNK_DELAY_MS },
      words: STREAM_WORDS,
    });
    const straight = await streams(direct);
    const through = await streams(gateway, controlPlane.pid);
    gatewayCalls += through.answered;
    await billed();
    const first: Figure = { name: `direct: ${STREAMS} streams, first token`, ...straight.first };
    const last: Figure = { name: `direct: ${STREAMS} streams, last token`, ...straight.last };
    figures.push(first, { name: `gateway: ${STREAMS} streams, first token`, ...through.first, direct: first }, last, {
      name: `gateway: ${STREAMS} streams, last token`,
      ...through.last,
      direct: last,
    });
  }

  const bills = await billed();

  let overspend: Awaited<ReturnType<typeof overspendPhase>> | undefined;
  if (PHASES.has('overspend')) {
    console.log(`measuring overspend: ${OVERSPEND_CALLS} concurrent calls on one small balance, two replicas...`);
    const second = await startReplica();
    overspend = await overspendPhase(admin, controlPlane, second, fake, database);
  }
  const verification = await verifyLedger(database);

  printFigures(figures);
  console.log(
    `billing                       ${bills.records} usage records for ${gatewayCalls} calls answered through the gateway ` +
      `(${bills.open} holds still open)`,
  );
  if (overspend) console.log(`overspend                     ${overspend.summary}`);
  console.log(
    `ledger                        ${verification.ok ? 'verified' : 'DOES NOT VERIFY'}: ${verification.transfers} transfers, ` +
      `${verification.entries} entries${verification.firstDiscrepancy ? `; first discrepancy: ${JSON.stringify(verification.firstDiscrepancy)}` : ''}`,
  );
  const aims = figures.filter((figure) => figure.direct).map(aimOf);
  const judged = aims.filter((aim) => !aim.context);
  console.log(
    `aim (added p50 ≤ ${AIM.p50} ms, p99 ≤ ${AIM.p99} ms; zero overspend): ` +
      [
        ...judged.map((aim) => `${aim.name} ${aim.met ? 'met' : 'NOT MET'}`),
        ...(overspend ? [`overspend ${overspend.overspend === 0 ? 'met' : 'NOT MET'}`] : []),
      ].join('; '),
  );
  console.log('');
  console.log(
    JSON.stringify({
      agents: AGENTS,
      rate: RATE,
      streams: STREAMS,
      lowRate: LOW_RATE,
      streamWords: STREAM_WORDS,
      upstreamDelayMs: UPSTREAM_DELAY_MS,
      chunkDelayMs: CHUNK_DELAY_MS,
      figures: figures.map((figure) => ({
        name: figure.name,
        samples: figure.latencies.length,
        p50: round(percentile(figure.latencies, 50)),
        p99: round(percentile(figure.latencies, 99)),
        max: round(Math.max(...figure.latencies)),
        refused: Object.fromEntries(figure.outcomes.refused),
        failed: figure.outcomes.failed,
        notStarted: figure.notStarted ?? 0,
        ...(figure.cpuMsPerCall !== undefined ? { cpuMsPerCall: round(figure.cpuMsPerCall) } : {}),
        machineBusy: round(figure.machineBusy ?? NaN),
      })),
      added: aims,
      billing: { ...bills, calls: gatewayCalls },
      overspend: overspend && { ...overspend, summary: undefined },
      ledger: { ok: verification.ok, firstDiscrepancy: verification.firstDiscrepancy },
    }),
  );
  if (!verification.ok || (overspend && overspend.overspend !== 0)) process.exitCode = 1;
}

/**
 * STREAMS workers, each streaming one call after another for the warm-up and STREAM_MS (the workers'
 * starts are spread over one stream's length so that they do not move in waves). Times to the first
 * and to the last token of each stream started after the warm-up.
 */
async function streams(clients: OpenAI[], pid?: number) {
  const firstTokens: number[] = [];
  const lastTokens: number[] = [];
  const outcomes = new Outcomes();
  let answered = 0;
  const started = performance.now();
  const measureFrom = started + WARM_UP_MS;
  const deadline = measureFrom + STREAM_MS;
  const spread = (UPSTREAM_DELAY_MS + (STREAM_WORDS + 3) * CHUNK_DELAY_MS) / STREAMS;
  let meter = cpuMeter(pid);
  const meterFrom = setTimeout(() => (meter = cpuMeter(pid)), WARM_UP_MS);
  await Promise.all(
    Array.from({ length: STREAMS }, async (_, k) => {
      await sleep(k * spread);
      const client = clients[k % clients.length]!;
      while (performance.now() < deadline) {
        const t0 = performance.now();
        const measured = t0 >= measureFrom;
        let first: number | undefined;
        let last: number | undefined;
        const stream = async () => {
          const chunks = await client.chat.completions.create({
            ...REQUEST,
            max_tokens: STREAM_WORDS,
            stream: true,
            stream_options: { include_usage: true },
          });
          for await (const chunk of chunks) {
            if (chunk.choices[0]?.delta?.content) {
              last = performance.now() - t0;
              first ??= last;
            }
          }
        };
        try {
          await (measured ? outcomes.watch(stream()) : stream());
          answered++;
          if (measured && first !== undefined && last !== undefined) {
            firstTokens.push(first);
            lastTokens.push(last);
          }
        } catch {
          await sleep(100); // counted (when measured); a refused worker does not spin
        }
      }
    }),
  );
  clearTimeout(meterFrom);
  const cpu = meter(outcomes.ok);
  return {
    first: { latencies: firstTokens, outcomes, ...cpu },
    last: { latencies: lastTokens, outcomes, ...cpu },
    answered,
  };
}

/**
 * One agent with a balance for OVERSPEND_HOLDS worst-case holds (and half of one more) sends
 * OVERSPEND_CALLS calls at once, alternately to two replicas; the fake answers each after 300 ms and
 * reports that it used every token allowed, so each call costs its whole hold. Afterwards: the agent's
 * available balance never went below zero (its ledger entries say what it was after each transfer),
 * the charges add up to at most the balance, and the bills match the answered calls.
 */
async function overspendPhase(
  admin: VillageClient,
  first: RunningControlPlane,
  second: RunningControlPlane,
  fake: FakeUpstreamProcess,
  database: pg.Pool,
) {
  await fake.command({ type: 'behave', behaviour: { delayMs: 300 }, completionTokens: 'max_tokens' });
  const request = { ...REQUEST, max_tokens: 100 };
  const hold =
    estimatePromptTokens(request as ChatCompletionRequest) * (PRICE.promptPricePerMtok / 1e6) +
    request.max_tokens * (PRICE.completionPricePerMtok / 1e6);
  const balance = OVERSPEND_HOLDS * hold + Math.floor(hold / 2);
  const agent = await admin.createAgent({ id: 'bench-thrifty', displayName: 'Bench Thrifty' });
  await admin.createTransfer({
    debitAccount: 'treasury',
    creditAccount: agentAccount(agent.id),
    amount: balance,
    reason: 'grant',
  });
  const replicas = [first, second].map(
    (replica) =>
      new OpenAI({
        baseURL: `${replica.base.origin}/v1`,
        apiKey: agent.token,
        maxRetries: 0,
        timeout: 30_000,
        logLevel: 'off',
      }),
  );
  const outcomes = new Outcomes();
  await Promise.all(
    Array.from({ length: OVERSPEND_CALLS }, (_, i) =>
      outcomes.watch(replicas[i % 2]!.chat.completions.create(request)).catch(() => undefined),
    ),
  );
  const account = agentAccount(agent.id);
  let settled = false;
  for (let i = 0; i < 150 && !settled; i++) {
    const { rows } = await database.query<{ held: string; usage: string }>(
      `SELECT a.held, (SELECT count(*) FROM llm_usage WHERE agent_id = $2) AS usage
         FROM ledger_accounts a WHERE a.id = $1`,
      [account, agent.id],
    );
    settled = Number(rows[0]!.held) === 0 && Number(rows[0]!.usage) >= outcomes.ok;
    if (!settled) await sleep(100);
  }
  const { rows } = await database.query<{
    balance: string;
    lowest_available: string;
    lowest_balance: string;
    charged: string;
    billed: string;
    bills: string;
  }>(
    `SELECT a.balance,
            (SELECT min(balance_after - held_after) FROM ledger_entries WHERE account_id = $1) AS lowest_available,
            (SELECT min(balance_after) FROM ledger_entries WHERE account_id = $1) AS lowest_balance,
            (SELECT coalesce(-sum(amount), 0) FROM ledger_entries WHERE account_id = $1 AND amount < 0) AS charged,
            (SELECT coalesce(sum(price), 0) FROM llm_usage WHERE agent_id = $2) AS billed,
            (SELECT count(*) FROM llm_usage WHERE agent_id = $2) AS bills
       FROM ledger_accounts a WHERE a.id = $1`,
    [account, agent.id],
  );
  const row = rows[0]!;
  const charged = Number(row.charged);
  const lowestAvailable = Number(row.lowest_available);
  const overspend = Math.max(0, charged - balance, -lowestAvailable, -Number(row.lowest_balance));
  const refused402 = [...outcomes.refused].filter(([key]) => key.startsWith('402')).reduce((sum, [, n]) => sum + n, 0);
  const others = outcomes.problems - refused402;
  const summary =
    `${overspend} mills${overspend === 0 ? '' : ' (NOT ZERO)'}: ${OVERSPEND_CALLS} calls across two replicas, ` +
    `${outcomes.ok} answered, ${refused402} refused with 402` +
    (others ? `, ${others} otherwise (${outcomes.describe()})` : '') +
    `; charged ${charged} of ${balance} mills (holds of ${hold}), ${row.bills} usage records billing ${row.billed}; ` +
    `lowest available ${lowestAvailable} mills, balance now ${row.balance}${settled ? '' : '; NOT all settled within 15 s'}`;
  return {
    overspend,
    initialBalance: balance,
    hold,
    answered: outcomes.ok,
    refused402,
    otherRefusals: others,
    charged,
    billed: Number(row.billed),
    usageRecords: Number(row.bills),
    lowestAvailable,
    balanceNow: Number(row.balance),
    settled,
    summary,
  };
}

/** Waits (at most 20 s) until the gateway has written a usage record per answered call and no hold is open. */
async function settledUsage(database: pg.Pool, calls: number) {
  let records = 0;
  let open = 0;
  for (let i = 0; i < 200; i++) {
    const { rows } = await database.query<{ records: string; open: string }>(
      `SELECT (SELECT count(*) FROM llm_usage) AS records, (SELECT count(*) FROM ledger_open_holds) AS open`,
    );
    records = Number(rows[0]!.records);
    open = Number(rows[0]!.open);
    if (records >= calls && open === 0) break;
    await sleep(100);
  }
  return { records, open };
}

/** The default tier policy with limits that the load cannot reach: the gateway's checks run, nothing is refused. */
function benchTierPolicy(): TierPolicyRequest {
  return {
    ...DEFAULT_TIER_POLICY,
    tiers: DEFAULT_TIER_POLICY.tiers.map((tier) => ({
      ...tier,
      entitlements: {
        ...tier.entitlements,
        requestsPerMinute: 1_000_000,
        llmTokensPerHour: 100_000_000,
        concurrentLlmCalls: 1_000,
      },
    })),
  };
}

function aimOf(figure: Figure) {
  const direct = figure.direct!;
  const p50 = percentile(figure.latencies, 50) - percentile(direct.latencies, 50);
  const p99 = percentile(figure.latencies, 99) - percentile(direct.latencies, 99);
  const clean = figure.outcomes.problems === 0 && !figure.notStarted && direct.outcomes.problems === 0;
  return {
    name: figure.name.replace(/^gateway: /, ''),
    p50: round(p50),
    p99: round(p99),
    met: p50 <= AIM.p50 && p99 <= AIM.p99 && clean,
    context: figure.context === true,
  };
}

function printFigures(figures: Figure[]) {
  const signed = (value: number) => `${value >= 0 ? '+' : ''}${value.toFixed(1)}`;
  const rows = figures.map((f) => {
    const problems = f.outcomes.describe();
    const aim = f.direct ? aimOf(f) : undefined;
    return [
      f.name,
      String(f.latencies.length) +
        (problems ? ` (${problems})` : '') +
        (f.notStarted ? ` (${f.notStarted} not sent)` : ''),
      ms(percentile(f.latencies, 50)),
      ms(percentile(f.latencies, 99)),
      ms(f.latencies.length ? Math.max(...f.latencies) : NaN),
      aim ? `${signed(aim.p50)} / ${signed(aim.p99)} ms` : '',
      aim ? (aim.context ? `(context: ${aim.met ? 'met' : 'not met'})` : aim.met ? 'met' : 'NOT MET') : '',
      [
        f.cpuMsPerCall !== undefined ? `control plane ${f.cpuMsPerCall.toFixed(2)} ms CPU a call` : '',
        f.machineBusy !== undefined ? `machine ${(f.machineBusy * 100).toFixed(0)}% busy` : '',
      ]
        .filter(Boolean)
        .join(', '),
    ];
  });
  const head = ['figure', 'calls', 'p50', 'p99', 'max', 'added p50 / p99', `aim +${AIM.p50} / +${AIM.p99} ms`, ''];
  printColumns(head, rows, { first: 1, last: 5 });
  console.log('');
}

interface FakeUpstreamProcess {
  baseUrl: string;
  command(message: DistributiveOmit<FakeUpstreamCommand, 'id'>): Promise<FakeUpstreamReply>;
  stop(): Promise<void>;
}
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** The fake upstream in its own Node process (fake-upstream-process.ts), driven over IPC. */
async function startFakeUpstream(): Promise<FakeUpstreamProcess> {
  const child: ChildProcess = fork(fileURLToPath(new URL('fake-upstream-process.js', import.meta.url)), [], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const waiting = new Map<number, (reply: FakeUpstreamReply) => void>();
  let next = 0;
  const baseUrl = await new Promise<string>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the fake upstream exited with ${code}`)));
    child.on('message', (reply: FakeUpstreamReply) => {
      if ('baseUrl' in reply) resolve(reply.baseUrl);
      else waiting.get(reply.id)?.(reply);
    });
  });
  let stopped: Promise<void> | undefined;
  return {
    baseUrl,
    command: (message) =>
      new Promise((resolve) => {
        const id = ++next;
        waiting.set(id, (reply) => {
          waiting.delete(id);
          resolve(reply);
        });
        child.send({ ...message, id });
      }),
    stop: () =>
      (stopped ??= new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      })),
  };
}

/**
 * CPU use from now on: call the result at the end with the calls answered, for the control plane's
 * CPU time per call (when `pid` is given) and the share of the machine's CPUs that were busy.
 */
function cpuMeter(pid?: number) {
  const start = pid === undefined ? 0 : cpuMs(pid);
  const machine = machineTicks();
  return (calls: number) => {
    const now = machineTicks();
    const total = now.total - machine.total;
    return {
      cpuMsPerCall: pid === undefined ? undefined : (cpuMs(pid) - start) / Math.max(1, calls),
      machineBusy: total > 0 ? 1 - (now.idle - machine.idle) / total : undefined,
    };
  };
}

/** The machine's CPU time so far, all of it and idle (with I/O wait), in clock ticks, from /proc/stat. */
function machineTicks(): { total: number; idle: number } {
  try {
    const ticks = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    return { total: ticks.reduce((sum, n) => sum + n, 0), idle: ticks[3]! + (ticks[4] ?? 0) };
  } catch {
    return { total: 0, idle: 0 };
  }
}

/** A process's CPU time so far (user + system), in ms, from /proc (Linux); 0 elsewhere. */
function cpuMs(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime, stime in clock ticks (100 Hz)
  } catch {
    return 0;
  }
}

const round = (value: number) => Math.round(value * 100) / 100;

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
