// `npm run bench -- ledger`: the aiDollar ledger under load, as issue 4 asks. Against one PostgreSQL,
// in one run: pgbench's built-in TPC-B-like transaction as the baseline (its own scratch database,
// dropped afterwards), then 32 concurrent clients making transfers through LedgerService (the same
// prepared `ledger_transfer` statement the control plane runs, on 32 pooled connections) between
// (a) 10 shared agent accounts and (b) 1,000, and (c) the same through `POST /api/transfers` on one
// control-plane process. Prints transfers/s and latency as ratios to pgbench's, checks the aim (and
// says so; a miss does not fail the run), and fails if the ledger does not verify after a phase or a
// transfer that was acknowledged is not in it.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { agentAccount, VillageClient } from '../src/contract/index.js';
import type { DatabaseService } from '../src/database/database.service.js';
import type { EventBus } from '../src/events/event-bus.service.js';
import { verifyLedger } from '../src/ledger/ledger-verify.js';
import { LedgerService } from '../src/ledger/ledger.service.js';
import { TEST_POSTGRES_URL } from '../test/support/test-database.js';
import { BENCH_ADMIN_TOKEN, startControlPlane, type RunningControlPlane } from './control-plane-process.js';
import { percentile } from './load.js';
import { inBatches } from './batches.js';
import { ms, printColumns } from './table.js';

const PHASE_MS = Number(process.env.BENCH_LEDGER_MS ?? 15_000);
const WARM_UP_MS = Number(process.env.BENCH_LEDGER_WARM_UP_MS ?? 3_000);
const CLIENTS = Number(process.env.BENCH_LEDGER_CLIENTS ?? 32);
const ACCOUNTS = Number(process.env.BENCH_LEDGER_ACCOUNTS ?? 1_000);
const SHARED_ACCOUNTS = 10;
// Scale 10: ten pgbench_branches rows, every transaction updating one of them, the same contention as
// phase (a)'s ten shared accounts (scale 1 would put all 32 clients on one row).
const PGBENCH_SCALE = Number(process.env.BENCH_PGBENCH_SCALE ?? 10);
const PGBENCH = process.env.BENCH_PGBENCH ?? 'pgbench';
// Each account starts with 1,000 aiDollars and transfers move at most 1: a random walk of ~10,000
// transfers per account stays far above zero (and above the top tier's threshold, so tiers hold).
const FUNDING = 1_000_000;
const MAX_AMOUNT = 1_000;
const AIM = { perSecond: 2_000, ofPgbench: 0.5, p99Ms: 25 };

interface Figure {
  name: string;
  /** Transactions (pgbench) or acknowledged transfers in the measured window. */
  count: number;
  errors: number;
  firstError?: string;
  perSecond: number;
  p50: number;
  p99: number;
  max: number;
  cpu: CpuShare;
  aimed: boolean;
  note?: string;
}

interface CpuShare {
  /** Percent of the whole machine (all cores) busy, and who used it: the postgres processes, the load
   * generator (this process and its children: pgbench), the control plane, the kernel's interrupt
   * handling (loopback networking; charged to no process), and anything else. */
  machine: number;
  postgres: number;
  load: number;
  controlPlane: number;
  interrupts: number;
  other: number;
}

async function main() {
  console.log(
    `AI Village ledger benchmark: ${CLIENTS} clients, ${PHASE_MS / 1000} s phases after ${WARM_UP_MS / 1000} s ` +
      `of warm-up; pgbench TPC-B scale ${PGBENCH_SCALE}; ${SHARED_ACCOUNTS} and ${ACCOUNTS.toLocaleString('en')} agent accounts`,
  );
  const cleanups: Array<() => Promise<void>> = [];
  const cleanUp = async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch((error: unknown) => console.error(error));
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => void cleanUp().finally(() => process.exit(130)));
  }
  try {
    const controlPlane = await startControlPlane();
    cleanups.push(() => controlPlane.stop());
    const pool = new pg.Pool({
      connectionString: controlPlane.databaseUrl,
      max: CLIENTS,
      application_name: 'ledger-bench',
    });
    // Dropping the database ends these connections: expected, not a crash.
    pool.on('error', () => undefined);
    cleanups.push(() => pool.end());
    await run(controlPlane, pool, cleanups);
  } finally {
    await cleanUp();
  }
}

