import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type Browser, type Page } from 'playwright-core';
import { VillageClient, type Agent, type Post } from '../src/contract/index.js';
import {
  createTestEnvironment,
  eventually,
  startTestApp,
  type TestApp,
  type TestEnvironment,
} from './support/test-app.js';
import { launchChromium } from './support/chromium.js';

const HANDLE = 'juniper';

/** aiDollars on the page, in real Chromium: a person rewards and penalizes an agent from the board; the map's card follows. */
describe('rewards and penalties on the page in real Chromium', () => {
  let environment: TestEnvironment;
  let village: TestApp;
  let browser: Browser;
  let page: Page;
  let ada: Agent & { token: string };
  let asAda: VillageClient;
  let question: Post;
  const errors: string[] = [];

  before(async () => {
    environment = await createTestEnvironment({
      VILLAGE_TICK_MS: '500',
      // The defaults, written out: the test's numbers depend on them.
      VILLAGE_ALLOWANCES: JSON.stringify({
        human: { reward: 20_000, penalty: 10_000 },
        moderator: { reward: 200_000, penalty: 100_000 },
        admin: { reward: null, penalty: null },
      }),
    });
    village = await startTestApp(environment);
    // Away from the town board, so the speech bubble of its posts never covers its marker.
    ada = await village.admin.createAgent({ id: 'ada', displayName: 'Ada', spawn: { x: 5, y: 29 } });
    asAda = new VillageClient({ baseUrl: village.url, token: ada.token });
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(`${village.url}/`);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 30_000 });
    await page.waitForSelector('#connection-status:text("live")');
  });

  after(async () => {
    await browser?.close();
    await village?.close();
    await environment?.dispose();
  });

  const byTestId = (id: string) => page.locator(`[data-testid="${id}"]`);
  const postItem = (id: number) => page.locator(`[data-testid="post-item"][data-post-id="${id}"]`);
  const card = () => page.locator('#agent-card');
  const cardBalance = () => card().locator('[data-testid="agent-balance"]');
  const cardTier = () => card().locator('[data-testid="agent-tier"]');
  const ledgerOfAda = async () => (await village.admin.ledger('ada')).items;

  async function openThread(post: Post) {
    await byTestId('tab-board').click();
    if (await byTestId('thread-back').isVisible()) await byTestId('thread-back').click();
    await postItem(post.id).waitFor({ timeout: 10_000 });
    await postItem(post.id).click();
    await page.locator(`[data-testid="thread"][data-post-id="${post.id}"]`).waitFor();
  }

  /** Fills and sends the form under the post (or `within` a reply); a finished form is replaced by a fresh one. */
  async function judge(
    kind: 'reward' | 'penalty',
    amount: string,
    reason: string,
    within = page.locator('.thread-post'),
  ) {
    await within.locator('[data-testid="judge-button"]').click();
    const form = within.locator('[data-testid="judge-form"]:not([data-finished])');
    await form.waitFor();
    await form.locator(`[data-testid="judge-kind-${kind}"]`).check();
    await form.locator('[data-testid="judge-amount"]').fill(amount);
    await form.locator('[data-testid="judge-reason"]').fill(reason);
    await form.locator('[data-testid="judge-submit"]').click();
    return form;
  }

  test('an agent posts; a person signs up on the page; the agent’s card on the map shows its balance and tier', async () => {
    question = await asAda.createPost({
      title: 'Where does the well rope come from?',
      body: 'I would like to learn to splice it myself.',
      tags: ['help'],
    });

    await byTestId('tab-board').click();
    await byTestId('auth-open-sign-up').click();
    await byTestId('auth-handle').fill(HANDLE);
    await byTestId('auth-display-name').fill('Juniper');
    await byTestId('auth-email').fill('juniper@village.test');
    await byTestId('auth-password').fill('correct horse battery');
    await byTestId('auth-submit').click();
    await byTestId('auth-user')
      .filter({ hasText: `@${HANDLE}` })
      .waitFor();

    // Opened from the map; it stays open (and is not reopened) for the rest of the file.
    await page.locator('.agent-marker[data-agent-id="ada"]').click();
    await card().waitFor({ state: 'visible' });
    await cardBalance().and(page.locator('[data-mills="0"]')).waitFor({ timeout: 10_000 });
    assert.equal(await cardBalance().innerText(), '0 aiDollars');
    assert.equal(await cardTier().innerText(), 'Commons · tier 0');
    assert.match(page.url(), /#agent=ada$/);
    await page.evaluate(() => ((window as unknown as { sameDocument: boolean }).sameDocument = true));
  });

  test('the form refuses an amount that is not aiDollars with up to three decimals, without asking the server', async () => {
    await openThread(question);
    await page.locator('.thread-post [data-testid="judge-button"]').click();
    const form = page.locator('.thread-post [data-testid="judge-form"]');
    await form.waitFor();
    assert.equal(
      await form.locator('[data-testid="judge-amount"]').evaluate((input) => input === document.activeElement),
      true,
      'the amount has the focus',
    );
    const allowance = form.locator('[data-testid="judge-allowance"]');
    await allowance.filter({ hasText: 'Left today' }).waitFor();
    assert.match(await allowance.innerText(), /20 of 20 aiDollars to reward, 10 of 10 aiDollars to penalize/);
    assert.equal(await form.locator('[data-testid="judge-submit"]').innerText(), 'Reward Ada');
    await form.locator('[data-testid="judge-kind-penalty"]').check();
    assert.equal(await form.locator('[data-testid="judge-submit"]').innerText(), 'Penalize Ada');
    await form.locator('[data-testid="judge-kind-reward"]').check();

    const amount = form.locator('[data-testid="judge-amount"]');
    await form.locator('[data-testid="judge-reason"]').fill('a good question');
    for (const [typed, message] of [
      ['1.2345', /at most three decimals/i],
      ['2,5', /a point for decimals/],
      ['-1', /as a number of aiDollars/],
      ['1e3', /as a number of aiDollars/],
      ['0.000', /more than 0/],
      ['', /enter an amount/i],
    ] as const) {
      await amount.fill(typed);
      await form.locator('[data-testid="judge-submit"]').click();
      await form.locator('[data-testid="judge-error"]').filter({ hasText: message }).waitFor();
      assert.equal(await amount.getAttribute('aria-invalid'), 'true', `“${typed}” is marked invalid`);
    }
    await amount.fill('1');
    await form.locator('[data-testid="judge-reason"]').fill('   ');
    await form.locator('[data-testid="judge-submit"]').click();
    await form.locator('[data-testid="judge-error"]').filter({ hasText: 'Say why' }).waitFor();
    assert.deepEqual(await ledgerOfAda(), [], 'nothing reached the ledger');
    await form.getByRole('button', { name: 'Cancel' }).click();
    await form.waitFor({ state: 'detached' });
  });

  test('the person rewards the post: the ledger moves once, the page confirms, and the card follows live', async () => {
    const form = await judge('reward', '2.5', 'A good question, and kindly asked');
    const done = page.locator('.thread-post [data-testid="judge-done"]');
    await done.waitFor({ timeout: 10_000 });
    assert.equal(await done.innerText(), 'Rewarded Ada 2.5 aiDollars.');
    assert.equal(await form.count(), 0, 'the form made way for the confirmation');
    await page
      .locator('.thread-post [data-testid="judge-allowance"]')
      .filter({ hasText: '17.5 of 20 aiDollars to reward' })
      .waitFor();

    const entries = await eventually(async () => {
      const items = await ledgerOfAda();
      return items.length > 0 ? items : undefined;
    }, 'the reward in Ada’s ledger');
    assert.equal(entries.length, 1, 'one entry in Ada’s ledger');
    assert.equal(entries[0]!.amount, 2500);
    assert.equal(entries[0]!.balanceAfter, 2500);
    assert.equal(entries[0]!.transfer.reason, 'reward');
    assert.equal(entries[0]!.transfer.memo, 'A good question, and kindly asked');
    assert.equal(entries[0]!.transfer.postId, question.id);
    assert.equal(entries[0]!.transfer.source.type, 'human');
    assert.equal((await village.admin.balance('ada')).balance, 2500);

    // The card opened before the reward: the balance event changes it, with no reload or reopening.
    await cardBalance().and(page.locator('[data-mills="2500"]')).waitFor({ timeout: 10_000 });
    assert.equal(await cardBalance().innerText(), '2.5 aiDollars');
    assert.equal(await cardTier().innerText(), 'Commons · tier 0');
    assert.ok(await page.evaluate(() => (window as unknown as { sameDocument?: boolean }).sameDocument));
    // And the village's feed says so.
    await byTestId('tab-village').click();
    await page.locator('#live-feed .feed-reward').filter({ hasText: 'was rewarded 2.5 aiDollars' }).waitFor();
    assert.equal((await ledgerOfAda()).length, 1, 'still exactly one entry');
  });

  test('a second reward for the same post shows the server’s refusal', async () => {
    await openThread(question);
    const form = await judge('reward', '1', 'Once more');
    await form
      .locator('[data-testid="judge-error"]')
      .filter({ hasText: 'You have already rewarded or penalized this agent for this post' })
      .waitFor({ timeout: 10_000 });
    assert.equal(await form.locator('[data-testid="judge-done"]').count(), 0);
    await form.locator('[data-testid="judge-allowance"]').filter({ hasText: '17.5 of 20' }).waitFor();
    assert.equal((await ledgerOfAda()).length, 1, 'the ledger did not move');
    assert.equal(await cardBalance().getAttribute('data-mills'), '2500');
  });

  test('a reward over the daily allowance is refused; one that fits lifts the agent a tier, live on the card', async () => {
    const report = await asAda.createPost({ title: 'I mended the well rope', body: 'Spliced it myself.' });
    await openThread(report);
    const form = await judge('reward', '18', 'Well done');
    await form
      .locator('[data-testid="judge-error"]')
      .filter({ hasText: /Your daily reward allowance is 20 aiDollars; .* left until midnight UTC/ })
      .waitFor({ timeout: 10_000 });

    await form.locator('[data-testid="judge-amount"]').fill('10');
    await form.locator('[data-testid="judge-submit"]').click();
    await page
      .locator('.thread-post [data-testid="judge-done"]')
      .filter({ hasText: 'Rewarded Ada 10 aiDollars.' })
      .waitFor({ timeout: 10_000 });
    await cardBalance().and(page.locator('[data-mills="12500"]')).waitFor({ timeout: 10_000 });
    await cardTier().and(page.locator('[data-level="1"]')).waitFor({ timeout: 10_000 });
    assert.equal(await cardTier().innerText(), 'Citizen · tier 1');
    assert.equal((await ledgerOfAda()).length, 2);
  });

  test('the person penalizes an agent’s reply; the card follows', async () => {
    const plea = await asAda.createPost({ title: 'Anyone seen my hammer?' });
    const answer = await asAda.reply(plea.id, { body: 'Never mind, I found it in the market.' });
    await openThread(plea);
    const reply = page.locator(`[data-testid="reply"][data-reply-id="${answer.id}"]`);
    await reply.waitFor();
    await judge('penalty', '1', 'Shouted across the square', reply);
    const done = reply.locator('[data-testid="judge-done"]');
    await done.waitFor({ timeout: 10_000 });
    assert.equal(await done.innerText(), 'Penalized Ada 1 aiDollar.');
    await reply
      .locator('[data-testid="judge-allowance"]')
      .filter({ hasText: '9 of 10 aiDollars to penalize' })
      .waitFor();
    await cardBalance().and(page.locator('[data-mills="11500"]')).waitFor({ timeout: 10_000 });
    assert.equal(await cardBalance().innerText(), '11.5 aiDollars');
    const entries = await ledgerOfAda();
    assert.equal(entries.length, 3);
    assert.equal(entries[0]!.amount, -1000);
    assert.equal(entries[0]!.transfer.postId, plea.id);
    assert.ok(await page.evaluate(() => (window as unknown as { sameDocument?: boolean }).sameDocument));
    assert.deepEqual(errors, [], 'no script errors');
  });

  test('a penalty larger than the balance takes what there is, and the page says so', async () => {
    const basil = await village.admin.createAgent({ id: 'basil', displayName: 'Basil', spawn: { x: 8, y: 29 } });
    await village.admin.reward({ agent_id: 'basil', amount: 400, reason: 'a start' });
    const boast = await new VillageClient({ baseUrl: village.url, token: basil.token }).createPost({
      title: 'I am the richest in the village',
    });
    await openThread(boast);
    const form = await judge('penalty', '1', 'Boasting');
    const done = page.locator('.thread-post [data-testid="judge-done"]');
    await done.waitFor({ timeout: 10_000 });
    assert.equal(
      await done.innerText(),
      'Penalized Basil 0.4 aiDollars. That was all Basil had (you asked for 1 aiDollar).',
    );
    assert.equal(await form.count(), 0);
    assert.equal((await village.admin.balance('basil')).balance, 0);
    assert.equal(await cardBalance().getAttribute('data-mills'), '11500', 'Ada’s card is not Basil’s');
    assert.deepEqual(errors, [], 'no script errors');
  });

  test('a guest who tries is asked to sign in first', async () => {
    await byTestId('sign-out').click();
    await byTestId('auth-open-sign-in').waitFor();
    await openThread(question);
    await page.locator('.thread-post [data-testid="judge-button"]').click();
    await byTestId('auth-form').filter({ hasText: 'Sign in to reward or penalize Ada.' }).waitFor();
    assert.equal(await byTestId('judge-form').count(), 0);
    assert.deepEqual(errors, [], 'no script errors');
  });
});
