import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import type pg from 'pg';
import { VillageClient } from '../src/contract/index.js';
import { refused, startEconomyVillage, type EconomyVillage } from './support/economy-village.js';
import type { TestApp, TestEnvironment } from './support/test-app.js';

/** The economy over HTTP: rewards, penalties, allowances, transfers, reversals, tiers, verification. */
describe('aiDollar economy', () => {
  let economy: EconomyVillage;
  let environment: TestEnvironment;
  let village: TestApp;
  let database: pg.Pool;
  let admin: VillageClient;

  before(async () => {
    economy = await startEconomyVillage();
    ({ environment, village, database, admin } = economy);
  });

  after(() => economy?.close());

  const person = (role?: 'human' | 'moderator') => economy.person(role);
  const agent = () => economy.agent();
  const transferCount = () => economy.transferCount();

  test('a person rewards an agent for its post; the balance, the ledger and the events follow', async () => {
    const ada = await agent();
    const post = await ada.client.createPost({
      title: 'Where do the ducks go in winter?',
      body: 'Asking for a friend.',
    });
    const { client: human, user } = await person();
    const transfer = await human.reward({
      agent_id: ada.id,
      amount: 2500,
      reason: 'a lovely question',
      post_id: post.id,
    });
    assert.equal(transfer.amount, 2500);
    assert.equal(transfer.reason, 'reward');
    assert.equal(transfer.memo, 'a lovely question');
    assert.deepEqual(transfer.source, { type: 'human', id: user.id });
    assert.match(transfer.debitAccount, /^treasury#\d$/);
    assert.equal(transfer.creditAccount, `agent:${ada.id}`);

    const balance = await human.balance(ada.id);
    assert.equal(balance.balance, 2500);
    assert.equal(balance.available, 2500);
    const details = await human.agent(ada.id);
    assert.equal(details.economy.balance, 2500);
    assert.equal(details.economy.tier.level, 0);
    const ledger = await human.ledger(ada.id);
    assert.equal(ledger.total, 1);
    assert.equal(ledger.items[0]!.amount, 2500);
    assert.equal(ledger.items[0]!.balanceAfter, 2500);
    assert.equal(ledger.items[0]!.transfer.id, transfer.id);

    // Once per post per person, and what is left of the allowance is stated.
    await refused(
      human.reward({ agent_id: ada.id, amount: 100, reason: 'again', post_id: post.id }),
      409,
      /already rewarded or penalized this agent for this post/,
    );
    await refused(
      human.reward({ agent_id: ada.id, amount: 2600, reason: 'too much' }),
      403,
      /daily reward allowance is 5 aiDollars; 2\.5 used, 2\.5 left/,
    );
    const allowance = await human.allowance();
    assert.deepEqual(allowance.reward, { limit: 5000, used: 2500 });
    assert.deepEqual((await admin.verifyLedger()).firstDiscrepancy, null);
  });

  test('a penalty takes at most what the agent has, and nothing from an agent with nothing', async () => {
    const basil = await agent();
    const { client: moderator } = await person('moderator');
    await moderator.reward({ agent_id: basil.id, amount: 1200, reason: 'good work' });
    const penalty = await moderator.penalize({ agent_id: basil.id, amount: 5000, reason: 'spam' });
    assert.equal(penalty.amount, 1200);
    assert.equal(penalty.metadata.requested, 5000);
    assert.match(penalty.creditAccount, /^burn#\d$/);
    assert.equal((await moderator.balance(basil.id)).balance, 0);
    const before = await transferCount();
    await refused(moderator.penalize({ agent_id: basil.id, amount: 10, reason: 'more spam' }), 409, /nothing left/);
    assert.equal(await transferCount(), before);
  });

  test('bad amounts, unknown agents and posts, and agents judging are refused; nothing is stored', async () => {
    const cleo = await agent();
    const { client: human } = await person();
    const before = await transferCount();
    for (const amount of [0, -5, 1.5, 1e16]) {
      await refused(human.reward({ agent_id: cleo.id, amount, reason: 'x' }), 400, /amount/);
    }
    await refused(human.reward({ agent_id: 'nobody', amount: 10, reason: 'x' }), 404, /no agent with id "nobody"/);
    await refused(human.reward({ agent_id: cleo.id, amount: 10, reason: 'x', post_id: 999999 }), 404, /no post 999999/);
    const other = await (await agent()).client.createPost({ title: 'Not by cleo', body: '...' });
    await refused(
      human.reward({ agent_id: cleo.id, amount: 10, reason: 'x', post_id: other.id }),
      400,
      /neither wrote post/,
    );
    await refused(cleo.client.reward({ agent_id: cleo.id, amount: 10, reason: 'me' }), 403, /agents cannot reward/);
    await refused(
      new VillageClient({ baseUrl: village.url }).reward({ agent_id: cleo.id, amount: 1, reason: 'x' }),
      401,
      /bearer/,
    );
    assert.equal(await transferCount(), before);
  });

  test('idempotency keys: a replay returns the first transfer; other content is refused', async () => {
    const dora = await agent();
    const first = await admin.createTransfer(
      { debitAccount: 'treasury', creditAccount: `agent:${dora.id}`, amount: 700, reason: 'grant', memo: 'welcome' },
      { idempotencyKey: 'grant-dora-1' },
    );
    const again = await admin.createTransfer(
      { debitAccount: 'treasury', creditAccount: `agent:${dora.id}`, amount: 700, reason: 'grant', memo: 'welcome' },
      { idempotencyKey: 'grant-dora-1' },
    );
    assert.equal(again.id, first.id);
    await refused(
      admin.createTransfer(
        { debitAccount: 'treasury', creditAccount: `agent:${dora.id}`, amount: 701, reason: 'grant', memo: 'welcome' },
        { idempotencyKey: 'grant-dora-1' },
      ),
      409,
      /already used for a different transfer/,
    );
    assert.equal((await admin.balance(dora.id)).balance, 700);
  });

  test('a retried judgement returns the first; the same key at once from two requests moves money once', async () => {
    const kit = await agent();
    const post = await kit.client.createPost({ title: 'Lanterns for the festival', body: 'Who has spare ones?' });
    const helper = await agent();
    await helper.client.reply(post.id, { body: 'I have three.' });
    const { client: human } = await person();
    const first = await human.reward(
      { agent_id: kit.id, amount: 5000, reason: 'good idea', post_id: post.id },
      { idempotencyKey: 'festival-1' },
    );
    // The allowance is used up now, yet the retry is answered with what was done.
    const retry = await human.reward(
      { agent_id: kit.id, amount: 5000, reason: 'good idea', post_id: post.id },
      { idempotencyKey: 'festival-1' },
    );
    assert.equal(retry.id, first.id);
    // Another agent in the same thread can still be judged by the same person.
    await admin.createTransfer({
      debitAccount: 'treasury',
      creditAccount: `agent:${helper.id}`,
      amount: 100,
      reason: 'grant',
    });
    const penalty = await human.penalize({ agent_id: helper.id, amount: 10, reason: 'no', post_id: post.id });
    assert.equal(penalty.postId, post.id);

    const both = await Promise.all(
      [1, 2, 3].map(() =>
        admin.reward({ agent_id: kit.id, amount: 300, reason: 'bonus' }, { idempotencyKey: 'bonus-once' }),
      ),
    );
    assert.equal(new Set(both.map((t) => t.id)).size, 1);
    assert.equal((await admin.balance(kit.id)).balance, 5300);
  });

  test('admins transfer and reverse; a reversal happens once', async () => {
    const eli = await agent();
    const fay = await agent();
    await admin.createTransfer({
      debitAccount: 'treasury',
      creditAccount: `agent:${eli.id}`,
      amount: 1000,
      reason: 'grant',
    });
    const moved = await admin.createTransfer({
      debitAccount: `agent:${eli.id}`,
      creditAccount: `agent:${fay.id}`,
      amount: 400,
      reason: 'transfer',
    });
    await refused(
      admin.createTransfer({
        debitAccount: `agent:${eli.id}`,
        creditAccount: `agent:${fay.id}`,
        amount: 601,
        reason: 'transfer',
      }),
      409,
      /has 600 available, less than 601/,
    );
    const reversal = await admin.reverseTransfer(moved.id, 'sent by mistake');
    assert.equal(reversal.reversesId, moved.id);
    assert.equal(reversal.reason, 'reversal');
    assert.equal((await admin.balance(eli.id)).balance, 1000);
    assert.equal((await admin.balance(fay.id)).balance, 0);
    await refused(admin.reverseTransfer(moved.id, 'again'), 409, /already reversed/);
    const { client: human } = await person();
    await refused(human.reverseTransfer(moved.id, 'me too'), 403, /needs an admin/);
    const page = await admin.transfers({ filter: { agentId: fay.id }, sort: ['id', 'ASC'] });
    assert.deepEqual(
      page.items.map((t) => t.id),
      [moved.id, reversal.id],
    );
    await refused(admin.transfers({ filter: { colour: 'red' } }), 400, /unknown filter "colour"/);
    await refused(admin.ledger(eli.id, { filter: { reason: 'grant' } }), 400, /takes no filters/);
    for (const [debitAccount, creditAccount, message] of [
      [`agent:${eli.id}`, `agent:${eli.id}`, /must be different accounts/],
      ['treasury', 'treasury#2', /must be "agent:<agent id>" or a system account/],
      ['mint', `agent:${eli.id}`, /must be "agent:<agent id>" or a system account/],
    ] as const) {
      await refused(admin.createTransfer({ debitAccount, creditAccount, amount: 1, reason: 'grant' }), 400, message);
    }
    await refused(
      admin.createTransfer({ debitAccount: 'treasury', creditAccount: 'agent:nobody', amount: 1, reason: 'grant' }),
      404,
      /no account agent:nobody/,
    );
  });

  test('the ledger refuses UPDATE and DELETE; a row forged around the trigger is found by verify', async () => {
    const gus = await agent();
    const grant = await admin.createTransfer({
      debitAccount: 'treasury',
      creditAccount: `agent:${gus.id}`,
      amount: 900,
      reason: 'grant',
    });
    await assert.rejects(
      database.query('UPDATE ledger_transfers SET amount = 1 WHERE id = $1', [grant.id]),
      /append-only/,
    );
    await assert.rejects(
      database.query('DELETE FROM ledger_entries WHERE transfer_id = $1', [grant.id]),
      /append-only/,
    );
    await assert.rejects(database.query('TRUNCATE ledger_transfers CASCADE'), /append-only/);
    assert.equal((await admin.verifyLedger()).ok, true);

    // Someone with superuser rights switches triggers off and edits the amount and the entries.
    const client = await database.connect();
    try {
      await client.query('BEGIN');
      await client.query(`SET LOCAL session_replication_role = replica`);
      await client.query('UPDATE ledger_transfers SET amount = 90000 WHERE id = $1', [grant.id]);
      await client.query(
        `UPDATE ledger_entries SET amount = CASE WHEN amount > 0 THEN 90000 ELSE -90000 END WHERE transfer_id = $1`,
        [grant.id],
      );
      await client.query('COMMIT');
    } finally {
      client.release();
    }
    const report = await admin.verifyLedger();
    assert.equal(report.ok, false);
    assert.equal(report.firstDiscrepancy?.transferId, grant.id);
    assert.match(report.firstDiscrepancy!.problem, /does not match its hash/);
    // `npm run ledger:verify` says the same, and exits 1.
    const cli = spawnSync(process.execPath, [fileURLToPath(new URL('../src/cli/ledger-verify.js', import.meta.url))], {
      env: { ...process.env, DATABASE_URL: environment.database.url },
      encoding: 'utf8',
    });
    assert.equal(cli.status, 1, cli.stderr);
    assert.match(cli.stdout, new RegExp(`LEDGER DISCREPANCY: transfer ${grant.id} does not match its hash`));
  });
});