async function run(controlPlane: RunningControlPlane, pool: pg.Pool, cleanups: Array<() => Promise<void>>) {
  // LedgerService as the control plane builds it, on this pool; its announcements (the Redis XADD of
  // balance_changed events) are counted instead of published: phase (c) has the real ones.
  let announced = 0;
  const database = { pool, query: pool.query.bind(pool) } as unknown as DatabaseService;
  const events = {
    publish: (list: unknown[]) => {
      announced += list.length;
      return Promise.resolve([]);
    },
  } as unknown as EventBus;
  const ledger = new LedgerService(database, events);

  const started = performance.now();
  const admin = new VillageClient({ baseUrl: controlPlane.base.origin, token: BENCH_ADMIN_TOKEN });
  const agents = await inBatches(ACCOUNTS, 8, async (i) => {
    const agent = await admin.createAgent({
      id: `ledger-${i}`,
      displayName: `Ledger ${i}`,
      spawn: { x: i % 80, y: 29 },
    });
    return agentAccount(agent.id);
  });
  await inBatches(agents.length, CLIENTS, (i) =>
    ledger.transfer({
      debit: 'treasury',
      credit: agents[i]!,
      amount: FUNDING,
      reason: 'grant',
      source: { type: 'admin', id: 'ledger-bench' },
      idempotencyKey: `bench:funding:${i}`,
    }),
  );
  const seeding = performance.now() - started;
  console.log(
    `created ${agents.length} agents (each with its ledger account) and funded them from the treasury in ${(seeding / 1000).toFixed(1)} s`,
  );

  const cpu = new CpuMeter(controlPlane.pid);
  const figures: Figure[] = [];
  const verifications: Array<{ phase: string; ms: number; transfers: number }> = [];

  console.log(`measuring pgbench (TPC-B-like, scale ${PGBENCH_SCALE}, -c ${CLIENTS} -j 2 -M prepared)...`);
  const baseline = await pgbench(cpu, cleanups);
  figures.push(baseline);

  const phase = async (
    key: string,
    name: string,
    transfer: (key: string, pair: [string, string], amount: number) => Promise<void>,
    accounts: string[],
  ) => {
    console.log(`measuring ${name}...`);
    let next = 0;
    const once = async () => {
      const pair = randomPair(accounts);
      await transfer(`bench:${key}:${next++}`, pair, 1 + Math.floor(Math.random() * MAX_AMOUNT));
    };
    const warmUp = await closedLoop(CLIENTS, WARM_UP_MS, once);
    cpu.start();
    const measured = await closedLoop(CLIENTS, PHASE_MS, once);
    const figure: Figure = {
      name,
      count: measured.latencies.length,
      errors: measured.errors,
      ...(measured.firstError ? { firstError: measured.firstError } : {}),
      perSecond: measured.latencies.length / (measured.ms / 1000),
      p50: percentile(measured.latencies, 50),
      p99: percentile(measured.latencies, 99),
      max: maxOf(measured.latencies),
      cpu: cpu.stop(),
      aimed: true,
    };
    figures.push(figure);
    // Every acknowledged transfer is in the ledger, and the ledger verifies.
    const acknowledged = warmUp.latencies.length + measured.latencies.length;
    // The API keeps an admin's key as admin:<admin>:<Idempotency-Key>.
    const pattern = key === 'c' ? 'admin:%:bench:c:%' : `bench:${key}:%`;
    const { rows } = await pool.query<{ count: string }>(
      'SELECT count(*) FROM ledger_transfers WHERE idempotency_key LIKE $1',
      [pattern],
    );
    const recorded = Number(rows[0]!.count);
    const verification = await verifyLedger(pool);
    verifications.push({ phase: key, ms: verification.durationMs, transfers: verification.transfers });
    const verdict =
      `${verification.ok ? 'verified' : 'DID NOT VERIFY'}: ${verification.transfers.toLocaleString('en')} transfers, ` +
      `${verification.entries.toLocaleString('en')} entries, sum ${verification.sumOfEntries}, in ${verification.durationMs} ms; ` +
      `${acknowledged.toLocaleString('en')} transfers acknowledged in this phase, ${recorded.toLocaleString('en')} recorded`;
    console.log(`  the ledger ${verdict}`);
    if (!verification.ok) throw new Error(`the ledger did not verify: ${verification.firstDiscrepancy?.problem}`);
    // A call that failed may still have committed (say, its answer was lost); none did here so far.
    const failed = warmUp.errors + measured.errors;
    if (recorded < acknowledged || recorded > acknowledged + failed) {
      throw new Error(`${acknowledged} transfers acknowledged (${failed} failed) but ${recorded} recorded`);
    }
    figure.note = `${failed ? `${failed} failed; ` : ''}verified`;
  };

  const direct = async (key: string, [debit, credit]: [string, string], amount: number) => {
    await ledger.transfer({
      debit,
      credit,
      amount,
      reason: 'transfer',
      source: { type: 'admin', id: 'ledger-bench' },
      idempotencyKey: key,
    });
  };
  await phase('a', `(a) LedgerService, ${SHARED_ACCOUNTS} shared accounts`, direct, agents.slice(0, SHARED_ACCOUNTS));
  await phase('b', `(b) LedgerService, ${agents.length.toLocaleString('en')} accounts`, direct, agents);
  const viaHttp = async (key: string, [debitAccount, creditAccount]: [string, string], amount: number) => {
    const res = await controlPlane.client.request(
      'POST',
      '/api/transfers',
      BENCH_ADMIN_TOKEN,
      { debitAccount, creditAccount, amount, reason: 'transfer' },
      { 'idempotency-key': key },
    );
    if (res.status !== 201) throw new Error(`${res.status} ${res.body.slice(0, 200)}`);
  };
  await phase('c', `(c) POST /api/transfers, ${agents.length.toLocaleString('en')} accounts`, viaHttp, agents);

  printFigures(figures, baseline);
  console.log(
    `balance announcements counted (a, b): ${announced.toLocaleString('en')}; ` +
      `verify took ${verifications.map((v) => `${(v.ms / 1000).toFixed(1)} s at ${v.transfers.toLocaleString('en')} transfers`).join(', ')}`,
  );
  console.log('');
  console.log(
    JSON.stringify({
      clients: CLIENTS,
      phaseMs: PHASE_MS,
      warmUpMs: WARM_UP_MS,
      pgbenchScale: PGBENCH_SCALE,
      accounts: agents.length,
      aim: AIM,
      figures: figures.map((f) => ({ ...f, ofPgbench: f.perSecond / baseline.perSecond })),
      verifications,
    }),
  );
}

