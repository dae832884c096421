import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { LedgerEntrySchema, type LedgerEntry, type ListPage } from '@ai-village/control-plane/contract';
import { ScriptedBrain } from '../src/brains/scripted-brain.js';
import {
  aiDollarsText,
  CAREFUL_POST_INTERVALS,
  judgeBalanceChange,
  POST_PACE_BY_TIER,
  Standing,
} from '../src/brains/standing.js';
import { LEDGER_PAGE_ENTRIES, PenaltyTally, penaltyTaken } from '../src/penalty-tally.js';
import { economyOf } from './perceptions.js';
import { A_DAY_AND_A_BIT, newDay, saysIn, simulate } from './simulated-day.js';
import type { Day, LoopRecord } from './simulated-day.js';

// The scripted brain and its aiDollars, on hand-built perceptions: `self.economy` as
// `GET /api/agents/:id` returns it (perceptions.ts checks it with the contract's schema), and the
// loop's penalty tally, counted from ledger entries as `GET /api/economy/ledger/:agentId` returns them.

/** Often enough that a simulated day has several posts; careful then lasts CAREFUL_POST_INTERVALS × this. */
const POST_EVERY = 20;
const CAREFUL_LOOPS = CAREFUL_POST_INTERVALS * POST_EVERY;

function postLoops(records: LoopRecord[]): number[] {
  return records.filter((record) => record.intents.some((intent) => intent.kind === 'post')).map((r) => r.loop);
}

/**
 * Sets the balance (mills) and tier Ada perceives from the loop after `loop` on; `penalized`: what
 * penalties took in that change (the loop's tally grows by it), none when the drop is her spending.
 */
function changeAt(loop: number, balance: number, level = 0, penalized = 0) {
  return (day: Day) => (record: LoopRecord) => {
    if (record.loop !== loop - 1) return;
    day.self = { ...day.self, economy: economyOf('ada', { balance, level }) };
    day.penalized += penalized;
  };
}

let transferIds = 0;
/** One line of Ada's ledger as the API returns it (checked by the contract's schema). */
function entry(seq: number, amount: number, balanceAfter: number, reason: string, heldChange = 0): LedgerEntry {
  const agentSide = 'agent:ada';
  const other = reason === 'penalty' ? 'burn' : reason.startsWith('compute') ? 'compute_revenue' : 'treasury#0';
  return LedgerEntrySchema.parse({
    id: seq,
    seq,
    account: agentSide,
    amount,
    heldChange,
    balanceAfter,
    heldAfter: Math.max(0, heldChange),
    transfer: {
      id: ++transferIds,
      kind: heldChange > 0 ? 'pending' : 'posted',
      debitAccount: amount < 0 || heldChange > 0 ? agentSide : other,
      creditAccount: amount < 0 || heldChange > 0 ? other : agentSide,
      amount: Math.abs(amount) || heldChange,
      reason,
      memo: null,
      source: { type: reason === 'penalty' ? 'human' : 'system', id: null },
      postId: null,
      metadata: {},
      idempotencyKey: `key-${transferIds}`,
      pendingId: null,
      expiresAt: null,
      reversesId: reason === 'reversal' ? 1 : null,
      createdAt: new Date(0).toISOString(),
      hash: '00',
    },
  });
}

/** A ledger read by the tally: Ada's entries (oldest first), served newest first; counts the reads. */
function ledgerOf(entries: LedgerEntry[]) {
  const reads: [number, number][] = [];
  const read = (range: [number, number]): Promise<ListPage<LedgerEntry>> => {
    reads.push(range);
    const items = [...entries].reverse().slice(range[0], range[1] + 1);
    return Promise.resolve({
      items,
      total: entries.length,
      range: items.length ? [range[0], range[0] + items.length - 1] : null,
    });
  };
  return { entries, reads, read };
}

