import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { FlowsRuntime } from '../src/flows/flows-runtime.service.js';
import { launchChromium } from './support/chromium.js';
import {
  createTestEnvironment,
  signUpPerson,
  startTestApp,
  type TestApp,
  type TestEnvironment,
} from './support/test-app.js';

const ADMIN_EMAIL = 'editor-admin@village.test';
const ADMIN_PASSWORD = 'editor admin password';

/** The flow editor in real Chromium: an admin signs in and finds the village nodes; a person is refused. */
describe('the flow editor in real Chromium', () => {
  let environment: TestEnvironment;
  let village: TestApp;
  let browser: Browser;
  let dataDir: string;

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'village-editor-'));
    environment = await createTestEnvironment({
      VILLAGE_FLOWS: 'true',
      VILLAGE_FLOWS_CREDENTIAL_SECRET: 'editor-test-credential-secret-0123456789',
      VILLAGE_DATA_DIR: dataDir,
      VILLAGE_ADMIN_EMAIL: ADMIN_EMAIL,
      VILLAGE_ADMIN_PASSWORD: ADMIN_PASSWORD,
    });
    village = await startTestApp(environment);
    await village.app.get(FlowsRuntime).ready();
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await village?.close();
    await environment?.dispose();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  async function signIn(login: string, password: string) {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    await page.goto(`${village.url}/flows/`);
    await page.locator('#node-dialog-login-username').fill(login, { timeout: 30_000 });
    await page.locator('#node-dialog-login-password').fill(password);
    await page.locator('#node-dialog-login-submit').click();
    return page;
  }

  test('an admin signs in with the village account and finds the village nodes and the default flows', async () => {
    const page = await signIn(ADMIN_EMAIL, ADMIN_PASSWORD);
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.locator('#red-ui-palette-container-village').waitFor({ timeout: 30_000 });
    for (const type of [
      'village-reply-helpful',
      'village-reward',
      'village-world',
      'village-tier-policy',
      'village-clock',
    ]) {
      await page
        .locator(`#red-ui-palette-container-village .red-ui-palette-node[data-palette-type="${type}"]`)
        .waitFor();
    }
    // The default flows' tabs are open in the workspace.
    for (const label of ['Reward rules', 'Tier policy', 'Behaviours']) {
      await page.locator('#red-ui-workspace-tabs .red-ui-tab-label', { hasText: label }).first().waitFor();
    }
    // Installing modules from the editor is off: the palette manager is not in the menu.
    await page.locator('#red-ui-header-button-sidemenu').click();
    assert.equal(await page.locator('#menu-item-edit-palette').count(), 0);
    assert.deepEqual(errors, []);
    await page.close();
  });

  test('a person who is not an admin is refused at the sign-in, and the API answers them 401', async () => {
    const person = await signUpPerson(village.url, 'quill');
    const page = await signIn('quill@village.test', 'correct horse battery');
    await page.locator('#node-dialog-login-failed').waitFor({ state: 'visible', timeout: 10_000 });
    assert.equal(await page.locator('#red-ui-palette-container-village').count(), 0);
    const status = await page.evaluate(
      async ([url, token]) =>
        (await fetch(`${url}/flows/flows`, { headers: { authorization: `Bearer ${token}` } })).status,
      [village.url, person.session.accessToken] as const,
    );
    assert.equal(status, 401);
    await page.close();
  });
});