/**
 * pgbench's built-in TPC-B-like script on a scratch database of the same server: initialise, 3 s of
 * warm-up, then the measured run with a per-transaction log (for p50/p99; pgbench itself prints only
 * the mean). The database and the log are removed afterwards.
 */
async function pgbench(cpu: CpuMeter, cleanups: Array<() => Promise<void>>): Promise<Figure> {
  const name = `ledger_bench_pgbench_${process.pid}_${randomBytes(4).toString('hex')}`;
  const server = new URL(TEST_POSTGRES_URL);
  const connection = [
    '-h',
    server.hostname,
    '-p',
    server.port || '5432',
    ...(server.username ? ['-U', decodeURIComponent(server.username)] : []),
  ];
  const env: Record<string, string> = server.password ? { PGPASSWORD: decodeURIComponent(server.password) } : {};
  const logs = await mkdtemp(join(tmpdir(), 'ledger-bench-pgbench-'));
  const drop = async () => {
    await rm(logs, { recursive: true, force: true });
    await adminQuery(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  };
  await adminQuery(`CREATE DATABASE "${name}"`);
  cleanups.push(drop);
  try {
    const initStarted = performance.now();
    await command(PGBENCH, ['-i', '-q', '-s', String(PGBENCH_SCALE), ...connection, name], env);
    const initMs = performance.now() - initStarted;
    const load = ['-c', String(CLIENTS), '-j', '2', '-M', 'prepared', ...connection];
    await command(PGBENCH, [...load, '-T', String(Math.max(1, Math.round(WARM_UP_MS / 1000))), name], env);
    cpu.start();
    const out = await command(
      PGBENCH,
      [...load, '-T', String(Math.round(PHASE_MS / 1000)), '-l', '--log-prefix', join(logs, 'tx'), name],
      env,
    );
    const usage = cpu.stop();
    const latencies: number[] = [];
    for (const file of await readdir(logs)) {
      // client_id transaction_no time_us script_no time_epoch time_us_in_epoch
      for (const line of (await readFile(join(logs, file), 'utf8')).split('\n')) {
        const field = line.split(' ')[2];
        if (field) latencies.push(Number(field) / 1000);
      }
    }
    const tps = Number(/tps = ([\d.]+) \(without initial connection time\)/.exec(out)?.[1]);
    const failed = Number(/number of failed transactions: (\d+)/.exec(out)?.[1] ?? 0);
    if (!Number.isFinite(tps) || latencies.length === 0) throw new Error(`could not read pgbench's figures:\n${out}`);
    return {
      name: `pgbench TPC-B-like, scale ${PGBENCH_SCALE}`,
      count: latencies.length,
      errors: failed,
      perSecond: tps,
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      max: maxOf(latencies),
      cpu: usage,
      aimed: false,
      note: `baseline; initialised in ${(initMs / 1000).toFixed(1)} s`,
    };
  } finally {
    cleanups.splice(cleanups.indexOf(drop), 1);
    await drop();
  }
}

async function adminQuery(sql: string) {
  const client = new pg.Client({ connectionString: TEST_POSTGRES_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** Runs a program to completion; its stdout and stderr together, or an error with them. */
function command(program: string, args: string[], env: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`${program} ${args.join(' ')} exited with ${code}:\n${out}`)),
    );
  });
}

