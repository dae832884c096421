import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import OpenAI from 'openai';
import type { ChatCompletionChunk } from 'openai/resources/chat/completions';
import pg from 'pg';
import request from 'supertest';
import type { WorldEvent } from '../src/contract/index.js';
import { DEFAULT_TIER_POLICY } from '../src/economy/default-tier-policy.js';
import { EventBus } from '../src/events/event-bus.service.js';
import { verifyLedger } from '../src/ledger/ledger-verify.js';
import { eventually } from './support/eventually.js';
import { startFakeUpstream, type FakeUpstream } from './support/fake-llm-upstream.js';
import { ReplicaProcess } from './support/fault-harness.js';
import { freePort } from './support/free-port.js';
import { agentMaker, hello, PRICE, refused, usageBook } from './support/gateway.js';
import {
  ADMIN_TOKEN,
  createTestEnvironment,
  startTestApp,
  type TestApp,
  type TestEnvironment,
} from './support/test-app.js';
import { TestViewer } from './support/viewer.js';

/** The upstream timeout: a stall is noticed after it, and a call's leases outlive it by the gateway's margin. */
const TIMEOUT_MS = 1000;
const admin = (call: request.Test) => call.set('authorization', `Bearer ${ADMIN_TOKEN}`);

/**
 * The compute gateway's behaviours beyond gating and billing (gateway.e2e.test.ts): requests a
 * minute on /v1, least-loaded routing, health checks, leases of a dead replica, a stream that
 * stalls, streamed tool calls, a call dearer than its hold, and the loop breaker's queue for moderators.
 */
