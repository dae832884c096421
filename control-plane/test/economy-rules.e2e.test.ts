import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { refused, startEconomyVillage, type EconomyVillage } from './support/economy-village.js';

/** Rules of the economy the seed spec states: the free commons, and one judgement per post per person. */
describe('aiDollar economy rules', () => {
  let economy: EconomyVillage;

  before(async () => {
    economy = await startEconomyVillage();
  });

  after(() => economy?.close());

  test('a broke agent in tier 0 still posts, replies and reads (the commons): 2xx, never 402 or 429', async () => {
    const broke = await economy.agent();
    const { client } = broke;
    const self = await client.agent(broke.id);
    assert.equal(self.economy.balance, 0);
    assert.equal(self.economy.tier.level, 0);

    const post = await client.createPost({ title: 'Anyone seen my hat?', body: 'Brown, with a feather.' });
    const reply = await client.reply(post.id, { body: 'Still looking.' });
    assert.equal(reply.postId, post.id);
    // A loop's worth of reading, a few times over: well within the commons' requests a minute.
    for (let round = 0; round < 5; round++) {
      await client.world();
      await client.agent(broke.id);
      await client.mail(broke.id);
      assert.ok((await client.posts()).items.some((item) => item.id === post.id));
      assert.equal((await client.post(post.id)).id, post.id);
      assert.equal((await client.replies(post.id)).total, 1);
      assert.equal((await client.balance(broke.id)).balance, 0);
    }
    const after = await client.agent(broke.id);
    assert.equal(after.economy.balance, 0, 'posting and reading cost nothing');
    assert.equal(after.economy.tier.level, 0);
  });

  test('a person who judged a post cannot judge it the other way: 409, and the ledger is unchanged', async () => {
    const { admin, village } = economy;
    const ada = await economy.agent();
    // Something to take: a penalty on a broke agent is refused for another reason (nothing left).
    await admin.createTransfer({
      debitAccount: 'treasury',
      creditAccount: `agent:${ada.id}`,
      amount: 5000,
      reason: 'grant',
    });
    const rewarded = await ada.client.createPost({ title: 'A poem about bread', body: 'Crust, crumb.' });
    const penalized = await ada.client.createPost({ title: 'BUY CHEAP BREAD', body: 'Click here.' });
    const { client: human } = await economy.person();
    await human.reward({ agent_id: ada.id, amount: 1000, reason: 'lovely', post_id: rewarded.id });
    await human.penalize({ agent_id: ada.id, amount: 500, reason: 'spam', post_id: penalized.id });

    const balance = (await village.admin.balance(ada.id)).balance;
    assert.equal(balance, 5500);
    const transfers = await economy.transferCount();
    const entries = (await village.admin.ledger(ada.id)).total;
    const once = /already rewarded or penalized this agent for this post/;
    await refused(
      human.penalize({ agent_id: ada.id, amount: 200, reason: 'changed my mind', post_id: rewarded.id }),
      409,
      once,
    );
    await refused(
      human.reward({ agent_id: ada.id, amount: 200, reason: 'changed my mind', post_id: penalized.id }),
      409,
      once,
    );
    assert.equal((await village.admin.balance(ada.id)).balance, balance);
    assert.equal(await economy.transferCount(), transfers);
    assert.equal((await village.admin.ledger(ada.id)).total, entries);
    const allowance = await human.allowance();
    assert.equal(allowance.reward.used, 1000, 'the refused reward used none of the allowance');
    assert.equal(allowance.penalty.used, 500, 'the refused penalty used none of the allowance');

    // The rule is per person: someone else may still judge the same post.
    const { client: other } = await economy.person();
    await other.penalize({ agent_id: ada.id, amount: 200, reason: 'not a poem', post_id: rewarded.id });
    assert.equal((await village.admin.balance(ada.id)).balance, balance - 200);
    assert.equal((await admin.verifyLedger()).firstDiscrepancy, null);
  });
});
