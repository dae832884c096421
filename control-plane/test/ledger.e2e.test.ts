import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import pg from 'pg';
import request from 'supertest';
import { VillageApiError, VillageClient, type TierPolicyRequest, type WorldEvent } from '../src/contract/index.js';
import { LedgerService, type TransferResult } from '../src/ledger/ledger.service.js';
import { verifyLedger } from '../src/ledger/ledger-verify.js';
import { EventBus } from '../src/events/event-bus.service.js';
import { DEFAULT_TIER_POLICY } from '../src/economy/default-tier-policy.js';
import {
  createTestEnvironment,
  eventually,
  startTestApp,
  type TestApp,
  type TestEnvironment,
} from './support/test-app.js';
import { TEST_REDIS_URL } from './support/test-database.js';

/** A small policy for tests: tier 0 below 1 aiDollar, tier 1 from 1, tier 2 from 5; 0.2 of hysteresis. */
const TEST_POLICY: TierPolicyRequest = {
  hysteresis: 200,
  tiers: [
    {
      ...DEFAULT_TIER_POLICY.tiers[0]!,
      minBalance: 0,
      entitlements: { ...DEFAULT_TIER_POLICY.tiers[0]!.entitlements, requestsPerMinute: 6 },
    },
    {
      ...DEFAULT_TIER_POLICY.tiers[1]!,
      minBalance: 1000,
      entitlements: { ...DEFAULT_TIER_POLICY.tiers[1]!.entitlements, requestsPerMinute: 10 },
    },
    {
      ...DEFAULT_TIER_POLICY.tiers[2]!,
      minBalance: 5000,
      entitlements: { ...DEFAULT_TIER_POLICY.tiers[2]!.entitlements, requestsPerMinute: 20 },
    },
  ],
};

