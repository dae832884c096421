// `npm run bench -- tools`: what logging every tool call costs the agent. The agent runtime's own
// ToolRunner (agent-image/dist, built by `npm run bench`) runs the same calls back to back in three
// ways, in rotating blocks so that drift hits all alike: without a log; with the runtime's tool-call
// log sending to a stand-in that answers at once (what the agent's own process pays: redaction,
// cutting, queueing, batching, JSON); and with the log sending to a real control plane (its own
// database) on this machine, as in production on one node. Two calls:
//   - a file read (the cheapest tool: ~0.1 ms, where any overhead shows most) and
//   - a shell command (`true`, a process start: a few ms, what most calls cost at least).
// It prints each call's p50 and p99 in each way, the p50 ratios, the cost of `record()` alone, the log's batches, and checks that
// every call sent to the control plane is in its log exactly once.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { VillageClient, type ToolCallReport, type VillageClient as Client } from '../src/contract/index.js';
import { BENCH_ADMIN_TOKEN, startControlPlane } from './control-plane-process.js';
import { percentile } from './load.js';
import { ms, printColumns } from './table.js';

const CALLS = {
  file: Number(process.env.BENCH_TOOLS_FILE_CALLS ?? 4000),
  shell: Number(process.env.BENCH_TOOLS_SHELL_CALLS ?? 600),
};
const BLOCK = 100;
const AIM_RATIO = 1.05;

/** The parts of the agent runtime used here (loaded from agent-image/dist at run time). */
interface Runner {
  setEntitlements(entitlements: { tools: string[]; concurrentToolRuns: number }): void;
  run(call: { tool: string; input: unknown }): Promise<{ ok: boolean; error?: string }>;
  close(): Promise<void>;
}
interface RuntimeTools {
  createToolRunner(
    settings: { workspace: string; chromiumPath: string; egress: boolean },
    sink: { record(report: ToolCallReport): void },
  ): Runner;
}
interface RuntimeLog {
  ToolCallLog: new (
    client: Pick<Client, 'reportToolCalls'>,
    agentId: string,
    log: unknown,
  ) => {
    record(report: ToolCallReport): void;
    flush(ms?: number): Promise<void>;
    reporter: { stats: Record<string, number> };
  };
}
interface RuntimeStructuredLog {
  StructuredLog: new (options: { agent: string }) => unknown;
}

const importRuntime = <T>(path: string) =>
  import(new URL(`../../../agent-image/dist/src/${path}`, import.meta.url).href) as Promise<T>;