describe('the compute gateway, behaviour by behaviour', () => {
  let environment: TestEnvironment;
  let village: TestApp;
  let alpha: FakeUpstream;
  let beta: FakeUpstream;
  let database: pg.Pool;
  let agent: ReturnType<typeof agentMaker>;
  let book: ReturnType<typeof usageBook>;

  before(async () => {
    alpha = await startFakeUpstream({ name: 'alpha', models: ['small'] });
    beta = await startFakeUpstream({ name: 'beta', models: ['small'] });
    environment = await createTestEnvironment({
      VILLAGE_TICK_MS: '60000',
      VILLAGE_LLM_UPSTREAMS: JSON.stringify([
        { name: 'alpha', baseUrl: alpha.baseUrl, models: ['small'], maxConcurrency: 4, timeoutMs: TIMEOUT_MS },
      ]),
      // Every call is paid for, so that holds and settlement show.
      VILLAGE_LLM_COMMONS_TOKENS_PER_HOUR: '0',
      VILLAGE_LLM_QUEUE_TIMEOUT_MS: '5000',
      VILLAGE_LLM_SPEND_LIMIT: '1000000',
      VILLAGE_LLM_HEALTH_MS: '60000',
      // A hold left by a replica that died is released soon after it expires.
      VILLAGE_HOLD_SWEEP_MS: '1000',
    });
    village = await startTestApp(environment);
    database = new pg.Pool({ connectionString: environment.database.url, max: 2 });
    agent = agentMaker(village, 'behaver');
    book = usageBook(village, database);
    await admin(request(village.url).put('/api/llm/models/small')).send(PRICE).expect(200);
  });

  after(async () => {
    await database?.end();
    await village?.close();
    await environment?.dispose();
    await alpha?.close();
    await beta?.close();
  });

  beforeEach(async () => {
    await alpha.reset();
    await beta.reset();
  });

  test('requests a minute count on /v1: the call past the tier’s limit is 429 with Retry-After', async () => {
    const policy = structuredClone(DEFAULT_TIER_POLICY);
    policy.tiers[3]!.entitlements.requestsPerMinute = 3;
    await village.admin.setTierPolicy(policy);
    const rae = await agent(5_000);
    await village.admin.setAgentTier(rae.id, { pinnedTier: 3, reason: 'a tier of 3 requests a minute' });
    // The window is a minute of the clock: four calls must land in the same one.
    const intoMinute = Date.now() % 60_000;
    if (intoMinute > 50_000) await new Promise((resolve) => setTimeout(resolve, 60_500 - intoMinute));
    const client = rae.openai();
    for (let i = 0; i < 3; i++)
      await client.chat.completions.create({ model: 'small', messages: hello, max_tokens: 5 });
    const over = await client.chat.completions
      .create({ model: 'small', messages: hello, max_tokens: 5 })
      .catch((error: unknown) => error);
    assert.ok(over instanceof OpenAI.APIError, String(over));
    assert.equal(over.status, 429);
    assert.equal(over.code, 'rate_limit_exceeded');
    assert.ok(Number(over.headers?.get('retry-after')) >= 1, 'Retry-After in seconds');
    assert.equal(alpha.requests.length, 3, 'the refused call never reached the upstream');
    await book.settled(rae.id, 3);
  });

  test('least-loaded routing: with one upstream busy, the next call goes to the other', async () => {
    await admin(request(village.url).put('/api/llm/upstreams/beta'))
      .send({ baseUrl: beta.baseUrl, models: ['small'], maxConcurrency: 4, timeoutMs: TIMEOUT_MS })
      .expect(200);
    try {
      const lee = await agent(20_000); // citizen: two calls at a time
      await alpha.behave({ delayMs: 600 });
      await beta.behave({ delayMs: 600 });
      const client = lee.openai();
      const busy = client.chat.completions.create({ model: 'small', messages: hello, max_tokens: 5 }).withResponse();
      await eventually(() => alpha.inFlight + beta.inFlight === 1, 'the first call at an upstream');
      const first = alpha.inFlight === 1 ? 'alpha' : 'beta';
      const next = await client.chat.completions
        .create({ model: 'small', messages: hello, max_tokens: 5 })
        .withResponse();
      assert.equal(next.response.headers.get('x-village-upstream'), first === 'alpha' ? 'beta' : 'alpha');
      assert.equal((await busy).response.headers.get('x-village-upstream'), first);
      assert.equal(alpha.requests.length, 1);
      assert.equal(beta.requests.length, 1);
    } finally {
      await admin(request(village.url).delete('/api/llm/upstreams/beta')).expect(204);
    }
  });

  test('the periodic health check marks an upstream down, and up again when it answers', async () => {
    const checker = await startTestApp(environment, { VILLAGE_LLM_HEALTH_MS: '500' });
    const seen: WorldEvent[] = [];
    const unsubscribe = checker.app.get(EventBus).subscribe((batch) => seen.push(...batch));
    const alphaOf = async () =>
      (await admin(request(checker.url).get('/api/llm/upstreams')).expect(200)).body.find(
        (upstream: { name: string }) => upstream.name === 'alpha',
      ) as { healthy: boolean | null; lastError: string | null; lastCheckedAt: string | null };
    try {
      await eventually(async () => (await alphaOf()).healthy === true, 'a first check that finds alpha up');
      assert.ok(alpha.modelListings >= 1, 'the check lists the upstream’s models');
      await alpha.behave({ refuseConnections: true });
      const down = await eventually(async () => {
        const status = await alphaOf();
        return status.healthy === false ? status : undefined;
      }, 'alpha marked down');
      assert.ok(down.lastError, 'the error is shown');
      await alpha.behave({ refuseConnections: false });
      await eventually(async () => (await alphaOf()).healthy === true, 'alpha marked up again');
      const changes = seen.filter((event) => event.type === 'compute.upstream_health' && event.upstream === 'alpha');
      assert.deepEqual(
        changes.map((event) => event.type === 'compute.upstream_health' && event.healthy),
        [true, false, true],
        'each change of health is announced once',
      );
    } finally {
      unsubscribe();
      await alpha.behave({ refuseConnections: false });
      await checker.close();
    }
  });

  test('the leases of a replica that died lapse: the agent’s call slot comes back, its hold is released', async () => {
    // Its calls' leases outlive the upstream's timeout by 2 s, instead of 30.
    const doomed = new ReplicaProcess('doomed', await freePort(), {
      ...environment.env,
      VILLAGE_LLM_LEASE_MARGIN_MS: '2000',
    });
    await doomed.start();
    try {
      const dee = await agent(5_000); // commons: one call at a time
      await alpha.behave({ stall: true });
      const lost = new OpenAI({
        baseURL: `${doomed.url}/v1`,
        apiKey: dee.token,
        maxRetries: 0,
        logLevel: 'off',
      }).chat.completions
        .create({ model: 'small', messages: hello, max_tokens: 5 })
        .catch((error: unknown) => error);
      await eventually(() => alpha.inFlight === 1, 'the call at the upstream');
      const diedAt = Date.now();
      await doomed.kill('SIGKILL');
      assert.ok((await lost) instanceof OpenAI.APIConnectionError, 'the replica died mid-call');
      // Its lease outlives it: the agent is still one call in flight, on any replica...
      await refused(
        dee.openai().chat.completions.create({ model: 'small', messages: hello, max_tokens: 5 }),
        429,
        'concurrency_exceeded',
        /already has 1 LLM calls in flight/,
      );
      // ...until the lease lapses (the upstream's timeout and the gateway's margin): then it may call again.
      // Asked once a second: each refusal counts against the agent's requests a minute.
      let answer: OpenAI.ChatCompletion | undefined;
      while (!answer && Date.now() - diedAt < 60_000) {
        await new Promise((resolve) => setTimeout(resolve, 1000));
        answer = await dee
          .openai()
          .chat.completions.create({ model: 'small', messages: hello, max_tokens: 5 })
          .catch((error: unknown) => {
            assert.ok(error instanceof OpenAI.APIError && error.code === 'concurrency_exceeded', String(error));
            return undefined;
          });
      }
      assert.ok(answer, 'the lapsed lease freed the call slot');
      assert.ok(answer.choices[0]);
      assert.ok(Date.now() - diedAt >= TIMEOUT_MS, 'not before the lease could lapse');
      // The dead call was never billed; its hold expires and the sweeper gives the money back.
      const [usage] = await eventually(
        async () => {
          const rows = await book.usageOf(dee.id);
          return rows.length === 1 && (await village.admin.balance(dee.id)).held === 0 ? rows : undefined;
        },
        'the dead call’s hold released',
        30_000,
      );
      assert.equal(await book.balanceOf(dee.id), 5_000 - Number(usage.price));
    } finally {
      await doomed.kill('SIGKILL');
    }
  });

  test('a stream that stalls mid-way: an in-stream upstream_timeout, billed at most what was delivered', async () => {
    const sal = await agent(5_000);
    await alpha.behave({ stallAfterChunks: 6 }); // the role chunk and five words
    const stream = await sal
      .openai()
      .chat.completions.create({ model: 'small', messages: hello, max_tokens: 300, stream: true });
    let text = '';
    await assert.rejects(
      async () => {
        for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
      },
      (error: unknown) => {
        assert.ok(error instanceof OpenAI.APIError, String(error));
        assert.equal(error.code, 'upstream_timeout');
        assert.match(error.message, /did not answer model "small" within 1000 ms/);
        return true;
      },
    );
    assert.equal(text.trim().split(/\s+/).length, 5);
    const [usage] = await book.settled(sal.id, 1);
    assert.equal(usage.status, 'timeout');
    assert.equal(usage.usage_source, 'estimated');
    assert.ok(usage.completion_tokens > 0 && usage.completion_tokens < 16, `${usage.completion_tokens} tokens`);
    assert.equal(Number(usage.price), usage.prompt_tokens * 1 + usage.completion_tokens * 2);
    assert.equal(await book.balanceOf(sal.id), 5_000 - Number(usage.price));
    assert.equal(alpha.requests[0]!.clientWentAway, true, 'the gateway let go of the stalled upstream');
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal((await book.usageOf(sal.id)).length, 1, 'nothing more');
    assert.equal((await verifyLedger(database)).firstDiscrepancy, null);
  });

  test('a stream that outlives its hold: the hold is released and the call charged directly, once', async () => {
    // Leases and holds outlive the upstream's 1 s timeout by 200 ms (and the 5 s queue timeout): a call that ends
    // later than 1.2 s after it was admitted is within the 5 s margin of its hold's expiry, so the hold is not settled.
    const brief = await startTestApp(environment, { VILLAGE_LLM_LEASE_MARGIN_MS: '200' });
    try {
      const lin = await agent(5_000);
      await alpha.behave({
        chunkDelayMs: 150,
        respond: () => ({ content: 'one two three four five six seven eight nine ten' }),
      });
      const stream = await lin
        .openai(brief)
        .chat.completions.create({ model: 'small', messages: hello, max_tokens: 50, stream: true });
      let text = '';
      for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
      assert.equal(text.trim().split(/\s+/).length, 10);
      const [usage] = await book.settled(lin.id, 1);
      assert.equal(usage.status, 'ok');
      assert.equal(Number(usage.price), usage.prompt_tokens * 1 + usage.completion_tokens * 2);
      const transfers = (
        await database.query(
          `SELECT id, kind, amount, idempotency_key, pending_id FROM ledger_transfers
            WHERE id = $1 OR pending_id = $1 OR idempotency_key = $2 ORDER BY id`,
          [usage.hold_id, `llm-bill:${usage.request_id}`],
        )
      ).rows;
      assert.deepEqual(
        transfers.map((transfer) => transfer.kind),
        ['pending', 'void_pending', 'posted'],
        'the hold, its release, the direct charge',
      );
      assert.equal(Number(transfers[2].amount), Number(usage.price));
      assert.equal(String(usage.transfer_id), String(transfers[2].id), 'the record names the charge');
      assert.equal(await book.balanceOf(lin.id), 5_000 - Number(usage.price));
      assert.equal((await verifyLedger(database)).firstDiscrepancy, null);
    } finally {
      await brief.close();
    }
  });

  test('streamed tool calls reach the openai client unchanged', async () => {
    const toolCalls = [
      { name: 'move_to', arguments: '{"landmark":"the old well"}' },
      { name: 'say', arguments: '{"text":"Good morning, neighbours! Anyone for tea?"}' },
    ];
    const tools: OpenAI.ChatCompletionTool[] = ['move_to', 'say'].map((name) => ({
      type: 'function',
      function: { name, parameters: { type: 'object', properties: {} } },
    }));
    const ask = async (client: OpenAI) => {
      await alpha.behave({ respond: () => ({ toolCalls }) });
      const chunks: ChatCompletionChunk[] = [];
      const stream = await client.chat.completions.create({
        model: 'small',
        messages: hello,
        max_tokens: 100,
        tools,
        stream: true,
      });
      for await (const chunk of stream) chunks.push(chunk);
      return chunks;
    };
    const tess = await agent(5_000);
    const through = await ask(tess.openai());
    assert.deepEqual(alpha.requests[0]!.body.tools, tools, 'the tools reached the upstream as sent');
    await alpha.reset(); // the same call ids again
    const direct = await ask(new OpenAI({ baseURL: alpha.baseUrl, apiKey: 'x', maxRetries: 0, logLevel: 'off' }));
    assert.deepEqual(
      through.map((chunk) => chunk.choices),
      direct.map((chunk) => chunk.choices),
    );
    const calls = new Map<number, { id?: string; name?: string; arguments: string }>();
    for (const chunk of through) {
      for (const delta of chunk.choices[0]?.delta?.tool_calls ?? []) {
        const call = calls.get(delta.index) ?? { arguments: '' };
        call.id ??= delta.id;
        call.name ??= delta.function?.name;
        call.arguments += delta.function?.arguments ?? '';
        calls.set(delta.index, call);
      }
    }
    assert.deepEqual(
      [...calls.values()],
      toolCalls.map((call, index) => ({ id: `call_${index + 1}`, ...call })),
    );
    assert.equal(through.at(-1)?.choices[0]?.finish_reason, 'tool_calls');
    await book.settled(tess.id, 1);
  });

  test('a call whose upstream reports more prompt tokens than estimated is billed its real price', async () => {
    const ron = await agent(5_000);
    const client = ron.openai();
    await alpha.behave({ respond: () => ({ content: 'ok', promptTokens: 3_000 }) });
    await client.chat.completions.create({ model: 'small', messages: hello, max_tokens: 10 });
    const [first] = await book.settled(ron.id, 1);
    const hold = (await database.query('SELECT amount FROM ledger_transfers WHERE id = $1', [first.hold_id])).rows[0];
    assert.ok(Number(hold.amount) < 3_002, 'the hold was for the estimate');
    assert.equal(first.prompt_tokens, 3_000);
    assert.equal(Number(first.price), 3_002, 'charged the real price, not just the hold');
    assert.equal(await book.balanceOf(ron.id), 5_000 - 3_002);
    // Dearer than all the agent has: it pays what it has, and its balance never goes below zero.
    await alpha.behave({ respond: () => ({ content: 'ok', promptTokens: 10_000 }) });
    await client.chat.completions.create({ model: 'small', messages: hello, max_tokens: 10 });
    const [, second] = await book.settled(ron.id, 2);
    assert.equal(Number(second.price), 1_998);
    assert.equal(await book.balanceOf(ron.id), 0);
    assert.equal((await verifyLedger(database)).firstDiscrepancy, null);
  });

  test('a pause, a resume and a new tier made on one replica reach the next call on another at once', async () => {
    const other = await startTestApp(environment);
    try {
      const ivy = await agent(10_000);
      const client = ivy.openai(other);
      // The other replica has read Ivy's tier and pause (and keeps them) before anything changes.
      await client.chat.completions.create({ model: 'small', messages: hello, max_tokens: 5 });

      await admin(request(village.url).post(`/api/agents/${ivy.id}/compute/pause`))
        .send({ reason: 'checking the cache' })
        .expect(200);
      await refused(
        client.chat.completions.create({ model: 'small', messages: hello, max_tokens: 5 }),
        403,
        'agent_paused',
        /checking the cache/,
      );
      await village.admin.resumeCompute(ivy.id, 'checked');
      await client.chat.completions.create({ model: 'small', messages: hello, max_tokens: 5 });

      // Pinned to the commons tier (20,000 tokens an hour): the other replica applies it to the very next call.
      await admin(request(village.url).put(`/api/agents/${ivy.id}/tier`))
        .send({ pinnedTier: 0, reason: 'a test of the cache' })
        .expect(200);
      await refused(
        client.chat.completions.create({ model: 'small', messages: hello, max_tokens: 20_001 }),
        400,
        'max_tokens_beyond_tier',
        /20000 tokens an hour of the commons tier/,
      );
    } finally {
      await other.close();
    }
  });

  test('the loop breaker’s pause is flagged to moderators: on their socket and in their paused-agents list', async () => {
    // A replica with a low spending limit: the counter is shared, the limit is this replica's.
    const strict = await startTestApp(environment, { VILLAGE_LLM_SPEND_LIMIT: '100' });
    const moderator = new TestViewer(village.url, ADMIN_TOKEN);
    try {
      await moderator.ready();
      const lou = await agent(10_000);
      const client = lou.openai(strict);
      const call = () => client.chat.completions.create({ model: 'small', messages: hello, max_tokens: 30 });
      for (let calls = 0; ; calls++) {
        assert.ok(calls < 10, 'the loop breaker paused the agent');
        const refusal = await call().then(
          () => undefined,
          (error: unknown) => error,
        );
        if (!refusal) continue;
        assert.ok(refusal instanceof OpenAI.APIError && refusal.code === 'agent_paused', String(refusal));
        break;
      }
      const event = await moderator.waitFor('agent.compute_paused', (paused) => paused.agentId === lou.id);
      assert.match(event.reason, /spent .* within 60 s/);

      const list = await admin(request(village.url).get('/api/llm/paused-agents')).expect(200);
      assert.equal(list.headers['content-range'], 'paused-agents 0-0/1');
      assert.deepEqual(list.body, [
        { id: lou.id, displayName: lou.displayName, pausedAt: list.body[0].pausedAt, reason: event.reason },
      ]);
      await request(village.url).get('/api/llm/paused-agents').expect(401);
      await request(village.url).get('/api/llm/paused-agents').set('authorization', `Bearer ${lou.token}`).expect(403);

      await village.admin.resumeCompute(lou.id, 'its loop is fixed');
      const after = await admin(request(village.url).get('/api/llm/paused-agents')).expect(200);
      assert.deepEqual(after.body, []);
      assert.equal(after.headers['content-range'], 'paused-agents */0');
      assert.ok(await call());
    } finally {
      moderator.socket.close();
      await strict.close();
    }
  });
});
