import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { parseContentRange, VillageClient, type Agent } from '../src/contract/index.js';
import {
  ADMIN_TOKEN,
  createTestEnvironment,
  signUpPerson,
  startTestApp,
  type TestApp,
  type TestEnvironment,
} from './support/test-app.js';

/**
 * The console's resources follow ra-data-simple-rest exactly: `sort`, `range` and `filter` in,
 * `Content-Range` out, `filter={"id":[...]}` as getMany, `GET /:id` as getOne, PUT answering the
 * record; and the console's own endpoints (summary, spend, verifications, tier preview) answer
 * moderators while admins' writes refuse them with 403.
 */
describe('the console API: ra-data-simple-rest conventions and roles', () => {
  let environment: TestEnvironment;
  let village: TestApp;
  let moderator: VillageClient;
  let moderatorToken: string;
  const agents: (Agent & { token: string })[] = [];

  before(async () => {
    environment = await createTestEnvironment();
    village = await startTestApp(environment);
    for (const name of ['Ada', 'Basil', 'Clara']) agents.push(await village.admin.createAgent({ displayName: name }));
    const wren = await signUpPerson(village.url, 'wren');
    await village.admin.updateUser(wren.user.id, { role: 'moderator' });
    const signedIn = await new VillageClient({ baseUrl: village.url }).signIn({
      login: 'wren',
      password: 'correct horse battery',
      session: 'bearer',
    });
    moderatorToken = signedIn.accessToken;
    moderator = new VillageClient({ baseUrl: village.url, token: moderatorToken });
    const hana = await signUpPerson(village.url, 'hana');
    for (const [index, agent] of agents.entries()) {
      await village.admin.createTransfer({
        debitAccount: 'treasury',
        creditAccount: `agent:${agent.id}`,
        amount: (index + 1) * 1000,
        reason: 'grant',
      });
      const post = await new VillageClient({ baseUrl: village.url, token: agent.token }).createPost({
        title: `From ${agent.id}`,
      });
      await hana.client.flagPost(post.id, 'checking the queue');
    }
  });

  after(async () => {
    await village?.close();
    await environment?.dispose();
  });

  /** One raw request as react-admin sends it, with the moderator's token. */
  async function get(path: string, query: Record<string, unknown> = {}, token = moderatorToken) {
    const search = new URLSearchParams(
      Object.entries(query).map(([key, value]) => [key, JSON.stringify(value)] as [string, string]),
    );
    const response = await fetch(`${village.url}/api/${path}${search.size ? `?${search}` : ''}`, {
      headers: { authorization: `Bearer ${token}`, range: `${path}=0-1` },
    });
    const body = (await response.json()) as unknown;
    return { status: response.status, range: parseContentRange(response.headers.get('content-range')), body };
  }

  // Each list the console shows, with a field it sorts by and a filter it uses.
  const resources: { path: string; order?: string; sort: string; filter: Record<string, unknown>; atLeast: number }[] =
    [
      { path: 'agents', sort: 'displayName', filter: { q: 'a' }, atLeast: 3 },
      { path: 'flags', sort: 'createdAt', filter: { status: 'open' }, atLeast: 3 },
      { path: 'posts', sort: 'createdAt', filter: { flagged: true }, atLeast: 3 },
      { path: 'transfers', sort: 'amount', filter: { reason: 'grant' }, atLeast: 3 },
      { path: 'users', order: 'handle', sort: 'createdAt', filter: { role: 'human' }, atLeast: 2 },
      { path: 'audit', sort: 'at', filter: { subjectType: 'user' }, atLeast: 1 },
    ];

  for (const resource of resources) {
    test(`${resource.path}: Content-Range, range, sort, filter, getMany and getOne`, async () => {
      const order = [resource.order ?? 'id', 'ASC'];
      const all = await get(resource.path, { sort: order, range: [0, 99] });
      assert.equal(all.status, 200);
      const rows = all.body as { id: string | number }[];
      assert.ok(rows.length >= resource.atLeast, `${resource.path}: ${rows.length} rows`);
      assert.equal(all.range?.total, rows.length);

      const page = await get(resource.path, { sort: order, range: [1, 1] });
      assert.deepEqual(page.range, { range: [1, 1], total: rows.length });
      assert.deepEqual(
        (page.body as { id: unknown }[]).map((row) => row.id),
        [rows[1]!.id],
      );

      const sorted = await get(resource.path, { sort: [resource.sort, 'DESC'], range: [0, 99] });
      assert.equal(sorted.status, 200, JSON.stringify(sorted.body));
      assert.equal((sorted.body as unknown[]).length, rows.length);

      const filtered = await get(resource.path, { filter: resource.filter, range: [0, 99] });
      assert.equal(filtered.status, 200, JSON.stringify(filtered.body));
      assert.ok((filtered.range?.total ?? 0) >= 1);

      const ids = [rows[0]!.id, rows.at(-1)!.id];
      const many = await get(resource.path, { filter: { id: ids } });
      assert.deepEqual((many.body as { id: unknown }[]).map((row) => row.id).sort(), [...ids].sort());

      const one = await get(`${resource.path}/${encodeURIComponent(String(rows[0]!.id))}`);
      assert.equal(one.status, 200);
      assert.equal((one.body as { id: unknown }).id, rows[0]!.id);

      const empty = await get(resource.path, { filter: { ...resource.filter, id: [] }, range: [0, 9] });
      if (empty.status === 200) assert.equal(empty.range?.range, null);
    });
  }

  test('a list refuses a sort field or filter it does not know, naming the ones it knows', async () => {
    const sort = await get('transfers', { sort: ['colour', 'ASC'] });
    assert.equal(sort.status, 400);
    assert.match((sort.body as { message: string }).message, /among: id, createdAt, amount/);
    const filter = await get('audit', { filter: { colour: 'red' } });
    assert.equal(filter.status, 400);
    assert.match((filter.body as { message: string }).message, /filters here: id, action/);
  });

  test('transfers filter by time: since inclusive, until exclusive; a bad time is a 400', async () => {
    const all = (await village.admin.transfers({ filter: { reason: 'grant' }, sort: ['id', 'ASC'] })).items;
    const second = all[1]!;
    const since = await village.admin.transfers({ filter: { reason: 'grant', since: second.createdAt } });
    assert.deepEqual(
      since.items.map((transfer) => transfer.id).sort(),
      all.slice(1).map((transfer) => transfer.id),
    );
    const until = await village.admin.transfers({ filter: { reason: 'grant', until: second.createdAt } });
    assert.deepEqual(
      until.items.map((transfer) => transfer.id),
      [all[0]!.id],
    );
    const bad = await get('transfers', { filter: { since: 'yesterday' } });
    assert.equal(bad.status, 400);
    assert.match((bad.body as { message: string }).message, /filter "since" takes one ISO 8601 time/);
  });

  test('PUT /api/agents/:id answers the record, is audited and announced; moderators get 403 and change nothing', async () => {
    const ada = agents[0]!;
    const refused = await moderator.updateAgent(ada.id, { displayName: 'Not Ada' }).catch((error: unknown) => error);
    assert.equal((refused as { status: number }).status, 403);
    const bad = await village.admin.updateAgent(ada.id, { displayName: '' }).catch((error: unknown) => error);
    assert.equal((bad as { status: number }).status, 400);
    const unknownField = await fetch(`${village.url}/api/agents/${ada.id}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ ...ada, displayName: 'Ada Lovelace' }),
    });
    assert.equal(unknownField.status, 400, 'the console sends only displayName and persona');
    assert.equal((await village.admin.agent(ada.id)).displayName, ada.displayName);

    const updated = await village.admin.updateAgent(ada.id, { displayName: 'Ada Lovelace', persona: 'counts' });
    assert.equal(updated.id, ada.id);
    assert.equal(updated.displayName, 'Ada Lovelace');
    assert.equal(updated.economy.agentId, ada.id);
    const audit = await village.admin.audit({ filter: { action: 'agent.updated', subjectId: ada.id } });
    assert.deepEqual(audit.items[0]?.after, { displayName: 'Ada Lovelace', persona: 'counts' });
    assert.equal(
      (await get(`agents/${ada.id}`)).body && ((await get(`agents/${ada.id}`)).body as Agent).displayName,
      'Ada Lovelace',
    );
  });

  test('PUT /api/users/:id is PATCH for react-admin: answers the record; moderators get 403', async () => {
    const hana = (await village.admin.users({ filter: { handle: 'hana' } })).items[0]!;
    const response = await fetch(`${village.url}/api/users/${hana.id}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ displayName: 'Hana', role: 'human' }),
    });
    assert.equal(response.status, 200);
    assert.equal(((await response.json()) as { displayName: string }).displayName, 'Hana');
    const refused = await fetch(`${village.url}/api/users/${hana.id}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${moderatorToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ role: 'moderator' }),
    });
    assert.equal(refused.status, 403);
  });

  test('moderators calling admins’ endpoints directly get 403', async () => {
    const policy = await moderator.tierPolicy();
    const ada = agents[0]!.id;
    const attempts: [string, () => Promise<unknown>][] = [
      ['verify', () => moderator.verifyLedger()],
      [
        'deposit',
        () => moderator.enterDeposit({ transactionId: 'ABC123456', amount: '1.00', currency: 'USD', agentId: ada }),
      ],
      ['tiers', () => moderator.setTierPolicy(policy)],
      [
        'transfer',
        () =>
          moderator.createTransfer({
            debitAccount: 'treasury',
            creditAccount: `agent:${ada}`,
            amount: 1,
            reason: 'grant',
          }),
      ],
      ['tier', () => moderator.setAgentTier(ada, { quarantined: true, reason: 'no' })],
      ['token', () => moderator.rotateAgentToken(ada)],
    ];
    for (const [name, attempt] of attempts) {
      const error = await attempt().then(
        () => undefined,
        (reason: unknown) => reason,
      );
      assert.equal((error as { status?: number })?.status, 403, `${name} was not refused`);
    }
  });

  test('summary, spend, verifications and the tier preview answer moderators; each verification is kept', async () => {
    const before = await moderator.economySummary();
    assert.equal(before.agents, 3);
    assert.equal(before.inCirculation, 6000);
    assert.equal(before.lastVerification, null);

    const report = await village.admin.verifyLedger();
    assert.equal(report.ok, true);
    const after = await moderator.economySummary();
    assert.equal(after.lastVerification?.ok, true);
    assert.equal(after.lastVerification?.verifiedBy, 'system:system');
    const runs = await moderator.ledgerVerifications();
    assert.equal(runs.total, 1);

    const spend = await moderator.spendByHour(6);
    assert.equal(spend.length, 6);
    assert.ok(spend.every((hour) => hour.total === 0));
    assert.equal((await get('economy/spend', {}, moderatorToken)).status, 200);
    const badHours = await fetch(`${village.url}/api/economy/spend?hours=0`, {
      headers: { authorization: `Bearer ${moderatorToken}` },
    });
    assert.equal(badHours.status, 400);

    // A policy whose tier 1 starts at 1.5 aiDollars: Basil (2) and Clara (3) would move up, Ada (1) not.
    const policy = await moderator.tierPolicy();
    const proposal = {
      hysteresis: 0,
      tiers: policy.tiers.map((tier) => ({ ...tier, minBalance: tier.level === 0 ? 0 : 1500 * tier.level ** 3 })),
    };
    const preview = await moderator.previewTierPolicy(proposal);
    assert.equal(preview.agents, 3);
    assert.deepEqual(
      preview.changes.map((change) => [change.agentId, change.from, change.to]),
      [
        [agents[1]!.id, 0, 1],
        [agents[2]!.id, 0, 1],
      ],
    );
    assert.equal((await moderator.tierPolicy()).version, policy.version, 'a preview changes nothing');
    const invalid = await moderator
      .previewTierPolicy({ ...proposal, tiers: proposal.tiers.map((tier) => ({ ...tier, minBalance: 5 })) })
      .catch((error: unknown) => error);
    assert.equal((invalid as { status: number }).status, 400);
  });
});
