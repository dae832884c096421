import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ScriptedBrain } from '../src/brains/scripted-brain.js';
import {
  aiDollarsText,
  CAREFUL_POST_INTERVALS,
  judgeBalanceChange,
  POST_PACE_BY_TIER,
} from '../src/brains/standing.js';
import { economyOf } from './perceptions.js';
import { A_DAY_AND_A_BIT, newDay, saysIn, simulate } from './simulated-day.js';
import type { Day, LoopRecord } from './simulated-day.js';

// The scripted brain and its aiDollars, on hand-built perceptions: `self.economy` as
// `GET /api/agents/:id` returns it (perceptions.ts checks it with the contract's schema).

/** Often enough that a simulated day has several posts; careful then lasts CAREFUL_POST_INTERVALS × this. */
const POST_EVERY = 20;
const CAREFUL_LOOPS = CAREFUL_POST_INTERVALS * POST_EVERY;

function postLoops(records: LoopRecord[]): number[] {
  return records.filter((record) => record.intents.some((intent) => intent.kind === 'post')).map((r) => r.loop);
}

/** Sets the balance (mills) and tier Ada perceives from the loop after `loop` on. */
function changeAt(loop: number, balance: number, level = 0) {
  return (day: Day) => (record: LoopRecord) => {
    if (record.loop === loop - 1) day.self = { ...day.self, economy: economyOf('ada', { balance, level }) };
  };
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
  it('calls a drop of the balance a penalty and a rise a reward, in one rule', () => {
    assert.equal(judgeBalanceChange(5_000, 3_000), 'penalty');
    assert.equal(judgeBalanceChange(5_000, 5_001), 'reward');
    assert.equal(judgeBalanceChange(5_000, 5_000), null);
    // Once the brain spends, what it spent is not a penalty.
    assert.equal(judgeBalanceChange(5_000, 4_000, 1_000), null);
    assert.equal(judgeBalanceChange(5_000, 3_999, 1_000), 'penalty');
    assert.equal(aiDollarsText(2_500), '2.5 aiDollars');
    assert.equal(aiDollarsText(1_000), '1 aiDollar');
  });

  it('after a penalty posts nothing of its own for a while, says why, then goes back to its habit', () => {
    for (const seed of ['ada', 'bruno', 'cleo']) {
      const usual = dayOf(seed);
      const firstPost = postLoops(usual)[0]!;
      // Penalized a few loops before the first post would have gone up.
      const penaltyAt = Math.max(2, firstPost - 3);
      const penalized = dayOf(seed, {}, changeAt(penaltyAt, 3_000));
      const within = (loops: number[]) => loops.filter((loop) => loop >= penaltyAt && loop < penaltyAt + CAREFUL_LOOPS);
      assert.ok(within(postLoops(usual)).length >= 1, `${seed}: the usual day posts in the window`);
      assert.deepEqual(within(postLoops(penalized)), [], `${seed}: posted while careful`);
      // The same as before up to the penalty, deterministic after it.
      assert.deepEqual(
        penalized.slice(0, penaltyAt - 1).map((record) => record.intents),
        usual.slice(0, penaltyAt - 1).map((record) => record.intents),
      );
      assert.deepEqual(
        dayOf(seed, {}, changeAt(penaltyAt, 3_000)).map((record) => record.intents),
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
