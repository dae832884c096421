import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type Browser, type BrowserContext, type Page } from 'playwright-core';
import { VillageClient, type Agent, type Post } from '../src/contract/index.js';
import {
  createTestEnvironment,
  eventually,
  startTestApp,
  type TestApp,
  type TestEnvironment,
} from './support/test-app.js';
import { launchChromium } from './support/chromium.js';

const HANDLE = 'wren';
const PASSWORD = 'correct horse battery';

/** The town board beside the map, in real Chromium: a person signs up, reads, replies and flags; an agent answers. */
describe('the board page in real Chromium', () => {
  let environment: TestEnvironment;
  let village: TestApp;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let ada: Agent & { token: string };
  let asAda: VillageClient;
  let question: Post;
  const errors: string[] = [];
  const dialogs: string[] = [];

  before(async () => {
    environment = await createTestEnvironment({ VILLAGE_TICK_MS: '500' });
    village = await startTestApp(environment);
    ada = await village.admin.createAgent({ id: 'ada', displayName: 'Ada', spawn: { landmark: 'town-board' } });
    asAda = new VillageClient({ baseUrl: village.url, token: ada.token });
    browser = await launchChromium();
    // One context for all pages, so a second tab shares the first one's refresh cookie.
    context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    page = await context.newPage();
    page.on('pageerror', (error) => errors.push(error.message));
    page.on('dialog', (dialog) => {
      dialogs.push(dialog.message());
      void dialog.dismiss();
    });
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

  test('an agent’s new post rises as a speech bubble over the town board, and opens its thread', async () => {
    question = await asAda.createPost({
      title: 'Who can help me mend the well rope?',
      body: 'The rope at the **old well** is fraying. Any hands welcome.',
      tags: ['help'],
    });
    const bubble = page.locator(`[data-testid="board-bubble"][data-post-id="${question.id}"]`);
    await bubble.waitFor({ state: 'visible', timeout: 10_000 });
    assert.match(await bubble.innerText(), /Ada/);
    assert.match(await bubble.innerText(), /mend the well rope/);

    // Over the board's own label: just above it, centred on it (once it has risen into place).
    await bubble.evaluate((element) => Promise.all(element.getAnimations().map((animation) => animation.finished)));
    const label = await byTestId('board-landmark').boundingBox();
    const box = await bubble.boundingBox();
    assert.ok(label && box, 'the board label and the bubble are on screen');
    assert.ok(box.y + box.height <= label.y + 2, `the bubble (${JSON.stringify(box)}) sits above the label`);
    assert.ok(label.y - (box.y + box.height) < 40, 'and close to it');
    assert.ok(Math.abs(box.x + box.width / 2 - (label.x + label.width / 2)) < 4, 'centred on it');

    // The live feed says so too; the bubble opens the thread (and the URL names it).
    assert.match(await page.locator('#live-feed').innerText(), /pinned “Who can help me mend the well rope\?”/);
    await bubble.click();
    await byTestId('thread-title').filter({ hasText: 'mend the well rope' }).waitFor();
    assert.match(await byTestId('thread-body').innerHTML(), /<strong>old well<\/strong>/);
    assert.match(page.url(), new RegExp(`#post=${question.id}$`));
    await byTestId('reply-sign-in').waitFor();
    await byTestId('thread-back').click();
    await postItem(question.id).waitFor();
    assert.doesNotMatch(page.url(), /post=/);
  });

  test('the town board landmark opens the board; a wrong password is refused with the server’s message', async () => {
    await byTestId('tab-village').click();
    await byTestId('board').waitFor({ state: 'hidden' });
    await byTestId('board-landmark').click();
    await byTestId('board').waitFor({ state: 'visible' });
    assert.doesNotMatch(page.url(), /tile=/, 'a click on the board is not a tile pick');
    await postItem(question.id).waitFor();
    assert.match(await postItem(question.id).innerText(), /Ada/);
    assert.match(await postItem(question.id).innerText(), /#help/);

    await byTestId('auth-open-sign-in').click();
    await byTestId('auth-login').fill('nobody-here');
    await byTestId('auth-password').fill('not the password');
    await byTestId('auth-submit').click();
    const error = byTestId('auth-error');
    await error.waitFor({ state: 'visible' });
    assert.ok((await error.innerText()).length > 0, 'the refusal is shown');
  });

  test('a person signs up through the page, and a reload keeps them signed in', async () => {
    await page.locator('.auth-switch button').click();
    await byTestId('auth-handle').fill(HANDLE);
    await byTestId('auth-display-name').fill('Wren');
    await byTestId('auth-email').fill('wren@village.test');
    await byTestId('auth-password').fill(PASSWORD);
    await byTestId('auth-submit').click();
    await byTestId('auth-user')
      .filter({ hasText: `@${HANDLE}` })
      .waitFor();
    assert.equal(await byTestId('auth-form').isVisible(), false);

    await page.reload();
    await page.waitForSelector('body[data-ready="true"]', { timeout: 30_000 });
    await byTestId('tab-board').click();
    await byTestId('auth-user')
      .filter({ hasText: `@${HANDLE}` })
      .waitFor({ timeout: 10_000 });
    await page.waitForSelector('#connection-status:text("live")');
  });

  test('the person replies from the page; the agent finds it in its mail exactly once and answers live', async () => {
    await postItem(question.id).click();
    await byTestId('thread-title').filter({ hasText: 'mend the well rope' }).waitFor();
    // No reloads from here on: the agent's answer must arrive on this very page.
    await page.evaluate(() => ((window as unknown as { sameDocument: boolean }).sameDocument = true));

    const text = 'I can bring a new rope tomorrow morning.';
    await byTestId('reply-input').fill(text);
    await byTestId('reply-submit').click();
    await byTestId('reply').filter({ hasText: text }).waitFor();
    assert.equal(await byTestId('reply-input').inputValue(), '', 'the form is cleared');

    const mail = await eventually(async () => {
      const items = (await asAda.mail('ada')).items.filter((item) => item.reply?.body === text);
      return items.length > 0 ? items : undefined;
    }, 'the reply in Ada’s mail');
    assert.equal(mail.length, 1, 'the reply is in the mail exactly once');
    assert.equal(mail[0]!.reply!.author.name, 'Wren');
    assert.equal(mail[0]!.post.id, question.id);

    const answer = await asAda.reply(question.id, { body: `@${HANDLE} thank you, that would be wonderful!` });
    const shown = page.locator(`[data-testid="reply"][data-reply-id="${answer.id}"]`);
    await shown.waitFor({ timeout: 10_000 });
    assert.match(await shown.innerText(), /that would be wonderful/);
    assert.match(await shown.innerText(), /Ada/);
    assert.equal(await byTestId('reply').count(), 2, 'each reply once');
    assert.ok(
      await page.evaluate(() => (window as unknown as { sameDocument?: boolean }).sameDocument),
      'without a reload',
    );
    assert.ok(await shown.evaluate((item) => item.classList.contains('reply-mentions-me')), 'the mention is marked');
  });

  test('a reply count in the list follows live replies', async () => {
    await byTestId('thread-back').click();
    const count = postItem(question.id).locator('[data-testid="post-reply-count"]');
    await eventually(async () => (await count.innerText()).includes('2'), 'two replies counted');
    await asAda.reply(question.id, { body: 'Bring gloves, the old rope is rough.' });
    await eventually(async () => (await count.innerText()).includes('3'), 'the live reply counted', 10_000);
  });

  test('a person flags a post with a reason, from an inline form', async () => {
    await postItem(question.id).click();
    await byTestId('thread-title').filter({ hasText: 'mend the well rope' }).waitFor();
    await page.locator('.thread-post [data-testid="flag-button"]').click();
    await byTestId('flag-reason').fill('Testing the flag button, sorry Ada');
    await byTestId('flag-submit').click();
    await byTestId('flag-done').waitFor();
    const flags = await village.admin.flags({ filter: { postId: question.id } });
    assert.ok(
      flags.items.some(
        (flag) => flag.reason === 'Testing the flag button, sorry Ada' && flag.flaggedBy.name === 'Wren',
      ),
      'the flag reached the queue',
    );
  });

  test('a <script> in a post is shown as text and never runs', async () => {
    const trap = await asAda.createPost({
      title: 'Recipe <script>window.pwned = "title"</script>',
      body: [
        'Try this: <script>window.pwned = "body"; alert("pwned")</script>',
        '',
        '<img src="x" onerror="window.pwned = \'img\'">',
        '',
        '[a link](javascript:window.pwned=1)',
      ].join('\n'),
    });
    await byTestId('thread-back').click();
    await postItem(trap.id).waitFor({ timeout: 10_000 });
    await postItem(trap.id).click();
    const body = byTestId('thread-body');
    await byTestId('thread-title').filter({ hasText: 'Recipe' }).waitFor();
    assert.match(await byTestId('thread-title').innerText(), /<script>window\.pwned = "title"<\/script>/);
    assert.match(await body.innerText(), /<script>window\.pwned = "body"; alert\("pwned"\)<\/script>/);
    assert.equal(await body.locator('script, img[onerror], a[href^="javascript:"]').count(), 0);
    assert.equal(await page.locator('[data-testid="board"] script').count(), 0);
    await page.waitForTimeout(300);
    assert.equal(await page.evaluate(() => (window as unknown as { pwned?: unknown }).pwned), undefined);
    assert.deepEqual(dialogs, [], 'no dialog opened');
  });

  test('a post a moderator hides leaves the list and the open thread, live', async () => {
    const spam = await asAda.createPost({ title: 'Cheap aiDollars, click here', tags: ['offer'] });
    await byTestId('thread-back').click();
    await postItem(spam.id).waitFor({ timeout: 10_000 });
    await postItem(spam.id).click();
    await byTestId('thread-title').filter({ hasText: 'Cheap aiDollars' }).waitFor();
    await byTestId('reply-input').fill('Is this real?');

    await village.admin.moderatePost(spam.id, { action: 'hide', reason: 'spam' });
    await byTestId('thread-notice').filter({ hasText: 'A moderator hid this post' }).waitFor({ timeout: 10_000 });
    assert.equal(await byTestId('thread-body').count(), 0, 'its text is gone from the page');
    assert.equal(await byTestId('reply-form').count(), 0, 'and so is the reply form');
    await byTestId('thread-back').click();
    await postItem(question.id).waitFor();
    assert.equal(await postItem(spam.id).count(), 0, 'gone from the list');
  });

  test('a link to a post opens its thread, on a phone-sized screen too', async () => {
    // A second tab: signed in through the refresh cookie it shares with the first.
    const phone = await context.newPage();
    await phone.setViewportSize({ width: 390, height: 844 });
    phone.on('pageerror', (error) => errors.push(error.message));
    await phone.goto(`${village.url}/#post=${question.id}`);
    await phone.waitForSelector('body[data-ready="true"]', { timeout: 30_000 });
    const title = phone.locator('[data-testid="thread-title"]', { hasText: 'mend the well rope' });
    await title.waitFor({ timeout: 10_000 });
    assert.ok(await title.isVisible(), 'the board sheet is open on the thread');
    await phone.locator('[data-testid="auth-user"]', { hasText: `@${HANDLE}` }).waitFor();
    const box = await phone.locator('[data-testid="board"]').boundingBox();
    assert.ok(box && box.width <= 390, 'the board fits the screen');

    await phone.locator('[data-testid="thread-back"]').click();
    await phone.locator(`[data-testid="post-item"][data-post-id="${question.id}"]`).waitFor();
    await phone.locator('[data-testid="board-toggle"]').click();
    await phone.locator('[data-testid="board"]').waitFor({ state: 'hidden' });
    await phone.close();
    assert.deepEqual(errors, [], 'no script errors');
  });
});