async function main() {
  console.log(
    `AI Village tools benchmark: ${CALLS.file} file reads and ${CALLS.shell} shell commands, each without a log, with the log to a stand-in, and with the log to a control plane`,
  );
  const [{ createToolRunner }, { ToolCallLog }, { StructuredLog }] = await Promise.all([
    importRuntime<RuntimeTools>('tools/index.js'),
    importRuntime<RuntimeLog>('tools/tool-call-log.js'),
    importRuntime<RuntimeStructuredLog>('structured-log.js'),
  ]);
  const server = await startControlPlane({ VILLAGE_CAST: '0' });
  const workspace = await mkdtemp(join(tmpdir(), 'village-tools-bench-'));
  try {
    const admin = new VillageClient({ baseUrl: server.base.href, token: BENCH_ADMIN_TOKEN });
    const agent = await admin.createAgent({ id: 'bench-tools', displayName: 'Bench' });
    const client = new VillageClient({ baseUrl: server.base.href, token: agent.token });
    await writeFile(join(workspace, 'notes.md'), 'A short note.\n'.repeat(20));
    const settings = { workspace, chromiumPath: '/usr/bin/chromium', egress: false };
    const entitlements = { tools: ['file', 'shell'], concurrentToolRuns: 1 };
    const log = new ToolCallLog(client, agent.id, new StructuredLog({ agent: agent.id }));
    const standIn = new ToolCallLog(
      {
        reportToolCalls: async (_id: string, calls: ToolCallReport[]) => ({
          received: calls.length,
          stored: calls.length,
        }),
      },
      agent.id,
      new StructuredLog({ agent: agent.id }),
    );
    const ways = {
      none: createToolRunner(settings, { record: () => undefined }),
      queued: createToolRunner(settings, standIn),
      sent: createToolRunner(settings, log),
    };
    for (const runner of Object.values(ways)) runner.setEntitlements(entitlements);

    const calls = {
      file: { tool: 'file', input: { op: 'read', path: 'notes.md' } },
      shell: { tool: 'shell', input: { command: 'true' } },
    };
    const order = ['none', 'queued', 'sent'] as const;
    const rows: string[][] = [];
    let sentCalls = 0;
    for (const name of ['file', 'shell'] as const) {
      const times = { none: [] as number[], queued: [] as number[], sent: [] as number[] };
      // Warm-up: every way, so that none pays for first use.
      for (const way of order) for (let i = 0; i < 50; i++) await ways[way].run(calls[name]);
      sentCalls += 50;
      const blocks = Math.ceil(CALLS[name] / BLOCK);
      for (let block = 0; block < blocks; block++) {
        for (let turn = 0; turn < order.length; turn++) {
          const way = order[(block + turn) % order.length]!;
          for (let i = 0; i < BLOCK; i++) {
            const started = performance.now();
            const result = await ways[way].run(calls[name]);
            times[way].push(performance.now() - started);
            if (!result.ok) throw new Error(`the ${name} call failed: ${result.error}`);
          }
          if (way === 'sent') sentCalls += BLOCK;
        }
      }
      // Medians: this machine's other work (tests, builds) lands on means and tails at random.
      const base = percentile(times.none, 50);
      for (const way of order) {
        const p50 = percentile(times[way], 50);
        const ratio = p50 / base;
        rows.push([
          `${name === 'file' ? 'file read (small)' : 'shell `true`'}, ${way === 'none' ? 'no log' : way === 'queued' ? 'log, stand-in' : 'log, control plane'}`,
          ms(p50),
          ms(percentile(times[way], 99)),
          way === 'none' ? '' : `${p50 >= base ? '+' : ''}${((p50 - base) * 1000).toFixed(0)} µs`,
          ratio.toFixed(3),
          way === 'none' ? '' : ratio <= AIM_RATIO ? 'yes' : 'NO',
        ]);
      }
    }
    // The log's own work per call, on its own: redaction, cutting, queueing (sending is off the call's path).
    const report = (i: number): ToolCallReport => ({
      callId: `micro-${i}`,
      tool: 'shell',
      action: 'run',
      arguments: { command: 'true' },
      cwd: '.',
      ok: true,
      exitCode: 0,
      output: 'x'.repeat(200),
      error: null,
      durationMs: 3,
      startedAt: new Date().toISOString(),
      finishedAt: new Date().toISOString(),
    });
    const micro = new ToolCallLog(
      {
        reportToolCalls: async (_id: string, calls: ToolCallReport[]) => ({
          received: calls.length,
          stored: calls.length,
        }),
      },
      agent.id,
      new StructuredLog({ agent: agent.id }),
    );
    const reports = Array.from({ length: 5_000 }, (_, i) => report(i));
    const microStarted = performance.now();
    for (const entry of reports) micro.record(entry);
    const recordUs = ((performance.now() - microStarted) * 1000) / reports.length;
    await micro.flush(30_000);

    const flushStarted = performance.now();
    await log.flush(30_000);
    const flushMs = performance.now() - flushStarted;
    printColumns(['call', 'p50', 'p99', 'added at p50', 'p50 ratio', `≤ ${AIM_RATIO}`], rows, { first: 1, last: 4 });
    console.log('');
    console.log(
      `the log's record() alone: ${recordUs.toFixed(1)} µs a call (5,000 reports of 200 characters of output)`,
    );
    const database = new pg.Client({ connectionString: server.databaseUrl });
    await database.connect();
    const { rows: stored } = await database.query<{ calls: string; ids: string }>(
      `SELECT count(*) AS calls, count(DISTINCT call_id) AS ids FROM tool_calls WHERE agent_id = $1`,
      [agent.id],
    );
    await database.end();
    const stats = log.reporter.stats as { sent: number; batches: number; dropped: number; failedAttempts: number };
    console.log('');
    console.log(
      `log: ${stats.sent} reports in ${stats.batches} batches (${(stats.sent / Math.max(1, stats.batches)).toFixed(1)} a batch), ` +
        `${stats.dropped} dropped, ${stats.failedAttempts} failed attempts; the last flush took ${ms(flushMs)}`,
    );
    console.log(
      `control plane: ${stored[0]!.calls} calls stored (${stored[0]!.ids} distinct ids) of ${sentCalls} sent`,
    );
    await Promise.all(Object.values(ways).map((runner) => runner.close()));
    if (Number(stored[0]!.calls) !== sentCalls || Number(stored[0]!.ids) !== sentCalls) {
      throw new Error(`the log holds ${stored[0]!.calls} calls, not the ${sentCalls} that ran`);
    }
  } finally {
    await server.stop();
    await rm(workspace, { recursive: true, force: true });
  }
}

await main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
