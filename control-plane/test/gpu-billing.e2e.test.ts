// GPU share billed on the ledger: node samples in (keyed, so a replayed delivery changes nothing),
// each agent's GPU-seconds and GPU-memory-seconds per billing window priced at its tier's GPU price,
// taken once (also by two replicas billing at once, and for samples that come late), shortfalls
// recorded, processes of no known agent kept and reported but never billed, bad input refused.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import request from 'supertest';
import {
  DEFAULT_GPU_PRICE,
  VillageApiError,
  VillageClient,
  type GpuSample,
  type TierPolicyRequest,
} from '../src/contract/index.js';
import { DEFAULT_TIER_POLICY } from '../src/economy/default-tier-policy.js';
import { GpuBillingService } from '../src/gpu/gpu-billing.service.js';
import {
  ADMIN_TOKEN,
  createTestEnvironment,
  startTestApp,
  type TestApp,
  type TestEnvironment,
} from './support/test-app.js';
import { TestViewer } from './support/viewer.js';

const WINDOW_MS = 60_000;
/** Tier 0 pays 10 mills a GPU-second, the others 20; a GiB-second of memory is 1 mill everywhere. */
const COMMONS_PRICE = { gpuHour: 36_000, memoryGibHour: 3_600 };
const TIER_PRICE = { gpuHour: 72_000, memoryGibHour: 3_600 };

const GPU_A = 'GPU-5d5ba0d6-d33d-2b2c-524d-9e3d8d2b8a77';
const GPU_B = 'GPU-7fdaf0a5-179b-f636-d15d-daf243e3ff16';
const MIG_B0 = 'MIG-feb88891-0321-5fef-9c87-d4af3b54259e';

/** A container id for a name (64 hex digits). */
const container = (name: string) => Buffer.from(name.padEnd(32, '.')).toString('hex').slice(0, 64);

/** A window that closed a few minutes ago, and the moment `offsetS` seconds into it. */
function pastWindow(minutesAgo: number) {
  const start = Math.floor((Date.now() - minutesAgo * 60_000) / WINDOW_MS) * WINDOW_MS;
  return { start, at: (offsetS: number) => new Date(start + offsetS * 1000).toISOString() };
}

interface Proc {
  device: string;
  pid: number;
  mib: number | null;
  agent: string | null;
  /** A container (default: the agent's own). */
  containerId?: string | null;
  lookupFailed?: boolean;
}

/** One sample of the test node: a whole GPU half busy and one 1g slice of a MIG GPU, with processes on them. */
function sample(sampledAt: string, processes: Proc[], periodMs = 10_000): GpuSample {
  return {
    sampledAt,
    periodMs,
    devices: [
      {
        uuid: GPU_A,
        gpuUuid: GPU_A,
        index: 0,
        name: 'NVIDIA H100 80GB HBM3',
        migProfile: null,
        fraction: 1,
        memoryTotalMib: 81559,
        memoryUsedMib: 40000,
        utilizationPercent: 50,
      },
      {
        uuid: MIG_B0,
        gpuUuid: GPU_B,
        index: 1,
        name: 'NVIDIA H100 80GB HBM3',
        migProfile: '1g.10gb',
        fraction: 1 / 7,
        memoryTotalMib: null,
        memoryUsedMib: null,
        utilizationPercent: null,
      },
    ],
    processes: processes.map((p) => ({
      deviceUuid: p.device,
      pid: p.pid,
      usedMemoryMib: p.mib,
      containerId: p.containerId !== undefined ? p.containerId : p.agent ? container(p.agent) : null,
      agentId: p.agent,
      lookupFailed: p.lookupFailed ?? false,
    })),
  };
}

