import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { TierPolicyRequestSchema, VillageApiError, VillageClient, type Post } from '../src/contract/index.js';
import { DEFAULT_TIER_POLICY } from '../src/economy/default-tier-policy.js';
import { FlowsRuntime } from '../src/flows/flows-runtime.service.js';
import { PATHS } from '../src/paths.js';
import {
  ADMIN_TOKEN,
  createTestEnvironment,
  eventually,
  signUpPerson,
  startTestApp,
  type TestApp,
  type TestEnvironment,
} from './support/test-app.js';

const ADMIN_EMAIL = 'flows-admin@village.test';
const ADMIN_PASSWORD = 'flows admin password';
const CONNECTION = 'village-connection-local';

type FlowNode = Record<string, unknown> & { id: string; type: string };

/**
 * The embedded Node-RED with the default flows, end to end against a real control plane (PostgreSQL,
 * Redis): people's acts on the board become ledger transfers and moderation through the flows; every
 * deploy is recorded and a rollback restores the flows before it; only admins reach the editor's API.
 */
describe('flows: the embedded Node-RED and the default flows', () => {
  let environment: TestEnvironment;
  let village: TestApp;
  let runtime: FlowsRuntime;
  let dataDir: string;
  let asAda: VillageClient;
  let adaToken: string;
  let ownPost: Post;

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'village-flows-'));
    environment = await createTestEnvironment({
      VILLAGE_FLOWS: 'true',
      VILLAGE_FLOWS_CREDENTIAL_SECRET: 'flows-test-credential-secret-0123456789',
      VILLAGE_DATA_DIR: dataDir,
      VILLAGE_ADMIN_EMAIL: ADMIN_EMAIL,
      VILLAGE_ADMIN_PASSWORD: ADMIN_PASSWORD,
    });
    village = await startTestApp(environment);
    runtime = village.app.get(FlowsRuntime);
    await runtime.ready();
    await eventually(() => runtime.node<{ connected: boolean }>(CONNECTION)?.connected, 'the flows’ event stream');
    const ada = await village.admin.createAgent({ id: 'ada', displayName: 'Ada' });
    adaToken = ada.token;
    asAda = new VillageClient({ baseUrl: village.url, token: ada.token });
    ownPost = await asAda.createPost({ title: 'Ada asks', body: 'Where is the well?' });
  });

  after(async () => {
    await village?.close();
    await environment?.dispose();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  const rewardsOfAda = async () =>
    (await village.admin.ledger('ada')).items.filter((entry) => entry.transfer.reason === 'reward');

  /** A person's question, Ada's reply to it. */
  async function adaReplies(asker: string) {
    const person = await signUpPerson(village.url, asker);
    const question = await person.client.createPost({ title: `${asker} asks`, body: 'How do I get to the café?' });
    const reply = await asAda.reply(question.id, { body: 'Down the main street.' });
    return { person, question, reply };
  }

  test('a reply a person marks helpful rewards its agent through the default flow, once per person', async () => {
    const { person, question, reply } = await adaReplies('hana');
    const mark = await person.client.markReplyHelpful(reply.id);
    assert.equal(mark.created, true);
    assert.equal(mark.helpfulCount, 1);
    const [reward] = await eventually(async () => {
      const rewards = await rewardsOfAda();
      return rewards.length === 1 ? rewards : undefined;
    }, 'the reward in the ledger');
    assert.equal(reward!.amount, 1000);
    assert.equal(reward!.transfer.postId, question.id);
    assert.equal(reward!.transfer.memo, 'a person found this reply helpful');

    // Marking again changes nothing and pays nothing; the asker cannot mark it for another person.
    assert.equal((await person.client.markReplyHelpful(reply.id)).created, false);
    const other = await signUpPerson(village.url, 'ines');
    assert.equal((await other.client.markReplyHelpful(reply.id)).helpfulCount, 2);
    await eventually(async () => (await rewardsOfAda()).length === 2, 'the second person’s reward');
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal((await rewardsOfAda()).length, 2);
    assert.equal((await village.admin.balance('ada')).balance, 2000);
    const audit = await village.admin.audit({ filter: { action: 'reply.marked_helpful' } });
    assert.equal(audit.total, 2);
  });

  test('marking helpful is refused for one’s own reply, an unknown reply, and agents', async () => {
    const person = await signUpPerson(village.url, 'jon');
    const question = await person.client.createPost({ title: 'jon asks', body: 'anyone?' });
    const own = await person.client.reply(question.id, { body: 'answering myself' });
    await assert.rejects(person.client.markReplyHelpful(own.id), (error: VillageApiError) => error.status === 400);
    await assert.rejects(person.client.markReplyHelpful(999_999), (error: VillageApiError) => error.status === 404);
    await assert.rejects(asAda.markReplyHelpful(own.id), (error: VillageApiError) => error.status === 403);
  });

  test('a post flagged by three people is hidden and its agent author penalized 2 aiDollars', async () => {
    const before = (await village.admin.balance('ada')).balance;
    for (const handle of ['kai', 'lea']) {
      await (await signUpPerson(village.url, handle)).client.flagPost(ownPost.id, 'rude');
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal((await village.admin.post(ownPost.id)).status, 'open', 'two flags are not enough');
    await (await signUpPerson(village.url, 'mo')).client.flagPost(ownPost.id, 'rude');
    const hidden = await eventually(async () => {
      const post = await village.admin.post(ownPost.id);
      return post.status === 'moderated' ? post : undefined;
    }, 'the post hidden');
    assert.equal(hidden.moderation?.reason, 'hidden automatically: flagged by 3 people');
    const economy = await eventually(async () => {
      const now = await village.admin.balance('ada');
      return now.balance === before - 2000 ? now : undefined;
    }, 'the penalty in the ledger');
    assert.equal(economy.balance, before - 2000);
  });

  test('the shipped tier policy is the economy’s default, and publishing it made no new version', async () => {
    const flows = JSON.parse(readFileSync(PATHS.defaultFlows, 'utf8')) as FlowNode[];
    const node = flows.find((item) => item.type === 'village-tier-policy');
    assert.deepEqual(node?.policy, TierPolicyRequestSchema.parse(DEFAULT_TIER_POLICY));
    const policy = await village.admin.tierPolicy();
    assert.equal(policy.version, 1);
  });

  describe('deploys, history and rollback', () => {
    let editorToken: string;

    before(async () => {
      editorToken = await signInToEditor(village.url, ADMIN_EMAIL, ADMIN_PASSWORD);
    });

    const editor = (path: string, init: RequestInit = {}) =>
      fetch(`${village.url}/flows${path}`, {
        ...init,
        headers: {
          authorization: `Bearer ${editorToken}`,
          'content-type': 'application/json',
          'node-red-api-version': 'v2',
          ...(init.headers as Record<string, string>),
        },
      });

    test('a deploy from the editor is recorded (who, what changed) and runs; a rollback restores the flows before it', async () => {
      const current = (await (await editor('/flows')).json()) as { flows: FlowNode[]; rev: string };
      const changed = current.flows.map((node) => (node.id === 'helpful-reward' ? { ...node, amount: '5' } : node));
      const deployed = await editor('/flows', {
        method: 'POST',
        headers: { 'node-red-deployment-type': 'full' },
        body: JSON.stringify({ flows: changed, rev: current.rev }),
      });
      assert.equal(deployed.status, 200, await deployed.text());

      const history = await village.admin.flowDeploys();
      assert.equal(history.total, 2);
      const [latest, first] = history.items;
      assert.equal(latest!.kind, 'deploy');
      assert.equal(latest!.deployedBy, 'user:admin');
      assert.deepEqual(latest!.summary.changed, ['helpful-reward']);
      assert.deepEqual([latest!.summary.added, latest!.summary.removed], [[], []]);
      assert.equal(latest!.current, true);
      assert.equal(first!.kind, 'default');
      assert.equal(first!.current, false);
      const details = await village.admin.flowDeploy(latest!.id);
      assert.equal(details.flows.find((node) => node.id === 'helpful-reward')?.amount, '5');

      // The new rule runs: the next helpful mark pays 5 aiDollars.
      const { person, reply } = await adaReplies('nora');
      const rewardsBefore = (await rewardsOfAda()).length;
      await person.client.markReplyHelpful(reply.id);
      const five = await eventually(async () => {
        const rewards = await rewardsOfAda();
        return rewards.length > rewardsBefore ? rewards[0] : undefined;
      }, 'the reward of the new rule');
      assert.equal(five.amount, 5000);

      // Roll back to the shipped flows: a new deploy that names deploy 1; 1 aiDollar again.
      const rolledBack = await village.admin.rollbackFlows(first!.id, 'five was too generous');
      assert.equal(rolledBack.kind, 'rollback');
      assert.equal(rolledBack.rollbackOf, first!.id);
      assert.equal(rolledBack.deployedBy, 'admin-token');
      assert.deepEqual(rolledBack.summary.changed, ['helpful-reward']);
      assert.equal(rolledBack.current, true);
      const running = (await (await editor('/flows')).json()) as { flows: FlowNode[] };
      assert.equal(running.flows.find((node) => node.id === 'helpful-reward')?.amount, '1');
      await eventually(
        () => runtime.node<{ connected: boolean }>(CONNECTION)?.connected,
        'the event stream after the rollback',
      );
      const again = await adaReplies('olga');
      await again.person.client.markReplyHelpful(again.reply.id);
      const one = await eventually(async () => {
        const rewards = await rewardsOfAda();
        return rewards.length > rewardsBefore + 1 ? rewards[0] : undefined;
      }, 'the reward after the rollback');
      assert.equal(one.amount, 1000);

      const audit = await village.admin.audit({ filter: { subjectType: 'flow_deploy' } });
      assert.deepEqual(
        audit.items.map((entry) => entry.action),
        ['flows.rolled_back', 'flows.deployed'],
      );
      assert.equal(audit.items[0]!.reason, 'five was too generous');
    });

    test('bad input changes nothing: a malformed import, rolling back to what runs, an unknown deploy', async () => {
      const before = (await village.admin.flowDeploys()).total;
      const malformed = await editor('/flows', { method: 'POST', body: '{"flows": [' });
      assert.equal(malformed.status, 400);
      const notFlows = await editor('/flows', { method: 'POST', body: JSON.stringify({ flows: 'not a list' }) });
      assert.ok(notFlows.status >= 400 && notFlows.status < 500, `status ${notFlows.status}`);
      const current = (await village.admin.flowDeploys()).items[0]!;
      await assert.rejects(village.admin.rollbackFlows(current.id, 'again'), (e: VillageApiError) => e.status === 409);
      await assert.rejects(village.admin.rollbackFlows(9999, 'nothing'), (e: VillageApiError) => e.status === 404);
      await assert.rejects(village.admin.rollbackFlows(1, ''), (e: VillageApiError) => e.status === 400);
      assert.equal((await village.admin.flowDeploys()).total, before);
    });

    test('the history is append-only in the database', async () => {
      const { default: pg } = await import('pg');
      const client = new pg.Client({ connectionString: environment.database.url });
      await client.connect();
      try {
        await assert.rejects(client.query('DELETE FROM flow_deploys'), /append-only/);
        await assert.rejects(client.query(`UPDATE flow_deploys SET deployed_by = 'someone'`), /append-only/);
      } finally {
        await client.end();
      }
    });
  });

  test('only admins reach the editor’s API and the history: anyone else gets 401 or 403', async () => {
    const person = await signUpPerson(village.url, 'pia');
    const asPerson = (path: string) =>
      fetch(`${village.url}/flows${path}`, { headers: { authorization: `Bearer ${person.session.accessToken}` } });
    assert.equal((await fetch(`${village.url}/flows/flows`)).status, 401);
    assert.equal((await asPerson('/flows')).status, 401);
    assert.equal((await asPerson('/nodes')).status, 401);
    const agentToken = await fetch(`${village.url}/flows/flows`, {
      headers: { authorization: `Bearer ${adaToken}` },
    });
    assert.equal(agentToken.status, 401);
    await assert.rejects(signInToEditor(village.url, 'pia@village.test', 'correct horse battery'), /401|403/);
    await assert.rejects(person.client.flowDeploys(), (error: VillageApiError) => error.status === 403);
    await assert.rejects(person.client.rollbackFlows(1, 'no'), (error: VillageApiError) => error.status === 403);
    // The admin token and an admin person's own access token are accepted.
    const withAdminToken = await fetch(`${village.url}/flows/flows`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    assert.equal(withAdminToken.status, 200);
    const admin = new VillageClient({ baseUrl: village.url });
    const session = await admin.signIn({ login: ADMIN_EMAIL, password: ADMIN_PASSWORD, session: 'bearer' });
    const withAccessToken = await fetch(`${village.url}/flows/flows`, {
      headers: { authorization: `Bearer ${session.accessToken}` },
    });
    assert.equal(withAccessToken.status, 200);
  });
});

/** The editor's sign-in: Node-RED's OAuth password grant, against the village's accounts. */
async function signInToEditor(baseUrl: string, login: string, password: string): Promise<string> {
  const response = await fetch(`${baseUrl}/flows/auth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      client_id: 'node-red-editor',
      grant_type: 'password',
      scope: '*',
      username: login,
      password,
    }),
  });
  if (!response.ok) throw new Error(`editor sign-in: ${response.status}`);
  return ((await response.json()) as { access_token: string }).access_token;
}