/** Closed loop: `workers` call `once` back to back for `ms`; each success's latency, and the failures. */
async function closedLoop(workers: number, ms: number, once: () => Promise<void>) {
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  const started = performance.now();
  const deadline = started + ms;
  await Promise.all(
    Array.from({ length: workers }, async () => {
      while (performance.now() < deadline) {
        const t0 = performance.now();
        try {
          await once();
          latencies.push(performance.now() - t0);
        } catch (error) {
          errors++;
          firstError ??= error instanceof Error ? error.message : String(error);
        }
      }
    }),
  );
  return { latencies, errors, firstError, ms: performance.now() - started };
}

/** The largest value (a spread of 100,000+ latencies into Math.max would overflow the stack). */
function maxOf(values: number[]): number {
  return values.reduce((max, value) => (value > max ? value : max), -Infinity);
}

/** Two different accounts, uniformly. */
function randomPair(accounts: string[]): [string, string] {
  const a = Math.floor(Math.random() * accounts.length);
  let b = Math.floor(Math.random() * (accounts.length - 1));
  if (b >= a) b++;
  return [accounts[a]!, accounts[b]!];
}

/**
 * Where the machine's CPU went during a phase, from /proc: all cores; the postgres processes (with the
 * backends that ended meanwhile, which the postmaster collects); this process and the children it
 * waited for (pgbench); the control plane; the rest (anything else running on the machine).
 */
class CpuMeter {
  private from?: { machine: number[]; postgres: number; load: number; controlPlane: number };

  constructor(private readonly controlPlanePid: number) {}

  start() {
    this.from = {
      machine: machineTicks(),
      postgres: postgresTicks(),
      load: loadTicks(),
      controlPlane: processTicks(this.controlPlanePid),
    };
  }