/** A simulated day for Ada with this economy; `change` may alter it between loops. */
function dayOf(
  seed: string,
  { balance = 5_000, level = 0, quarantined = false } = {},
  change?: (day: Day) => (record: LoopRecord) => void,
): LoopRecord[] {
  const day = newDay();
  day.self = { ...day.self, economy: economyOf('ada', { balance, level, quarantined }) };
  return simulate(new ScriptedBrain({ seed, postEveryLoops: POST_EVERY }), day, A_DAY_AND_A_BIT, 5, change?.(day));
}

describe('scripted brain and its aiDollars', () => {
  it('calls what the penalty tally grew by a penalty, a rise a reward, and its own spending neither, in one rule', () => {
    const penalty = judgeBalanceChange({ balance: 5_000, penalized: 0 }, { balance: 3_000, penalized: 2_000 });
    assert.deepEqual(penalty, { verdict: 'penalty', amount: 2_000 });
    assert.deepEqual(judgeBalanceChange({ balance: 5_000, penalized: 0 }, { balance: 5_001, penalized: 0 }), {
      verdict: 'reward',
      amount: 1,
    });
    assert.equal(judgeBalanceChange({ balance: 5_000, penalized: 0 }, { balance: 5_000, penalized: 0 }), null);
    // A drop the ledger does not call a penalty is what it spent (LLM calls, GPU bills): nothing.
    assert.equal(judgeBalanceChange({ balance: 5_000, penalized: 700 }, { balance: 1_000, penalized: 700 }), null);
    // Spending and a penalty together: the penalty is what it took, not the whole drop.
    assert.deepEqual(judgeBalanceChange({ balance: 5_000, penalized: 0 }, { balance: 1_000, penalized: 500 }), {
      verdict: 'penalty',
      amount: 500,
    });
    // Nobody counted (a hand-built perception): a drop is not taken for a penalty.
    assert.equal(judgeBalanceChange({ balance: 5_000 }, { balance: 3_000 }), null);
    assert.equal(aiDollarsText(2_500), '2.5 aiDollars');
    assert.equal(aiDollarsText(1_000), '1 aiDollar');
  });

  it('after a penalty posts nothing of its own for a while, says why, then goes back to its habit', () => {
    for (const seed of ['ada', 'bruno', 'cleo']) {
      const usual = dayOf(seed);
      const firstPost = postLoops(usual)[0]!;
      // Penalized a few loops before the first post would have gone up.
      const penaltyAt = Math.max(2, firstPost - 3);
      const penalized = dayOf(seed, {}, changeAt(penaltyAt, 3_000, 0, 2_000));
      const within = (loops: number[]) => loops.filter((loop) => loop >= penaltyAt && loop < penaltyAt + CAREFUL_LOOPS);
      assert.ok(within(postLoops(usual)).length >= 1, `${seed}: the usual day posts in the window`);
      assert.deepEqual(within(postLoops(penalized)), [], `${seed}: posted while careful`);
      // The same as before up to the penalty, deterministic after it.
      assert.deepEqual(
        penalized.slice(0, penaltyAt - 1).map((record) => record.intents),
        usual.slice(0, penaltyAt - 1).map((record) => record.intents),
      );
      assert.deepEqual(
        dayOf(seed, {}, changeAt(penaltyAt, 3_000, 0, 2_000)).map((record) => record.intents),
        penalized.map((record) => record.intents),
      );
      // One line about it, in the loop it noticed, naming what it lost; and it meant it.
      const says = saysIn(penalized[penaltyAt - 1]!);
      assert.equal(says.length, 1, JSON.stringify(says));
      assert.match(says[0]!, /2 aiDollars/);
      assert.match(says[0]!, /careful|think twice|quieter/);
      // Careful for a while, not for ever: the habit comes back later that day.
      assert.ok(
        postLoops(penalized).some((loop) => loop >= penaltyAt + CAREFUL_LOOPS),
        `${seed}: never posted again (${postLoops(penalized).join(', ')})`,
      );
    }
  });

  it('spends without taking it for a penalty: its own LLM calls and GPU bills change nothing it does', () => {
    for (const seed of ['ada', 'bruno', 'cleo']) {
      const usual = dayOf(seed);
      const spendAt = Math.max(2, postLoops(usual)[0]! - 3);
      // Its balance falls in three steps, none of them a penalty in its ledger.
      const spending = dayOf(seed, {}, (day) => {
        const changes = [
          changeAt(spendAt, 4_200)(day),
          changeAt(spendAt + 5, 3_100)(day),
          changeAt(spendAt + 9, 900)(day),
        ];
        return (record) => changes.forEach((change) => change(record));
      });
      assert.deepEqual(
        spending.map((record) => record.intents),
        usual.map((record) => record.intents),
        `${seed}: spending changed what it did`,
      );
    }
  });

  it('notices a penalty once among its spending, even after loops it did not decide (the LLM brain decided)', () => {
    const standing = new Standing(40);
    assert.equal(standing.notice(economyOf('ada', { balance: 9_000 }), 1, 0), null);
    // Loops later: 6 aiDollars of LLM calls, and a 1.5 aiDollar penalty in between.
    const news = standing.notice(economyOf('ada', { balance: 1_500 }), 2, 1_500);
    assert.deepEqual(news, { verdict: 'penalty', amount: 1_500, remark: true });
    assert.ok(standing.careful(2));
    // More spending after it: no second penalty.
    assert.equal(standing.notice(economyOf('ada', { balance: 1_000 }), 3, 1_500), null);
  });

  it('the loop reads its ledger only when the balance changed, and counts penalties and reversals, not spending', async () => {
    assert.equal(penaltyTaken(entry(1, -300, 700, 'compute_purchase')), 0);
    assert.equal(penaltyTaken(entry(1, -300, 700, 'gpu_usage')), 0);
    assert.equal(penaltyTaken(entry(1, 0, 1_000, 'compute_purchase', 400)), 0, 'a hold');
    assert.equal(penaltyTaken(entry(1, 2_000, 3_000, 'reward')), 0);
    assert.equal(penaltyTaken(entry(1, -2_000, 1_000, 'penalty')), 2_000);
    assert.equal(penaltyTaken(entry(1, -2_000, 1_000, 'reversal')), 2_000, 'a reward taken back');

    const ledger = ledgerOf([entry(1, 10_000, 10_000, 'grant'), entry(2, -1_000, 9_000, 'penalty')]);
    const tally = new PenaltyTally();
    const seen = (balance: number) => tally.update(economyOf('ada', { balance }), ledger.read);
    // The first economy reads nothing; an old penalty is not counted again, nor is a reward.
    assert.equal(await seen(9_000), 0);
    assert.deepEqual(ledger.reads, []);
    ledger.entries.push(entry(3, 2_000, 11_000, 'reward'));
    assert.equal(await seen(11_000), 0);
    assert.deepEqual(ledger.reads, [[0, LEDGER_PAGE_ENTRIES - 1]]);
    // Its LLM calls (a hold, then the price) and a GPU bill: a read, no penalty.
    ledger.entries.push(
      entry(4, 0, 11_000, 'compute_purchase', 500),
      entry(5, -350, 10_650, 'compute_purchase', -500),
      entry(6, -150, 10_500, 'gpu_usage'),
    );
    assert.equal(await seen(10_500), 0);
    assert.equal(ledger.reads.length, 2);
    // A penalty among more spending, and a reward taken back: both counted, once.
    ledger.entries.push(
      entry(7, -400, 10_100, 'compute_purchase'),
      entry(8, -3_000, 7_100, 'penalty'),
      entry(9, -2_000, 5_100, 'reversal'),
    );
    assert.equal(await seen(5_100), 5_000);
    assert.equal(await seen(5_100), 5_000);
    assert.equal(ledger.reads.length, 3, 'no read while the balance stays');
    ledger.entries.push(entry(10, -100, 5_000, 'gpu_usage'));
    assert.equal(await seen(5_000), 5_000);
    assert.equal(ledger.reads.length, 4);
    // A penalty and a bigger reward in one loop: the balance rose, and the penalty still counts.
    ledger.entries.push(entry(11, -1_000, 4_000, 'penalty'), entry(12, 3_000, 7_000, 'reward'));
    assert.equal(await seen(7_000), 6_000);
  });

  it('a failed ledger read is tried again next loop, so the penalty is not lost', async () => {
    const ledger = ledgerOf([entry(1, 5_000, 5_000, 'grant')]);
    const tally = new PenaltyTally();
    await tally.update(economyOf('ada', { balance: 5_000 }), ledger.read);
    ledger.entries.push(entry(2, -1_000, 4_000, 'penalty'));
    const down = () => Promise.reject(new Error('connect ECONNREFUSED'));
    await assert.rejects(tally.update(economyOf('ada', { balance: 4_000 }), down), /ECONNREFUSED/);
    assert.equal(tally.penalized, 0);
    // The balance no longer falls, but the read is still due.
    assert.equal(await tally.update(economyOf('ada', { balance: 4_000 }), ledger.read), 1_000);
    assert.equal(ledger.reads.length, 1);
  });

  it('thanks once for a reward, and naming its new tier when the reward brought one', () => {
    // Rewarded a few loops before its first post, three times in a row.
    const rewardAt = postLoops(dayOf('ada'))[0]! - 3;
    const rewarded = dayOf('ada', {}, (day) => {
      const changes = [
        changeAt(rewardAt, 6_500)(day),
        changeAt(rewardAt + 2, 7_000)(day),
        changeAt(rewardAt + 4, 8_000)(day),
      ];
      return (record) => changes.forEach((change) => change(record));
    });
    const thanks = (record: LoopRecord) => saysIn(record).filter((line) => /thank/i.test(line));
    const noticed = rewarded[rewardAt - 1]!;
    assert.equal(thanks(noticed).length, 1, JSON.stringify(noticed.intents));
    assert.match(thanks(noticed)[0]!, /1\.5 aiDollars/);
    assert.equal(saysIn(noticed).length, 1, 'thanks is the only line of that loop');
    // Rewards in a burst get one thank-you.
    assert.deepEqual(rewarded.slice(rewardAt, rewardAt + 10).flatMap(thanks), []);
    // A reward is no reason to be careful: the question goes up all the same.
    assert.ok(
      postLoops(rewarded).some((loop) => loop >= rewardAt && loop < rewardAt + CAREFUL_LOOPS),
      postLoops(rewarded).join(', '),
    );

    const promoted = dayOf('ada', {}, changeAt(30, 12_000, 1));
    const line = thanks(promoted[29]!)[0];
    assert.match(line ?? '', /7 aiDollars.*I am in the citizen tier now\./);
    assert.ok(line!.length <= 200);
  });

  it('posts less in the commons (tier 0) than at tier 2, and nothing of its own while quarantined', () => {
    assert.ok(POST_PACE_BY_TIER[0]! > POST_PACE_BY_TIER[2]!);
    let commons = 0;
    let artisan = 0;
    for (const seed of ['ada', 'bruno', 'cleo', 'dev']) {
      const atCommons = postLoops(dayOf(seed, { level: 0 })).length;
      const atArtisan = postLoops(dayOf(seed, { level: 2 })).length;
      assert.ok(atCommons <= atArtisan, `${seed}: ${atCommons} posts in the commons, ${atArtisan} at tier 2`);
      commons += atCommons;
      artisan += atArtisan;
      assert.deepEqual(postLoops(dayOf(seed, { level: 2, quarantined: true })), [], `${seed}: posted in quarantine`);
    }
    assert.ok(commons < artisan, `${commons} posts in the commons, ${artisan} at tier 2`);
  });
});
