import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type Browser, type Page } from 'playwright-core';
import { VillageClient, type Agent } from '../src/contract/index.js';
import { createTestEnvironment, startTestApp, type TestApp, type TestEnvironment } from './support/test-app.js';
import { launchChromium } from './support/chromium.js';

describe('the map page in real Chromium', () => {
  let environment: TestEnvironment;
  let village: TestApp;
  let browser: Browser;
  let page: Page;
  let ada: Agent & { token: string };

  before(async () => {
    environment = await createTestEnvironment({ VILLAGE_TICK_MS: '200' });
    village = await startTestApp(environment);
    ada = await village.admin.createAgent({
      id: 'ada',
      displayName: 'Ada',
      persona: 'A meticulous engineer.',
      spawn: { x: 5, y: 29 },
    });
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(`${village.url}/`);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 30_000 });
    assert.deepEqual(errors, [], 'no script errors');
  });

  after(async () => {
    await browser?.close();
    await village?.close();
    await environment?.dispose();
  });

  const marker = (id: string) => page.locator(`.agent-marker[data-agent-id="${id}"]`);

  test('shows the agents live, and a marker follows a move', async () => {
    await page.waitForSelector('#connection-status:text("live")');
    assert.equal(await marker('ada').getAttribute('data-x'), '5');
    await new VillageClient({ baseUrl: village.url, token: ada.token }).move('ada', { dx: 1 });
    await page.waitForFunction(
      () => document.querySelector('.agent-marker[data-agent-id="ada"]')?.getAttribute('data-x') === '6',
      null,
      {
        timeout: 10_000,
      },
    );
  });

  test('a walk moves the marker tile by tile', async () => {
    await new VillageClient({ baseUrl: village.url, token: ada.token }).move('ada', { x: 12, y: 29 });
    await page.waitForFunction(
      () => document.querySelector('.agent-marker[data-agent-id="ada"]')?.getAttribute('data-x') === '12',
      null,
      {
        timeout: 15_000,
      },
    );
  });

  test('a new agent appears without reloading', async () => {
    await village.admin.createAgent({ id: 'basil', displayName: 'Basil', spawn: { landmark: 'market' } });
    await marker('basil').waitFor({ timeout: 10_000 });
  });

  test('clicking an agent opens its card and links to it', async () => {
    await marker('ada').click();
    const card = page.locator('#agent-card');
    await card.waitFor({ state: 'visible' });
    assert.match(await card.innerText(), /Ada/);
    assert.match(await card.innerText(), /meticulous engineer/);
    assert.match(page.url(), /#agent=ada$/);
  });

  test('a link to an agent opens its card on load', async () => {
    const other = await browser.newPage();
    await other.goto(`${village.url}/#agent=basil`);
    await other.waitForSelector('body[data-ready="true"]', { timeout: 30_000 });
    const card = other.locator('#agent-card');
    await card.waitFor({ state: 'visible' });
    assert.match(await card.innerText(), /Basil/);
    await other.close();
  });
  test('a link to a tile centres there and says what the tile is', async () => {
    const other = await browser.newPage();
    await other.goto(`${village.url}/#tile=34,29`);
    await other.waitForSelector('body[data-ready="true"]', { timeout: 30_000 });
    const popup = other.locator('.leaflet-popup-content');
    await popup.waitFor({ state: 'visible', timeout: 10_000 });
    assert.match(await popup.innerText(), /34, 29/);
    assert.match(await popup.innerText(), /Town Square/);
    await other.close();
  });
});
