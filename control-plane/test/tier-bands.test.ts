import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { applyMigrations } from '../src/database/migrator.js';
import { createTestDatabase, type TestDatabase } from './support/test-database.js';

interface Policy {
  thresholds: number[];
  hysteresis: number;
}

/** The tier rule of `tier_for_balance` and `agent_tier_refresh`, written out again as the reference. */
function earnedTier(balance: number, earned: number, { thresholds, hysteresis }: Policy): number {
  let up = 0;
  let kept = 0;
  thresholds.forEach((threshold, tier) => {
    if (balance >= threshold) up = tier;
    if (tier <= earned && balance >= threshold - hysteresis) kept = tier;
  });
  return Math.min(Math.max(up, kept), thresholds.length - 1);
}

/** A seeded generator, so that a failure can be replayed. */
function random(seed: number) {
  // mulberry32
  return (below: number) => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4_294_967_296) * below);
  };
}

/**
 * A transfer refreshes an agent's tier only when its balance leaves the band stored on its ledger row
 * (migration 20261202190000). These check that tiers come out exactly as when every transfer refreshed.
 */
describe('tier bands: a transfer skips the tier refresh only where it would change nothing', () => {
  let database: TestDatabase;
  let pool: pg.Pool;

  before(async () => {
    database = await createTestDatabase();
    pool = new pg.Pool({ connectionString: database.url, max: 2 });
    await applyMigrations(pool);
  });
  after(async () => {
    await pool?.end();
    await database?.drop();
  });

  test('the band is exactly the balances at which the earned tier stays, for many policies', async () => {
    const next = random(4);
    let cases = 0;
    for (let round = 0; round < 300; round++) {
      const count = 1 + next(5);
      // Mostly ascending thresholds from 0, as the contract asks; some unordered, repeated or not from 0.
      const thresholds =
        round % 5 === 4
          ? Array.from({ length: count }, () => next(5) * 1000)
          : Array.from({ length: count }, (_, i) => i * 1000 + (i ? next(900) : 0));
      const hysteresis = [0, 1, 200, 999, 1500, 5000][next(6)]!;
      const policy = { thresholds, hysteresis };
      const balances = new Set<number>([-1, 0, 1, 1_000_000]);
      for (const threshold of thresholds) {
        for (const edge of [threshold, threshold - hysteresis]) for (const d of [-1, 0, 1]) balances.add(edge + d);
      }
      for (let i = 0; i < 10; i++) balances.add(next(6000) - 500);
      const { rows } = await pool.query<{ earned: number; balance: string; in_band: boolean; tier: number }>(
        `SELECT earned, balance, balance <@ tier_band(earned, $1, $2) AS in_band,
                least(tier_for_balance(balance, earned, $1, $2), cardinality($1::bigint[]) - 1) AS tier
           FROM generate_series(0, $3) earned, unnest($4::bigint[]) balance`,
        [thresholds, hysteresis, count - 1, [...balances]],
      );
      for (const row of rows) {
        const balance = Number(row.balance);
        assert.equal(row.tier, earnedTier(balance, row.earned, policy), 'the SQL rule and the reference agree');
        assert.equal(
          row.in_band,
          row.tier === row.earned,
          `policy ${JSON.stringify(policy)}, earned ${row.earned}, balance ${balance}`,
        );
        cases++;
      }
    }
    assert.ok(cases > 20_000, `${cases} cases`);
  });

  test('random transfers, pins, quarantines and policy changes give the tiers of a refresh on every transfer', async () => {
    const next = random(7);
    const agents = ['ann', 'bob', 'cyd'];
    await pool.query(
      `INSERT INTO agents (id, display_name, persona, x, y, token_hash)
       SELECT id, id, '', 0, 0, md5(id) FROM unnest($1::text[]) id`,
      [agents],
    );
    let policy: Policy = { thresholds: [0, 1000, 5000], hysteresis: 200 };
    const storePolicy = () =>
      pool.query(
        `INSERT INTO tier_policies (policy, thresholds, hysteresis, created_by) VALUES ('{}', $1, $2, 'test')`,
        [policy.thresholds, policy.hysteresis],
      );
    await storePolicy();
    // The reference: every agent's earned tier, pin and quarantine, recomputed after every balance change.
    const model = new Map(
      agents.map((id) => [id, { earned: 0, tier: 0, pinned: null as number | null, quarantined: false }]),
    );
    const balances = new Map(agents.map((id) => [id, 0]));
    const tierOf = (state: { earned: number; pinned: number | null; quarantined: boolean }) =>
      state.quarantined ? 0 : Math.min(state.pinned ?? state.earned, policy.thresholds.length - 1);
    const recompute = (id: string) => {
      const state = model.get(id)!;
      const from = state.tier;
      state.earned = earnedTier(balances.get(id)!, state.earned, policy);
      state.tier = tierOf(state);
      return from === state.tier ? [] : [{ agentId: id, from, to: state.tier }];
    };
    const refreshed = async (id: string, cause: string) => {
      const { rows } = await pool.query(
        `SELECT agent_tier_refresh($1, balance, $2) AS change FROM ledger_accounts WHERE id = 'agent:' || $1`,
        [id, cause],
      );
      return rows[0].change ? [rows[0].change] : [];
    };
    let tierChanges = 0;

    for (let step = 0; step < 1500; step++) {
      const agent = agents[next(agents.length)]!;
      const action = next(100);
      let expected: { agentId: string; from: number; to: number }[];
      let actual: { agentId: string; from: number; to: number }[];
      if (action < 85) {
        // Money in or out, often across a threshold or into the hysteresis below it.
        const other = next(4) === 0 ? agents.find((id) => id !== agent)! : 'treasury';
        // Drawn back towards the thresholds, so that balances keep crossing them.
        const outgoing = next(10) < (balances.get(agent)! > policy.thresholds.at(-1)! + 1000 ? 8 : 4);
        const [debit, credit] = outgoing ? [agent, other] : [other, agent];
        const debitBalance = debit === 'treasury' ? Infinity : balances.get(debit)!;
        const amount = Math.min(1 + next(next(3) === 0 ? 6000 : 400), debitBalance);
        if (amount <= 0) continue;
        const account = (id: string) => (id === 'treasury' ? id : `agent:${id}`);
        const { rows } = await pool.query(
          `SELECT tier_changes FROM ledger_transfer('posted', $1, $2, $3, 'transfer', NULL, 'system', 'test', NULL,
             NULL, $4, 'hash', NULL, NULL, NULL, false)`,
          [account(debit), account(credit), amount, randomBytes(8).toString('hex')],
        );
        for (const id of [debit, credit])
          if (id !== 'treasury') balances.set(id, balances.get(id)! + (id === debit ? -amount : amount));
        expected = [debit, credit].filter((id) => id !== 'treasury').flatMap(recompute);
        actual = rows[0].tier_changes;
      } else if (action < 92) {
        // As TiersService.setAgentTier: a pin (or none) or a quarantine, then a refresh.
        const state = model.get(agent)!;
        // Mostly lifted again soon, so that balances go on moving tiers.
        if (next(2) === 0) state.pinned = next(3) === 0 ? next(policy.thresholds.length) : null;
        else state.quarantined = next(3) === 0;
        await pool.query(
          `UPDATE agent_tiers SET pinned_tier = $2, quarantined = $3, policy_version = NULL WHERE agent_id = $1`,
          [agent, state.pinned, state.quarantined],
        );
        expected = recompute(agent);
        actual = await refreshed(agent, 'pin');
      } else {
        // A new policy: half the time as TiersService.setPolicy (every agent refreshed at once), half the
        // time stored directly, which agents pick up at their next balance change.
        const count = 2 + next(3);
        policy = {
          thresholds: Array.from({ length: count }, () => 500 + next(3000)).map((_, i, steps) =>
            steps.slice(1, i + 1).reduce((sum, step) => sum + step, 0),
          ),
          hysteresis: next(3) * 300,
        };
        await storePolicy();
        if (next(2) === 0) {
          expected = agents.flatMap(recompute);
          actual = [];
          for (const id of agents) actual.push(...(await refreshed(id, 'policy')));
        } else {
          // Stored directly: agents keep their tiers until their next balance change (as before bands).
          expected = [];
          actual = [];
        }
      }
      tierChanges += expected.length;
      assert.deepEqual(
        actual.map(({ agentId, from, to }) => ({ agentId, from, to })),
        expected,
        `step ${step}: tier changes`,
      );
      const { rows } = await pool.query<{ agent_id: string; earned_tier: number; tier: number; balance: string }>(
        `SELECT t.agent_id, t.earned_tier, t.tier, a.balance FROM agent_tiers t JOIN ledger_accounts a ON a.agent_id = t.agent_id
          ORDER BY t.agent_id`,
      );
      for (const row of rows) {
        const state = model.get(row.agent_id)!;
        assert.equal(Number(row.balance), balances.get(row.agent_id), `step ${step}: balance of ${row.agent_id}`);
        assert.deepEqual(
          [row.earned_tier, row.tier],
          [state.earned, state.tier],
          `step ${step}: tiers of ${row.agent_id}`,
        );
      }
    }
    assert.ok(tierChanges > 50, `${tierChanges} tier changes`);
  });
});