  stop(): CpuShare {
    const from = this.from!;
    const [busy, total, irq] = machineTicks().map((value, i) => value - from.machine[i]!);
    const share = (ticks: number) => (100 * ticks) / total!;
    const postgres = share(postgresTicks() - from.postgres);
    const load = share(loadTicks() - from.load);
    const controlPlane = share(processTicks(this.controlPlanePid) - from.controlPlane);
    const machine = share(busy!);
    const interrupts = share(irq!);
    const other = Math.max(0, machine - postgres - load - controlPlane - interrupts);
    return { machine, postgres, load, controlPlane, interrupts, other };
  }
}

/** [busy, total, irq + softirq + steal] ticks of all cores. */
function machineTicks(): number[] {
  const [, ...values] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/);
  const ticks = values.map(Number);
  const total = ticks.slice(0, 8).reduce((sum, value) => sum + value, 0);
  return [total - ticks[3]! - ticks[4]!, total, ticks[5]! + ticks[6]! + ticks[7]!];
}

function processStat(pid: number | string): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const close = stat.lastIndexOf(')');
    return [stat.slice(stat.indexOf('(') + 1, close), ...stat.slice(close + 2).split(' ')];
  } catch {
    return undefined; // ended meanwhile
  }
}

/** utime + stime (fields 14 and 15 of /proc/<pid>/stat; here [0] is the name, [1] field 3). */
function processTicks(pid: number): number {
  const stat = processStat(pid);
  return stat ? Number(stat[12]) + Number(stat[13]) : 0;
}

/** This process's CPU and its ended children's (pgbench), in ticks. */
function loadTicks(): number {
  const stat = processStat('self')!;
  return stat.slice(12, 16).reduce((sum, value) => sum + Number(value), 0);
}

function postgresTicks(): number {
  const processes = readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .map((pid) => ({ pid, stat: processStat(pid) }))
    .filter((p) => p.stat?.[0] === 'postgres');
  const pids = new Set(processes.map((p) => p.pid));
  let ticks = 0;
  for (const { stat } of processes) {
    ticks += Number(stat![12]) + Number(stat![13]);
    // The postmaster (its parent is not postgres) holds its ended children's time.
    if (!pids.has(stat![2]!)) ticks += Number(stat![14]) + Number(stat![15]);
  }
  return ticks;
}

function printFigures(figures: Figure[], baseline: Figure) {
  const aim = (f: Figure) => {
    if (!f.aimed) return '';
    const missed = [
      f.perSecond < AIM.perSecond ? `< ${AIM.perSecond}/s` : '',
      f.perSecond / baseline.perSecond < AIM.ofPgbench ? `< ${AIM.ofPgbench}× pgbench` : '',
      f.p99 >= AIM.p99Ms ? `p99 ≥ ${AIM.p99Ms} ms` : '',
      f.errors ? 'errors' : '',
    ].filter(Boolean);
    return missed.length === 0 ? 'met' : `NOT MET (${missed.join(', ')})`;
  };
  const rows = figures.map((f) => [
    f.name,
    f.count.toLocaleString('en') + (f.errors ? ` (${f.errors} failed)` : ''),
    `${f.perSecond.toFixed(0)}/s`,
    (f.perSecond / baseline.perSecond).toFixed(2),
    ms(f.p50),
    ms(f.p99),
    ms(f.max),
    `${(f.p50 / baseline.p50).toFixed(2)}× / ${(f.p99 / baseline.p99).toFixed(2)}×`,
    `${f.cpu.machine.toFixed(0)}% = ${[f.cpu.postgres, f.cpu.load, f.cpu.controlPlane, f.cpu.interrupts, f.cpu.other].map((v) => v.toFixed(0)).join(' + ')}`,
    aim(f),
    f.note ?? '',
  ]);
  const head = [
    'figure',
    'count',
    'rate',
    'vs pgbench',
    'p50',
    'p99',
    'max',
    'vs pgbench p50/p99',
    'CPU % = pg + load + cp + irq + other',
    `aim ≥ ${AIM.perSecond}/s, ≥ ${AIM.ofPgbench}×, p99 < ${AIM.p99Ms} ms`,
    '',
  ];
  printColumns(head, rows, { first: 1, last: 7 });
  for (const f of figures) if (f.firstError) console.log(`first error in ${f.name}: ${f.firstError}`);
  console.log('');
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