/** The ledger's invariants under concurrency, holds, and tiers that follow balances and change the enforced rate. */
describe('ledger invariants, holds and tiers', () => {
  let environment: TestEnvironment;
  let village: TestApp;
  let ledger: LedgerService;
  let database: pg.Pool;
  const events: WorldEvent[] = [];
  let agents = 0;

  before(async () => {
    environment = await createTestEnvironment({ VILLAGE_TICK_MS: '60000', VILLAGE_HOLD_SWEEP_MS: '200' });
    village = await startTestApp(environment);
    ledger = village.app.get(LedgerService);
    village.app.get(EventBus).subscribe((batch) => events.push(...batch));
    database = new pg.Pool({ connectionString: environment.database.url, max: 4 });
  });

  after(async () => {
    await database?.end();
    await village?.close();
    await environment?.dispose();
  });

  async function agent() {
    const created = await village.admin.createAgent({ id: `worker${++agents}`, displayName: `Worker ${agents}` });
    return { ...created, client: new VillageClient({ baseUrl: village.url, token: created.token }) };
  }

  const fund = (agentId: string, amount: number, key = `fund:${agentId}:${amount}:${Math.random()}`) =>
    ledger.transfer({
      debit: 'treasury',
      credit: `agent:${agentId}`,
      amount,
      reason: 'grant',
      source: { type: 'system', id: 'test' },
      idempotencyKey: key,
    });

  test('many workers on a few shared accounts: every invariant holds afterwards', async () => {
    const accounts = await Promise.all([agent(), agent(), agent(), agent()]);
    for (const account of accounts) await fund(account.id, 50_000);
    const workers = 16;
    const perWorker = 60;
    const replays = new Map<string, Set<number>>();
    let refusedForFunds = 0;
    await Promise.all(
      Array.from({ length: workers }, async (_, worker) => {
        for (let i = 0; i < perWorker; i++) {
          // Every fifth transfer is sent by two workers with the same key (and content) at the same time.
          const shared = i % 5 === 0;
          const seed = shared ? Math.floor(worker / 2) : worker;
          const from = accounts[(seed + i) % accounts.length]!;
          const pair = accounts[(seed + i + 1 + (i % 3)) % accounts.length]!;
          const key = shared ? `shared:${seed}:${i}` : `w${worker}:${i}`;
          const amount = shared ? 1000 : 1 + ((worker * 7919 + i * 104729) % 30_000);
          const source = { type: 'system' as const, id: 'test' };
          const send = (): Promise<TransferResult> =>
            ledger.transfer({
              debit: `agent:${from.id}`,
              credit: `agent:${pair.id}`,
              amount,
              reason: 'transfer',
              source,
              idempotencyKey: key,
            });
          try {
            const result = await send();
            const ids = replays.get(key) ?? new Set<number>();
            ids.add(result.transfer.id);
            replays.set(key, ids);
          } catch (error) {
            // Not enough money is an honest answer under contention; anything else is a failure.
            if (error instanceof Error && /available, less than/.test(error.message)) refusedForFunds++;
            else throw error;
          }
        }
      }),
    );
    for (const [key, ids] of replays) assert.equal(ids.size, 1, `key ${key} produced ${ids.size} transfers`);

    const sum = await database.query('SELECT coalesce(sum(amount), 0)::bigint AS sum FROM ledger_entries');
    assert.equal(Number(sum.rows[0].sum), 0, 'all entries sum to zero');
    const drift = await database.query(
      `SELECT a.id FROM ledger_accounts a LEFT JOIN (SELECT account_id, sum(amount) AS s FROM ledger_entries GROUP BY 1) e
          ON e.account_id = a.id WHERE a.balance <> coalesce(e.s, 0)`,
    );
    assert.deepEqual(drift.rows, [], 'every stored balance equals its entries');
    const negative = await database.query(`SELECT id FROM ledger_accounts WHERE kind = 'agent' AND balance < 0`);
    assert.deepEqual(negative.rows, [], 'no agent below zero');
    const duplicates = await database.query(
      'SELECT idempotency_key FROM ledger_transfers GROUP BY 1 HAVING count(*) > 1',
    );
    assert.deepEqual(duplicates.rows, [], 'no key made two transfers');
    const total = await database.query(`SELECT sum(balance)::bigint AS total FROM ledger_accounts WHERE id = ANY($1)`, [
      accounts.map((a) => `agent:${a.id}`),
    ]);
    assert.equal(Number(total.rows[0].total), 4 * 50_000, 'transfers between agents neither make nor lose money');
    const report = await verifyLedger(database);
    assert.equal(report.firstDiscrepancy, null);
    assert.ok(report.transfers >= replays.size);
    assert.ok(refusedForFunds < workers * perWorker, 'most transfers went through');
  });

  test('holds: reserve, settle part, release, expire on their own; each once', async () => {
    const hana = await agent();
    await fund(hana.id, 10_000);
    const hold = async (amount: number, expiresInMs = 60_000) =>
      (
        await ledger.transfer({
          kind: 'pending',
          debit: `agent:${hana.id}`,
          credit: 'compute_revenue',
          amount,
          reason: 'compute_purchase',
          source: { type: 'system', id: 'gateway' },
          idempotencyKey: `hold:${Math.random()}`,
          expiresAt: new Date(Date.now() + expiresInMs),
        })
      ).transfer;
    const first = await hold(6000);
    let economy = await village.admin.balance(hana.id);
    assert.deepEqual([economy.balance, economy.held, economy.available], [10_000, 6000, 4000]);
    await assert.rejects(hold(4001), (error: Error) => /4000 available, less than 4001/.test(error.message));

    const settled = await ledger.settleHold({
      holdId: first.id,
      amount: 2500,
      idempotencyKey: `settle:${first.id}`,
      source: { type: 'system', id: 'gateway' },
    });
    assert.equal(settled.transfer.kind, 'post_pending');
    assert.equal(settled.transfer.amount, 2500);
    economy = await village.admin.balance(hana.id);
    assert.deepEqual([economy.balance, economy.held, economy.available], [7500, 0, 7500]);
    await assert.rejects(
      ledger.settleHold({
        holdId: first.id,
        amount: 1,
        idempotencyKey: `settle-again:${first.id}`,
        source: { type: 'system', id: 'gateway' },
      }),
      /already settled or released/,
    );
    // Settling more than was reserved is refused.
    const second = await hold(1000);
    await assert.rejects(
      ledger.settleHold({
        holdId: second.id,
        amount: 1001,
        idempotencyKey: `over:${second.id}`,
        source: { type: 'system', id: 'gateway' },
      }),
      /reserved 1000, less than the 1001 asked/,
    );
    await ledger.releaseHold({
      holdId: second.id,
      idempotencyKey: `release:${second.id}`,
      source: { type: 'system', id: 'gateway' },
    });
    assert.equal((await village.admin.balance(hana.id)).held, 0);

    // A hold left alone lapses: the sweeper releases it, and it can no longer be settled.
    const third = await hold(3000, 300);
    await eventually(
      async () => (await village.admin.balance(hana.id)).held === 0,
      'the lapsed hold to be released',
      5000,
    );
    await assert.rejects(
      ledger.settleHold({
        holdId: third.id,
        amount: 10,
        idempotencyKey: `late:${third.id}`,
        source: { type: 'system', id: 'gateway' },
      }),
      /already settled or released/,
    );
    const released = await database.query(`SELECT source_id, metadata FROM ledger_transfers WHERE pending_id = $1`, [
      third.id,
    ]);
    assert.equal(released.rows[0].source_id, 'hold-expiry');
    assert.equal((await verifyLedger(database)).firstDiscrepancy, null);
  });

  test('tiers follow the balance with hysteresis; pins and quarantine override; each change is an event and an audit record', async () => {
    await village.admin.setTierPolicy(TEST_POLICY);
    const ivy = await agent();
    const tierOf = async () => (await village.admin.agent(ivy.id)).economy.tier;
    assert.equal((await tierOf()).level, 0);
    await fund(ivy.id, 1000);
    assert.equal((await tierOf()).level, 1);
    assert.equal((await village.admin.agent(ivy.id)).economy.entitlements.requestsPerMinute, 10);
    const take = (amount: number) =>
      ledger.transfer({
        debit: `agent:${ivy.id}`,
        credit: 'burn',
        amount,
        reason: 'penalty',
        source: { type: 'system', id: 'test' },
        idempotencyKey: `take:${Math.random()}`,
      });
    await take(150); // 850: within the hysteresis, still tier 1
    assert.equal((await tierOf()).level, 1);
    await take(100); // 750: below 1000 - 200
    assert.equal((await tierOf()).level, 0);
    await eventually(
      () =>
        events
          .filter((e) => e.type === 'agent.tier_changed' && e.agentId === ivy.id)
          .map((e) => (e as { to: number }).to)
          .join() === '1,0',
      'tier change events 0 → 1 → 0',
    );

    const pinned = await village.admin.setAgentTier(ivy.id, { pinnedTier: 2, reason: 'trusted helper' });
    assert.deepEqual([pinned.tier.level, pinned.tier.pinned, pinned.tier.earned], [2, 2, 0]);
    const quarantined = await village.admin.setAgentTier(ivy.id, { quarantined: true, reason: 'runaway loop' });
    assert.deepEqual([quarantined.tier.level, quarantined.tier.quarantined], [0, true]);
    await fund(ivy.id, 10_000); // a quarantined agent stays at the lowest tier whatever it earns
    assert.equal((await tierOf()).level, 0);
    assert.equal((await village.admin.setAgentTier(ivy.id, { quarantined: false, reason: 'fixed' })).tier.level, 2);
    assert.equal((await village.admin.setAgentTier(ivy.id, { pinnedTier: null, reason: 'unpin' })).tier.level, 2); // earned
    const audit = await database.query(
      `SELECT action, reason FROM audit_log WHERE subject_type = 'agent' AND subject_id = $1 ORDER BY id`,
      [ivy.id],
    );
    assert.ok(audit.rows.filter((row) => row.action === 'tier.changed').length >= 4);
    assert.ok(audit.rows.some((row) => row.action === 'agent.tier_settings' && row.reason === 'runaway loop'));
    await assert.rejects(
      village.admin.setAgentTier(ivy.id, { pinnedTier: 9, reason: 'x' }),
      (error: VillageApiError) => error.status === 400,
    );
  });

  test('a new policy moves tiers at once, and the next transfers follow its thresholds, not the old ones', async () => {
    await village.admin.setTierPolicy(TEST_POLICY);
    const ole = await agent();
    const tierOf = async () => (await village.admin.agent(ole.id)).economy.tier.level;
    await fund(ole.id, 5000);
    assert.equal(await tierOf(), 2);
    // Tier 2 from 8 aiDollars: an unchanged balance of 5 moves down at once.
    const raised = structuredClone(TEST_POLICY);
    raised.tiers[2]!.minBalance = 8000;
    await village.admin.setTierPolicy(raised);
    assert.equal(await tierOf(), 1);
    await fund(ole.id, 3000); // 8000: tier 2 under the new policy (under the old one it already was)
    assert.equal(await tierOf(), 2);
    const take = (amount: number) =>
      ledger.transfer({
        debit: `agent:${ole.id}`,
        credit: 'burn',
        amount,
        reason: 'penalty',
        source: { type: 'system', id: 'test' },
        idempotencyKey: `take:${Math.random()}`,
      });
    await take(150); // 7850: within the hysteresis
    assert.equal(await tierOf(), 2);
    await take(100); // 7750: below 8000 - 200, though far above the old policy's 5000
    assert.equal(await tierOf(), 1);
    await village.admin.setTierPolicy(TEST_POLICY);
    assert.equal(await tierOf(), 2);
  });

  test('the agent API allows exactly the tier’s requests a minute across two replicas, and follows a tier change', async () => {
    await village.admin.setTierPolicy(TEST_POLICY);
    const second = await startTestApp(environment);
    const redis = new Redis(TEST_REDIS_URL);
    try {
      // Stay inside one minute window: the limit is counted per minute of Redis's clock.
      const [seconds] = await redis.time();
      const intoMinute = Number(seconds) % 60;
      if (intoMinute > 40) await new Promise((resolve) => setTimeout(resolve, (61 - intoMinute) * 1000));
      const jay = await agent();
      const servers = [village.app.getHttpServer(), second.app.getHttpServer()];
      const call = (i: number) =>
        request(servers[i % 2]!)
          .get(`/api/agents/${jay.id}/mail`)
          .set('authorization', `Bearer ${jay.token}`);
      const statuses: number[] = [];
      for (let i = 0; i < 9; i++) statuses.push((await call(i)).status);
      assert.deepEqual(statuses, [200, 200, 200, 200, 200, 200, 429, 429, 429]);
      const refused = await call(9);
      assert.equal(refused.status, 429);
      assert.ok(Number(refused.headers['retry-after']) >= 1);
      assert.match(refused.body.message, /over its tier's 6 requests a minute/);

      // A reward lifts it to tier 1 (10 a minute): four more this minute, on either replica.
      await fund(jay.id, 1000);
      const after: number[] = [];
      for (let i = 0; i < 5; i++) after.push((await call(i)).status);
      assert.deepEqual(after, [200, 200, 200, 200, 429]);
      // A tier of 20 a minute is served from leases of a few requests per replica: a burst spread
      // over both replicas still gets exactly its 20, no more and no fewer.
      const kit = await agent();
      await village.admin.setAgentTier(kit.id, { pinnedTier: 2, reason: 'a bigger budget for the test' });
      const burst = await Promise.all(
        Array.from({ length: 30 }, (_, i) =>
          request(servers[i % 2]!)
            .get(`/api/agents/${kit.id}/mail`)
            .set('authorization', `Bearer ${kit.token}`)
            .then((response) => response.status),
        ),
      );
      assert.equal(burst.filter((status) => status === 200).length, 20, `statuses: ${burst.join(' ')}`);
      assert.equal(burst.filter((status) => status === 429).length, 10);
      // People are not limited by agents' tiers.
      await request(servers[0]!).get('/api/economy/tiers').expect(200);
    } finally {
      redis.disconnect();
      await second.close();
    }
  });

  test('verify finds entries whose account row is gone (no foreign key refuses that)', async () => {
    const uma = await agent();
    await fund(uma.id, 700);
    const client = await database.connect();
    try {
      await client.query('BEGIN');
      await client.query('DELETE FROM ledger_accounts WHERE id = $1', [`agent:${uma.id}`]);
      const report = await verifyLedger(client);
      assert.equal(report.ok, false);
      assert.equal(report.firstDiscrepancy?.account, `agent:${uma.id}`);
      assert.match(report.firstDiscrepancy!.problem, /has entries but is not an account/);
    } finally {
      await client.query('ROLLBACK');
      client.release();
    }
    assert.equal((await verifyLedger(database)).ok, true);
  });
});
