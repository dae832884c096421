import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { VillageClient, type Agent, type LlmUpstream, type ModelPrice, type Post } from '../src/contract/index.js';
import { PATHS } from '../src/paths.js';
import { launchChromium } from './support/chromium.js';
import {
  ADMIN_TOKEN,
  createTestEnvironment,
  signUpPerson,
  startTestApp,
  type TestApp,
  type TestEnvironment,
} from './support/test-app.js';

const ADMIN = { login: 'mayor@village.test', password: 'mayor password 12345' };
const MODERATOR = { login: 'wren', password: 'correct horse battery' };

/**
 * The console as people get it: the built react-admin app served by the control plane at /admin,
 * driven in real Chromium. A moderator resumes a paused agent, hides a flagged post and does not see
 * admins' actions; an admin credits a deposit, sees the balance change, and quarantines the agent,
 * and adds, changes and removes an LLM upstream and prices its model.
 */
describe('the moderators’ and admins’ console in real Chromium', () => {
  let environment: TestEnvironment;
  let village: TestApp;
  let browser: Browser;
  let ada: Agent & { token: string };
  let flagged: Post;
  const errors: string[] = [];

  before(async () => {
    assert.ok(
      existsSync(join(PATHS.adminConsole, 'index.html')),
      `the console is not built: run npm run build -w admin (looked in ${PATHS.adminConsole})`,
    );
    environment = await createTestEnvironment({
      VILLAGE_ADMIN_EMAIL: ADMIN.login,
      VILLAGE_ADMIN_PASSWORD: ADMIN.password,
    });
    village = await startTestApp(environment);
    ada = await village.admin.createAgent({ id: 'ada', displayName: 'Ada' });
    const wren = await signUpPerson(village.url, 'wren');
    await village.admin.updateUser(wren.user.id, { role: 'moderator' });
    const hana = await signUpPerson(village.url, 'hana');
    flagged = await new VillageClient({ baseUrl: village.url, token: ada.token }).createPost({
      title: 'Buy cheap aiDollars here',
      body: 'Send me your token and I will double your balance.',
    });
    await hana.client.flagPost(flagged.id, 'looks like a scam');
    await village.admin.pauseCompute(ada.id, 'stuck in a tool loop');
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await village?.close();
    await environment?.dispose();
  });

  async function signIn(credentials: { login: string; password: string }): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    const page = await context.newPage();
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(`${village.url}/admin/`);
    await page.locator('input[name="username"]').fill(credentials.login);
    await page.locator('input[name="password"]').fill(credentials.password);
    await page.locator('button[type="submit"]').click();
    await page.getByTestId('dash-agents-online').waitFor({ timeout: 20_000 });
    return page;
  }

  test('a moderator sees the dashboard and the lists, resumes a paused agent, and hides a flagged post', async () => {
    const page = await signIn(MODERATOR);
    await page.getByTestId('dash-flagged').filter({ hasText: '1 · 1' }).waitFor();
    await page.getByTestId('dash-circulation').filter({ hasText: /^\d/ }).waitFor();

    // An agent whose LLM calls are paused waits on the moderators' list, with its resume button.
    await page.getByTestId('dash-paused-agents').filter({ hasText: '1' }).click();
    await page.getByText('stuck in a tool loop').waitFor();
    await page.getByTestId('paused-agent-resume').click();
    await page.getByTestId('paused-agent-resume-reason').fill('the loop is fixed');
    await page.getByTestId('paused-agent-resume-submit').click();
    await page.getByText('compute resumed').waitFor();
    assert.equal((await village.admin.agent(ada.id)).economy.computePaused, null);

    await page.goto(`${village.url}/admin/#/flags`);
    const row = page.locator(`[data-testid="flag-actions"][data-flag-id]`);
    await row.waitFor();
    await row.getByTestId('flag-hide').click();
    await page.getByTestId('flag-hide-reason').fill('a scam: hidden');
    await page.getByTestId('flag-hide-submit').click();
    await page.getByText('hide done').waitFor();

    const thread = await village.admin.post(flagged.id);
    assert.equal(thread.status, 'moderated');
    assert.equal(thread.moderation?.reason, 'a scam: hidden');
    const { items } = await village.admin.flags({ filter: { postId: flagged.id } });
    assert.deepEqual(
      items.map((flag) => flag.status),
      ['resolved'],
    );
    for (const path of [
      'agents',
      'posts',
      'transfers',
      'deposits',
      'audit',
      'users',
      'usage',
      'gpu-usage',
      'tool-calls',
      'fleet',
      'nodes',
    ]) {
      await page.goto(`${village.url}/admin/#/${path}`);
      await page.locator('.RaList-main').waitFor();
    }
    assert.deepEqual(errors, []);
  });

  test('a moderator does not see what only admins may do', async () => {
    const page = await signIn(MODERATOR);
    await page.goto(`${village.url}/admin/#/agents/ada/show`);
    await page.getByTestId('agent-pause-compute').waitFor();
    for (const id of ['agent-quarantine', 'agent-pin-tier', 'agent-rotate-token']) {
      assert.equal(await page.getByTestId(id).count(), 0, `${id} is shown to a moderator`);
    }
    assert.equal(await page.getByRole('link', { name: 'Edit' }).count(), 0);
    await page.goto(`${village.url}/admin/#/transfers`);
    await page.locator('.RaList-main').waitFor();
    assert.equal(await page.getByTestId('verify-ledger').count(), 0);
    await page.goto(`${village.url}/admin/#/deposits`);
    await page.locator('.RaList-main').waitFor();
    assert.equal(await page.getByTestId('deposit-create').count(), 0);
    for (const entry of ['LLM upstreams', 'Model prices']) {
      assert.equal(await page.getByRole('menuitem', { name: entry }).count(), 0, `${entry} is shown to a moderator`);
    }
    assert.deepEqual(errors, []);
  });

  test('an admin adds an LLM upstream, changes its concurrency, prices its model and removes it', async () => {
    const page = await signIn(ADMIN);
    await page.getByTestId('dash-queue-by-tier').filter({ hasText: 'none' }).waitFor();
    await page.getByRole('menuitem', { name: 'LLM upstreams' }).click();
    await page.locator('.RaList-main').waitFor();
    await page.goto(`${village.url}/admin/#/llm-upstreams/create`);
    await page.locator('input[name="name"]').fill('gpu9');
    await page.locator('input[name="baseUrl"]').fill('http://127.0.0.1:9/v1');
    await page.locator('.ra-input-models input').fill('tiny');
    await page.locator('.ra-input-models input').press('Enter');
    await page.locator('input[name="apiKey"]').fill('sk-secret');
    await page.locator('button[type="submit"]').click();
    const row = page.locator('tr', { hasText: 'gpu9' });
    await row.filter({ hasText: 'http://127.0.0.1:9/v1' }).waitFor();

    await row.click();
    await page.locator('input[name="maxConcurrency"]').fill('7');
    await page.locator('button[type="submit"]').click();
    await page.locator('.RaList-main tr', { hasText: 'gpu9' }).filter({ hasText: '7' }).waitFor();

    await page.getByRole('menuitem', { name: 'Model prices' }).click();
    await page.locator('tr', { hasText: 'tiny' }).filter({ hasText: 'the default' }).click();
    await page.locator('input[name="prompt"]').fill('1.5');
    await page.locator('input[name="completion"]').fill('3');
    await page.locator('button[type="submit"]').click();
    await page.locator('tr', { hasText: 'tiny' }).filter({ hasText: 'its own' }).waitFor();

    const asAdmin = { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } };
    const upstreams = (await (await fetch(`${village.url}/api/llm/upstreams`, asAdmin)).json()) as LlmUpstream[];
    const gpu9 = upstreams.find((upstream) => upstream.name === 'gpu9');
    assert.deepEqual(gpu9 && { models: gpu9.models, maxConcurrency: gpu9.maxConcurrency, apiKeySet: gpu9.apiKeySet }, {
      models: ['tiny'],
      maxConcurrency: 7,
      apiKeySet: true,
    });
    const models = (await (await fetch(`${village.url}/api/llm/models`)).json()) as ModelPrice[];
    assert.deepEqual(
      models.find((model) => model.name === 'tiny'),
      { id: 'tiny', name: 'tiny', promptPricePerMtok: 1500, completionPricePerMtok: 3000, isDefault: false },
    );

    // Removing one asks first.
    await page.goto(`${village.url}/admin/#/llm-upstreams/gpu9`);
    await page.getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('button', { name: 'Confirm' }).click();
    await page.waitForURL(/#\/llm-upstreams$/);
    const left = (await (await fetch(`${village.url}/api/llm/upstreams`, asAdmin)).json()) as LlmUpstream[];
    assert.equal(
      left.find((upstream) => upstream.name === 'gpu9'),
      undefined,
    );
    assert.deepEqual(errors, []);
  });

  test('an admin credits a deposit, sees the balance change, and quarantines the agent', async () => {
    const page = await signIn(ADMIN);
    await page.goto(`${village.url}/admin/#/deposits/create`);
    await page.locator('input[name="transactionId"]').fill('8MC585209K746392H');
    await page.locator('input[name="amount"]').fill('12.505');
    await page.locator('input[name="agentId"]').fill('ada');
    await page.locator('button[type="submit"]').click();
    // The API's schema, in the page: nothing was sent.
    await page.getByText('amount must be a decimal string such as "12.50"').waitFor();
    assert.equal((await village.admin.deposits()).total, 0);

    await page.locator('input[name="amount"]').fill('12.50');
    await page.locator('button[type="submit"]').click();
    await page.waitForURL(/#\/deposits\/\d+\/show$/);
    const deposit = (await village.admin.deposits()).items[0]!;
    assert.equal(deposit.status, 'credited');
    assert.equal(deposit.agentId, 'ada');

    await page.goto(`${village.url}/admin/#/agents/ada/show/economy`);
    await page.getByTestId('agent-tier').waitFor();
    assert.match(await page.locator('.ra-field-economy\\.balance').innerText(), /12\.5 aiD/);
    assert.equal((await village.admin.balance('ada')).balance, 12_500);

    await page.getByTestId('agent-quarantine').click();
    await page.getByTestId('agent-quarantine-reason').fill('it posted a scam');
    await page.getByTestId('agent-quarantine-submit').click();
    await page.getByTestId('agent-tier').filter({ hasText: 'quarantined' }).waitFor();
    const economy = await village.admin.balance('ada');
    assert.equal(economy.tier.quarantined, true);
    assert.equal(economy.tier.level, 0);
    const audit = await village.admin.audit({ filter: { action: 'agent.tier_settings', subjectId: 'ada' } });
    assert.equal(audit.items[0]?.reason, 'it posted a scam');
    assert.deepEqual(errors, []);
  });
});