describe('GPU share billing', () => {
  let environment: TestEnvironment;
  let village: TestApp;
  let second: TestApp | undefined;
  let database: pg.Pool;
  let node: VillageClient;
  let nodeToken: string;
  let billing: GpuBillingService;

  before(async () => {
    environment = await createTestEnvironment({
      VILLAGE_TICK_MS: '60000',
      VILLAGE_GPU_BILLING_WINDOW_MS: String(WINDOW_MS),
      VILLAGE_GPU_BILLING_GRACE_MS: '0',
      // The tests bill when they choose (billDue); the timer would race them.
      VILLAGE_GPU_BILLING_SWEEP_MS: '3600000',
    });
    village = await startTestApp(environment);
    database = new pg.Pool({ connectionString: environment.database.url, max: 2 });
    billing = village.app.get(GpuBillingService);
    const policy: TierPolicyRequest = {
      ...DEFAULT_TIER_POLICY,
      tiers: DEFAULT_TIER_POLICY.tiers.map((tier) => ({
        ...tier,
        entitlements: { ...tier.entitlements, gpuPrice: tier.level === 0 ? COMMONS_PRICE : TIER_PRICE },
      })),
    };
    await village.admin.setTierPolicy(policy);
    ({ token: nodeToken } = await village.admin.registerNode({ name: 'sparky1', labels: { gpu: 'h100' } }));
    node = new VillageClient({ baseUrl: village.url, token: nodeToken });
  });

  after(async () => {
    await database?.end();
    await second?.close();
    await village?.close();
    await environment?.dispose();
  });

  async function agentWith(id: string, mills: number) {
    await village.admin.createAgent({ id, displayName: id });
    if (mills > 0) {
      await village.admin.createTransfer({
        debitAccount: 'treasury',
        creditAccount: `agent:${id}`,
        amount: mills,
        reason: 'grant',
      });
    }
  }

  async function gpuTransfers(agentId: string) {
    const { rows } = await database.query<{ amount: string; idempotency_key: string; metadata: { cost: number } }>(
      `SELECT amount, idempotency_key, metadata FROM ledger_transfers
        WHERE reason = 'gpu_usage' AND debit_account = $1 ORDER BY id`,
      [`agent:${agentId}`],
    );
    return rows.map((row) => ({ amount: Number(row.amount), key: row.idempotency_key, cost: row.metadata.cost }));
  }

  test('samples become one charge per agent and window at the tier price, once, however often they are delivered', async () => {
    await agentWith('ada', 100_000); // artisan: 20 mills a GPU-second
    await agentWith('bo', 5); // commons, with 5 mills
    await agentWith('cy', 0); // commons, with nothing
    const moderator = new TestViewer(village.url, ADMIN_TOKEN);
    const anyone = new TestViewer(village.url);
    await Promise.all([moderator.ready(), anyone.ready()]);

    const window = pastWindow(5);
    const samples = [0, 10, 20, 30, 40, 50].map((s) =>
      sample(window.at(s), [
        { device: GPU_A, pid: 4242, mib: 2048, agent: 'ada' },
        { device: GPU_A, pid: 5151, mib: 1024, agent: 'bo' },
        // The site's own LLM server, on the host: nobody's.
        { device: GPU_A, pid: 1777, mib: 30000, agent: null },
        { device: MIG_B0, pid: 4343, mib: null, agent: 'ada' },
        { device: MIG_B0, pid: 6161, mib: 512, agent: 'cy' },
      ]),
    );
    const first = await node.reportGpuSamples(samples);
    assert.deepEqual(first, { recorded: 30, duplicates: 0, unattributed: 6, expired: 0 });
    // The node's GPU inventory follows its samples (the fleet asks for GPUs only on nodes that have them).
    const inventory = (await village.admin.node('sparky1')).capacity.gpus as { uuid: string }[];
    assert.deepEqual(inventory.map((gpu) => gpu.uuid).sort(), [GPU_A, GPU_B].sort());
    // The same delivery again (a retry after a lost answer): nothing new.
    assert.deepEqual(await node.reportGpuSamples(samples), {
      recorded: 0,
      duplicates: 30,
      unattributed: 0,
      expired: 0,
    });
    await moderator.waitFor(
      'gpu.samples_unattributed',
      (e) => e.node === 'sparky1' && e.byAttribution.no_container === 6,
    );

    const bills = await billing.billDue();
    assert.equal(bills.length, 3);
    // Per sample: GPU A is half busy for 10 s among 3 processes (5/3 s each); the 1g slice (1/7 of GPU B,
    // busy as far as anyone can tell) is shared by 2 (5/7 s each). Memory: MiB / 1024 × 10 s.
    const ada = bills.find((bill) => bill.agentId === 'ada')!;
    assert.equal(ada.samples, 12);
    assert.ok(Math.abs(ada.gpuSeconds - 6 * (5 / 3 + 5 / 7)) < 1e-9, `ada used ${ada.gpuSeconds} GPU-seconds`);
    assert.ok(Math.abs(ada.gpuMemoryGibSeconds - 6 * 20) < 1e-9);
    assert.equal(ada.tier, 2);
    assert.deepEqual(ada.price, TIER_PRICE);
    assert.equal(ada.cost, Math.round(6 * (5 / 3 + 5 / 7) * 20 + 120)); // 406 mills
    assert.equal(ada.cost, 406);
    // The rest of the exact price is carried to ada's next bill.
    assert.ok(Math.abs(ada.costExact - (6 * (5 / 3 + 5 / 7) * 20 + 120)) < 1e-9);
    assert.ok(Math.abs(ada.carry - (ada.costExact - 406)) < 1e-9);
    assert.deepEqual([ada.charged, ada.shortfall, ada.status], [406, 0, 'charged']);
    assert.equal(ada.windowStart, new Date(window.start).toISOString());

    const bo = bills.find((bill) => bill.agentId === 'bo')!;
    assert.equal(bo.cost, Math.round(6 * (5 / 3) * 10 + 60)); // 160 mills, at the commons' price
    assert.deepEqual([bo.charged, bo.shortfall, bo.status], [5, 155, 'partial']);
    const cy = bills.find((bill) => bill.agentId === 'cy')!;
    assert.equal(cy.cost, Math.round(6 * (5 / 7) * 10 + 30)); // 73 mills
    assert.deepEqual([cy.charged, cy.shortfall, cy.status, cy.transferId], [0, 73, 'unpaid', null]);

    const key = `gpu-usage:ada:${new Date(window.start).toISOString()}:0`;
    assert.deepEqual(await gpuTransfers('ada'), [{ amount: 406, key, cost: 406 }]);
    assert.deepEqual(
      (await gpuTransfers('bo')).map((t) => t.amount),
      [5],
    );
    assert.deepEqual(await gpuTransfers('cy'), []);
    const economy = await village.admin.balance('bo');
    assert.equal(economy.balance, 0, 'the ledger never takes an agent below zero');

    // Billing again, and delivering again, changes nothing.
    assert.deepEqual(await billing.billDue(), []);
    assert.equal((await node.reportGpuSamples(samples)).recorded, 0);
    assert.deepEqual(await billing.billDue(), []);
    assert.equal((await gpuTransfers('ada')).length, 1);

    // A sample that comes after its window was billed is billed apart, as part 1.
    await node.reportGpuSamples([sample(window.at(55), [{ device: GPU_A, pid: 4242, mib: 2048, agent: 'ada' }])]);
    const [late] = await billing.billDue();
    assert.equal(late!.agentId, 'ada');
    assert.equal(late!.part, 1);
    assert.equal(late!.samples, 1);
    // Alone on GPU A now: 5 GPU-seconds and 20 GiB-seconds, 120 mills, less the 0.29 carried: 120.
    assert.equal(late!.cost, Math.round(5 * 20 + 20 + ada.carry));
    assert.ok(Math.abs(late!.carry - (120 + ada.carry - late!.cost)) < 1e-9);
    assert.deepEqual(
      (await gpuTransfers('ada')).map((t) => t.key),
      [key, `gpu-usage:ada:${new Date(window.start).toISOString()}:1`],
    );

    // Every sample of an agent is in exactly one bill; nobody's samples in none.
    const { rows } = await database.query<{ attribution: string; billed: boolean; n: number }>(
      `SELECT attribution, usage_id IS NOT NULL AS billed, count(*)::int AS n FROM gpu_samples GROUP BY 1, 2 ORDER BY 1, 2`,
    );
    assert.deepEqual(rows, [
      { attribution: 'agent', billed: true, n: 25 },
      { attribution: 'no_container', billed: false, n: 6 },
    ]);
    assert.equal((await village.admin.verifyLedger()).ok, true);

    // Moderators see the bills on the stream; the public map does not.
    const billed = await moderator.waitFor('gpu.usage_billed', (e) => e.agentId === 'bo');
    assert.deepEqual([billed.cost, billed.charged, billed.shortfall], [160, 5, 155]);
    await moderator.waitFor('gpu.usage_billed', (e) => e.usageId === late!.id);
    assert.equal(anyone.events.filter((e) => e.type.startsWith('gpu.')).length, 0);
    moderator.close();
    anyone.close();

    // The shortfalls are in the audit log.
    const audit = await village.admin.audit({ filter: { action: 'gpu_usage.shortfall' } });
    assert.deepEqual(audit.items.map((entry) => entry.subject.id).sort(), ['bo', 'cy']);

    // An agent's summary (public), and the lists (moderators, ra-data-simple-rest).
    const summary = await new VillageClient({ baseUrl: village.url }).gpuSummary('ada');
    assert.equal(summary.bills, 2);
    assert.equal(summary.cost, 406 + 120);
    assert.equal(summary.charged, 526);
    assert.equal(summary.unbilled.samples, 0);
    const page = await request(village.url)
      .get('/api/gpu/usage')
      .query({
        sort: JSON.stringify(['cost', 'ASC']),
        range: JSON.stringify([0, 1]),
        filter: '{"status":["partial","unpaid"]}',
      })
      .set('Authorization', `Bearer ${ADMIN_TOKEN}`)
      .expect(200);
    assert.equal(page.headers['content-range'], 'gpu-usage 0-1/2');
    assert.deepEqual(
      (page.body as { agentId: string }[]).map((bill) => bill.agentId),
      ['cy', 'bo'],
    );
    const nobody = await village.admin.gpuSamples({ filter: { attribution: 'no_container' } });
    assert.equal(nobody.total, 6);
    assert.ok(nobody.items.every((s) => s.pid === 1777 && s.agentId === null && s.usageId === null));
    const adaSamples = await village.admin.gpuSamples({ filter: { agentId: 'ada', billed: true }, range: [0, 99] });
    assert.equal(adaSamples.total, 13);
    assert.equal(new Set(adaSamples.items.map((s) => s.usageId)).size, 2);
    await assert.rejects(new VillageClient({ baseUrl: village.url }).gpuUsage(), (error: VillageApiError) => {
      return error.status === 401;
    });
  });

  test('processes of an unknown agent, of a container with no agent, or whose container could not be asked about are kept, not billed', async () => {
    await agentWith('dee', 50_000);
    const window = pastWindow(7);
    const result = await node.reportGpuSamples([
      sample(window.at(0), [
        { device: GPU_A, pid: 100, mib: 1000, agent: 'ghost' },
        { device: GPU_A, pid: 101, mib: 1000, agent: null, containerId: container('vllm') },
        { device: GPU_A, pid: 102, mib: 1000, agent: 'dee', lookupFailed: true },
        { device: GPU_A, pid: 103, mib: 1000, agent: 'dee' },
      ]),
    ]);
    assert.deepEqual(result, { recorded: 4, duplicates: 0, unattributed: 3, expired: 0 });
    const stored = await village.admin.gpuSamples({ filter: { pid: [100, 101, 102, 103] } });
    const byPid = new Map(stored.items.map((s) => [s.pid, s]));
    assert.deepEqual(
      [100, 101, 102, 103].map((pid) => [byPid.get(pid)!.attribution, byPid.get(pid)!.agentId]),
      [
        ['unknown_agent', null],
        ['not_an_agent', null],
        ['lookup_failed', null],
        ['agent', 'dee'],
      ],
    );
    assert.equal(byPid.get(100)!.reportedAgentId, 'ghost');
    const bills = await billing.billDue();
    assert.deepEqual(
      bills.map((bill) => [bill.agentId, bill.samples]),
      [['dee', 1]],
    );
  });

  test('two replicas billing at once bill each window once', async () => {
    second = await startTestApp(environment);
    const otherBilling = second.app.get(GpuBillingService);
    const agents = ['eve', 'fay', 'gus', 'hal'];
    for (const id of agents) await agentWith(id, 10_000);
    const windows = [pastWindow(12), pastWindow(11), pastWindow(10)];
    const samples = windows.flatMap((window) =>
      [0, 15, 30, 45].map((s) =>
        sample(
          window.at(s),
          agents.map((agent, i) => ({ device: GPU_A, pid: 7000 + i, mib: 4096, agent })),
          15_000,
        ),
      ),
    );
    // Delivered twice at once, through both replicas.
    const otherNode = new VillageClient({ baseUrl: second.url, token: nodeToken });
    const delivered = await Promise.all([node.reportGpuSamples(samples), otherNode.reportGpuSamples(samples)]);
    assert.equal(delivered[0].recorded + delivered[1].recorded, 48);
    const runs = await Promise.all([
      billing.billDue(),
      otherBilling.billDue(),
      billing.billDue(),
      otherBilling.billDue(),
    ]);
    assert.equal(runs.flat().length, agents.length * windows.length);
    for (const agent of agents) {
      const transfers = await gpuTransfers(agent);
      assert.equal(transfers.length, windows.length, `${agent} is billed once per window`);
      assert.equal(new Set(transfers.map((t) => t.key)).size, windows.length);
    }
    assert.equal((await village.admin.verifyLedger()).ok, true);
  });

  test('bad deliveries are refused whole and change nothing; old samples are counted as expired', async () => {
    const count = async () =>
      Number((await database.query<{ n: string }>('SELECT count(*) AS n FROM gpu_samples')).rows[0]!.n);
    const before = await count();
    const window = pastWindow(3);
    const good = sample(window.at(0), [{ device: GPU_A, pid: 9000, mib: 1, agent: 'ada' }]);
    const refused = async (body: unknown, token: string | undefined, status: number, message: RegExp) => {
      const call = request(village.url)
        .post('/api/gpu/samples')
        .send(body as object);
      if (token) void call.set('Authorization', `Bearer ${token}`);
      const response = await call;
      assert.equal(response.status, status, JSON.stringify(response.body));
      assert.match(String((response.body as { message?: string }).message), message);
    };
    await refused({ samples: [good] }, undefined, 401, /token/i);
    await refused({ samples: [good] }, ADMIN_TOKEN, 400, /node token/);
    await refused(
      { samples: [{ ...good, processes: [{ ...good.processes[0]!, deviceUuid: 'GPU-0000-not-here' }] }] },
      nodeToken,
      400,
      /not among the sample's devices/,
    );
    await refused(
      { samples: [{ ...good, sampledAt: new Date(Date.now() + 3_600_000).toISOString() }] },
      nodeToken,
      400,
      /ahead of the control plane's clock/,
    );
    await refused({ samples: [{ ...good, periodMs: 10 }] }, nodeToken, 400, /periodMs/);
    await refused(
      { samples: [good, { ...good, processes: [{ ...good.processes[0]!, pid: -1 }] }] },
      nodeToken,
      400,
      /pid/,
    );
    await refused({ samples: [] }, nodeToken, 400, /samples/);
    assert.equal(await count(), before, 'a refused delivery stores nothing, not even its good samples');

    const old = sample(new Date(Date.now() - 2 * 86_400_000).toISOString(), [
      { device: GPU_A, pid: 9001, mib: 1, agent: 'ada' },
    ]);
    assert.deepEqual(await node.reportGpuSamples([old]), { recorded: 0, duplicates: 0, unattributed: 0, expired: 1 });
    assert.equal(await count(), before);
  });

  test('a tier policy stored before GPU prices existed gets the default price', async () => {
    const stored = structuredClone(DEFAULT_TIER_POLICY) as { tiers: { entitlements: Record<string, unknown> }[] };
    for (const tier of stored.tiers) delete tier.entitlements.gpuPrice;
    await database.query(
      `INSERT INTO tier_policies (policy, thresholds, hysteresis, created_by) VALUES ($1, $2, $3, 'test')`,
      [
        JSON.stringify(stored),
        DEFAULT_TIER_POLICY.tiers.map((tier) => tier.minBalance),
        DEFAULT_TIER_POLICY.hysteresis,
      ],
    );
    await new Promise((resolve) => setTimeout(resolve, 5_100)); // each replica re-reads the policy within 5 s
    const policy = await village.admin.tierPolicy();
    assert.ok(policy.tiers.every((tier) => tier.entitlements.gpuPrice.gpuHour === DEFAULT_GPU_PRICE.gpuHour));
    assert.deepEqual((await village.admin.balance('ada')).entitlements.gpuPrice, DEFAULT_GPU_PRICE);
  });
});
