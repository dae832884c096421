import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import request from 'supertest';
import {
  DEFAULT_TIER_TOOLS,
  REDACTED,
  TOOL_LOG_LIMITS,
  VillageApiError,
  VillageClient,
  type Agent,
  type ToolCallReport,
} from '../src/contract/index.js';
import { DEFAULT_TIER_POLICY } from '../src/economy/default-tier-policy.js';
import {
  ADMIN_TOKEN,
  createTestEnvironment,
  signUpPerson,
  startTestApp,
  type TestApp,
  type TestEnvironment,
} from './support/test-app.js';
import { TestViewer } from './support/viewer.js';

/** The tool-call log over HTTP: agents report their calls, moderators read them, viewers of the right room see them. */
describe('the tool-call log', () => {
  let environment: TestEnvironment;
  let village: TestApp;
  let database: pg.Pool;
  let agents = 0;
  let calls = 0;

  before(async () => {
    environment = await createTestEnvironment({ VILLAGE_TICK_MS: '60000' });
    village = await startTestApp(environment);
    database = new pg.Pool({ connectionString: environment.database.url, max: 2 });
  });

  after(async () => {
    await database?.end();
    await village?.close();
    await environment?.dispose();
  });

  async function agent(): Promise<Agent & { token: string; client: VillageClient }> {
    const created = await village.admin.createAgent({ id: `tooler${++agents}`, displayName: `Tooler ${agents}` });
    return { ...created, client: new VillageClient({ baseUrl: village.url, token: created.token }) };
  }

  function call(overrides: Partial<ToolCallReport> = {}): ToolCallReport {
    const startedAt = new Date(Date.now() - 40).toISOString();
    return {
      callId: `call-${++calls}`,
      tool: 'shell',
      action: 'run',
      arguments: { command: 'ls -la', timeoutMs: 5000 },
      cwd: '/workspace',
      ok: true,
      exitCode: 0,
      output: 'total 0\n',
      error: null,
      durationMs: 40,
      startedAt,
      finishedAt: new Date().toISOString(),
      ...overrides,
    };
  }

  async function refused(work: Promise<unknown>, status: number, message?: RegExp) {
    await assert.rejects(work, (error: unknown) => {
      assert.ok(error instanceof VillageApiError, String(error));
      assert.equal(error.status, status, error.message);
      if (message) assert.match(error.body?.message ?? '', message);
      return true;
    });
  }

  const storedCount = async (agentId: string) =>
    Number((await database.query('SELECT count(*) FROM tool_calls WHERE agent_id = $1', [agentId])).rows[0].count);

  test('an agent reports its calls once each; moderators see them on the stream, the public does not', async () => {
    const ada = await agent();
    const moderatorViewer = new TestViewer(village.url, ADMIN_TOKEN);
    const publicViewer = new TestViewer(village.url);
    try {
      await Promise.all([moderatorViewer.ready(), publicViewer.ready()]);
      const batch = [
        call(),
        call({ tool: 'http', action: 'request', ok: false, exitCode: null, error: 'timed out after 100 ms\nmore' }),
      ];
      assert.deepEqual(await ada.client.reportToolCalls(ada.id, batch), { received: 2, stored: 2 });
      // A retry after a lost answer stores nothing twice.
      assert.deepEqual(await ada.client.reportToolCalls(ada.id, batch), { received: 2, stored: 0 });
      assert.equal(await storedCount(ada.id), 2);

      const failed = await moderatorViewer.waitFor('agent.tool_call', (event) => event.agentId === ada.id && !event.ok);
      assert.equal(failed.tool, 'http');
      assert.equal(failed.error, 'timed out after 100 ms', 'the first line of the error');
      const ran = await moderatorViewer.waitFor('agent.tool_call', (event) => event.agentId === ada.id && event.ok);
      assert.equal(ran.exitCode, 0);
      assert.deepEqual(await village.admin.toolCall(ran.callId).then((logged) => logged.callId), batch[0]!.callId);
      // The public viewer got the same frames' other events but none of these.
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(publicViewer.events.filter((event) => event.type === 'agent.tool_call').length, 0);
    } finally {
      moderatorViewer.close();
      publicViewer.close();
    }
  });

  test('secrets in arguments are redacted by the control plane even when the runtime did not', async () => {
    const ada = await agent();
    await ada.client.reportToolCalls(ada.id, [
      call({
        arguments: {
          command: 'deploy',
          env: { GITHUB_TOKEN: 'ghp_abcdefghijklmnopqrstuvwx', MODE: 'fast', OPAQUE: 'A'.repeat(40) },
        },
      }),
      call({
        tool: 'http',
        action: 'request',
        arguments: {
          url: 'https://user:hunter2@example.test/x',
          headers: { Authorization: 'Bearer abc.def.ghi', Accept: 'text/html' },
        },
      }),
    ]);
    const { items } = await village.admin.toolCalls({ filter: { agentId: ada.id }, sort: ['id', 'ASC'] });
    assert.deepEqual(items[0]!.arguments, {
      command: 'deploy',
      env: { GITHUB_TOKEN: REDACTED, MODE: 'fast', OPAQUE: REDACTED },
    });
    assert.deepEqual(items[1]!.arguments, {
      url: `https://${REDACTED}@example.test/x`,
      headers: { Authorization: REDACTED, Accept: 'text/html' },
    });
    const raw = await database.query<{ text: string }>(
      'SELECT arguments::text AS text FROM tool_calls WHERE agent_id = $1',
      [ada.id],
    );
    assert.ok(
      raw.rows.every((row) => !/ghp_|hunter2|abc\.def/.test(row.text)),
      'no secret reached the table',
    );
  });

  test('the list follows ra-data-simple-rest: filters, sort, range and Content-Range', async () => {
    const ada = await agent();
    const bo = await agent();
    await ada.client.reportToolCalls(ada.id, [
      call({ tool: 'file', action: 'read', durationMs: 5 }),
      call({ tool: 'file', action: 'write', ok: false, exitCode: null, error: 'outside the workspace' }),
      call({ tool: 'shell', durationMs: 900 }),
    ]);
    await bo.client.reportToolCalls(bo.id, [call({ tool: 'browser', action: 'open' })]);

    const files = await village.admin.toolCalls({ filter: { agentId: ada.id, tool: 'file' }, sort: ['id', 'ASC'] });
    assert.deepEqual(
      files.items.map((item) => item.action),
      ['read', 'write'],
    );
    assert.equal(files.total, 2);
    const failures = await village.admin.toolCalls({ filter: { agentId: ada.id, ok: false } });
    assert.deepEqual(
      failures.items.map((item) => item.error),
      ['outside the workspace'],
    );
    const slowest = await village.admin.toolCalls({
      filter: { agentId: [ada.id, bo.id] },
      sort: ['durationMs', 'DESC'],
      range: [0, 1],
    });
    assert.equal(slowest.items[0]!.durationMs, 900);
    assert.equal(slowest.total, 4);
    assert.deepEqual(slowest.range, [0, 1]);

    const raw = await request(village.url)
      .get('/api/tool-calls')
      .query({ filter: JSON.stringify({ agentId: bo.id }), range: '[0,9]' })
      .set('authorization', `Bearer ${ADMIN_TOKEN}`)
      .expect(200);
    assert.equal(raw.headers['content-range'], 'tool-calls 0-0/1');
    await request(village.url)
      .get('/api/tool-calls')
      .query({ filter: JSON.stringify({ secret: 1 }) })
      .set('authorization', `Bearer ${ADMIN_TOKEN}`)
      .expect(400, /unknown filter \\"secret\\"/);
    await request(village.url)
      .get('/api/tool-calls/abc')
      .set('authorization', `Bearer ${ADMIN_TOKEN}`)
      .expect(400, /the tool call id must be a positive whole number/);
    await refused(village.admin.toolCall(999_999), 404, /no tool call with id 999999/);
  });

  test('only the agent reports its own calls, and only moderators read the log', async () => {
    const ada = await agent();
    const bo = await agent();
    await refused(bo.client.reportToolCalls(ada.id, [call()]), 403, /may act only as itself/);
    await refused(new VillageClient({ baseUrl: village.url }).reportToolCalls(ada.id, [call()]), 401);
    await refused(ada.client.toolCalls(), 403, /needs a moderator/);
    const { client: human } = await signUpPerson(village.url, 'curious');
    await refused(human.toolCalls(), 403, /needs a moderator/);
    await refused(new VillageClient({ baseUrl: village.url }).toolCalls(), 401);
    await refused(village.admin.reportToolCalls('nobody', [call()]), 404, /no agent with id "nobody"/);
    assert.equal(await storedCount(ada.id), 0);
  });

  test('bad reports are refused with what is wrong, and store nothing', async () => {
    const ada = await agent();
    const cases: [unknown, RegExp][] = [
      [{ calls: [] }, /at least one call/],
      [{ calls: [{ ...call(), tool: 'teleport' }] }, /calls\.0\.tool/],
      [{ calls: [{ ...call(), output: 'x'.repeat(TOOL_LOG_LIMITS.output + 1) }] }, /calls\.0\.output/],
      [{ calls: [{ ...call(), arguments: { blob: 'x'.repeat(TOOL_LOG_LIMITS.arguments) } }] }, /calls\.0\.arguments/],
      [{ calls: [{ ...call(), startedAt: 'yesterday' }] }, /calls\.0\.startedAt/],
      [{ calls: [{ ...call(), extra: 1 }] }, /calls\.0/],
      [{ calls: Array.from({ length: TOOL_LOG_LIMITS.callsPerReport + 1 }, () => call()) }, /at most 100 calls/],
    ];
    for (const [body, message] of cases) {
      const answer = await request(village.url)
        .post(`/api/agents/${ada.id}/tool-calls`)
        .set('authorization', `Bearer ${ada.token}`)
        .send(body as object)
        .expect(400);
      assert.match(answer.body.message, message);
    }
    assert.equal(await storedCount(ada.id), 0);
  });

  test("the tier's tools come with the entitlements, and a policy stored without them gets the least", async () => {
    const ada = await agent();
    const details = await ada.client.agent(ada.id);
    assert.deepEqual(details.economy.entitlements.tools, DEFAULT_TIER_POLICY.tiers[0]!.entitlements.tools);
    assert.deepEqual(
      (await village.admin.tierPolicy()).tiers.map((tier) => tier.entitlements.tools),
      DEFAULT_TIER_POLICY.tiers.map((tier) => tier.entitlements.tools),
    );
    // A policy written before tools existed: stored JSON without the field.
    const older = structuredClone(DEFAULT_TIER_POLICY) as { tiers: { entitlements: Record<string, unknown> }[] };
    for (const tier of older.tiers) delete tier.entitlements.tools;
    await database.query(
      `INSERT INTO tier_policies (policy, thresholds, hysteresis, created_by) VALUES ($1, $2, $3, 'test')`,
      [JSON.stringify(older), DEFAULT_TIER_POLICY.tiers.map((tier) => tier.minBalance), DEFAULT_TIER_POLICY.hysteresis],
    );
    const policy = await village.admin.tierPolicy();
    // The policy is cached for a few seconds by each replica: wait for the new version.
    const deadline = Date.now() + 10_000;
    let current = policy;
    while (current.tiers[2]!.entitlements.tools.includes('browser') && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      current = await village.admin.tierPolicy();
    }
    for (const tier of current.tiers) assert.deepEqual(tier.entitlements.tools, DEFAULT_TIER_TOOLS);
    // An admin's new policy may grant any known tool and no unknown one.
    await refused(
      village.admin.setTierPolicy({
        ...DEFAULT_TIER_POLICY,
        tiers: DEFAULT_TIER_POLICY.tiers.map((tier) => ({
          ...tier,
          entitlements: { ...tier.entitlements, tools: ['teleport'] as never },
        })),
      }),
      400,
      /tools/,
    );
  });
});
