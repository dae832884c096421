import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import OpenAI from 'openai';
import pg from 'pg';
import request from 'supertest';
import type { WorldEvent } from '../src/contract/index.js';
import { EventBus } from '../src/events/event-bus.service.js';
import { verifyLedger } from '../src/ledger/ledger-verify.js';
import { eventually } from './support/eventually.js';
import { startFakeUpstream, type FakeUpstream } from './support/fake-llm-upstream.js';
import { agentMaker, hello, PRICE, readStream, refused, usageBook } from './support/gateway.js';
import {
  ADMIN_TOKEN,
  createTestEnvironment,
  startTestApp,
  type TestApp,
  type TestEnvironment,
} from './support/test-app.js';

/**
 * The compute gateway with the real `openai` client against two replicas and fake upstreams on
 * loopback: gating, limits, holds and settlement, disconnects, the queue, the loop breaker, failures.
 */
describe('the compute gateway', () => {
  let environment: TestEnvironment;
  let village: TestApp;
  let second: TestApp;
  let alpha: FakeUpstream;
  let beta: FakeUpstream;
  let database: pg.Pool;
  const events: WorldEvent[] = [];
  let agent: ReturnType<typeof agentMaker>;
  let usageOf: ReturnType<typeof usageBook>['usageOf'];
  let balanceOf: ReturnType<typeof usageBook>['balanceOf'];
  let settled: ReturnType<typeof usageBook>['settled'];

  before(async () => {
    alpha = await startFakeUpstream({ name: 'alpha', models: ['small', 'large'] });
    beta = await startFakeUpstream({ name: 'beta', models: ['small', 'large'] });
    environment = await createTestEnvironment({
      VILLAGE_TICK_MS: '60000',
      VILLAGE_LLM_UPSTREAMS: JSON.stringify([
        { name: 'alpha', baseUrl: alpha.baseUrl, models: ['small', 'large'], maxConcurrency: 4, timeoutMs: 2000 },
      ]),
      VILLAGE_LLM_COMMONS_TOKENS_PER_HOUR: '100',
      VILLAGE_LLM_QUEUE_TIMEOUT_MS: '5000',
      VILLAGE_LLM_SPEND_LIMIT: '1000000',
      VILLAGE_LLM_HEALTH_MS: '60000',
    });
    village = await startTestApp(environment);
    second = await startTestApp(environment);
    village.app.get(EventBus).subscribe((batch) => events.push(...batch));
    database = new pg.Pool({ connectionString: environment.database.url, max: 2 });
    agent = agentMaker(village);
    ({ usageOf, balanceOf, settled } = usageBook(village, database));
    await request(village.url)
      .put('/api/llm/models/small')
      .set('authorization', `Bearer ${ADMIN_TOKEN}`)
      .send(PRICE)
      .expect(200);
    await request(village.url)
      .put('/api/llm/models/large')
      .set('authorization', `Bearer ${ADMIN_TOKEN}`)
      .send({ promptPricePerMtok: 10_000_000, completionPricePerMtok: 20_000_000 })
      .expect(200);
  });

  after(async () => {
    await database?.end();
    await second?.close();
    await village?.close();
    await environment?.dispose();
    await alpha?.close();
    await beta?.close();
  });

  beforeEach(async () => {
    await alpha.reset();
    await beta.reset();
  });

  test('the tier decides the models; bad requests get OpenAI-style errors and cost nothing', async () => {
    const ada = await agent(5000);
    const client = ada.openai();
    assert.deepEqual(
      (await client.models.list()).data.map((model) => model.id),
      ['small'],
    );
    await refused(
      client.chat.completions.create({ model: 'large', messages: hello }),
      403,
      'model_not_allowed',
      /"large" is not allowed in the commons tier \(tier 0\); allowed: small$/,
    );
    await refused(
      client.chat.completions.create({ model: 'gpt-9', messages: hello }),
      404,
      'model_not_found',
      /"gpt-9" is not served here; your tier may use: small/,
    );
    await refused(
      client.chat.completions.create({ model: 'small', messages: [] }),
      400,
      'invalid_request',
      /messages must hold at least one message/,
    );
    await refused(
      client.chat.completions.create({ model: 'small', messages: [{ role: 'wizard', content: 'x' } as never] }),
      400,
      'invalid_request',
      /messages\.0\.role/,
    );
    await refused(
      client.chat.completions.create({ model: 'small', messages: hello, max_tokens: 50_000 }),
      400,
      'max_tokens_beyond_tier',
      /more than the 20000 tokens an hour of the commons tier/,
    );
    await request(village.url)
      .post(`/api/agents/${ada.id}/token`)
      .set('authorization', `Bearer ${ADMIN_TOKEN}`)
      .expect(201);
    await refused(
      client.chat.completions.create({ model: 'small', messages: hello }),
      401,
      'invalid_api_key',
      /not valid/,
    );
    assert.equal(alpha.requests.length, 0);
    assert.deepEqual(await usageOf(ada.id), []);
    assert.equal(await balanceOf(ada.id), 5000);
  });

  test('malformed bodies and unknown paths under /v1 answer in OpenAI’s shape too', async () => {
    const kim = await agent();
    const malformed = await request(village.url)
      .post('/v1/chat/completions')
      .set('authorization', `Bearer ${kim.token}`)
      .set('content-type', 'application/json')
      .send('{"model": "small", "messages": [')
      .expect(400);
    assert.equal(malformed.body.error.type, 'invalid_request_error');
    assert.match(malformed.body.error.message, /malformed JSON body/);
    const unknown = await request(village.url)
      .get('/v1/completions')
      .set('authorization', `Bearer ${kim.token}`)
      .expect(404);
    assert.equal(unknown.body.error.code, 'unknown_url');
    await request(village.url)
      .put('/api/llm/upstreams/GPU%20Two')
      .set('authorization', `Bearer ${ADMIN_TOKEN}`)
      .send({ baseUrl: alpha.baseUrl, models: ['small'], maxConcurrency: 1, timeoutMs: 1000 })
      .expect(400);
    await request(village.url).get('/api/usage/summary/nobody').expect(404);
  });

  test('a call is held at its worst case, then billed once from the usage the upstream reports', async () => {
    const basil = await agent(5000);
    const completion = await basil
      .openai()
      .chat.completions.create({ model: 'small', messages: hello, max_tokens: 500 });
    assert.equal(completion.choices[0]!.message.content?.split(' ').length, 16);
    const { prompt_tokens, completion_tokens } = completion.usage!;
    const price = prompt_tokens * 1 + completion_tokens * 2;
    const [usage] = await settled(basil.id, 1);
    assert.equal(await balanceOf(basil.id), 5000 - price);
    assert.equal(usage.usage_source, 'upstream');
    assert.equal(Number(usage.price), price);
    assert.equal(usage.status, 'ok');
    assert.equal(usage.upstream, 'alpha');
    const hold = (await database.query('SELECT * FROM ledger_transfers WHERE id = $1', [usage.hold_id])).rows[0];
    assert.equal(hold.kind, 'pending');
    assert.ok(Number(hold.amount) >= 500 * 2, 'the hold covered max_tokens');
    const settle = (await database.query('SELECT * FROM ledger_transfers WHERE id = $1', [usage.transfer_id])).rows[0];
    assert.equal(settle.kind, 'post_pending');
    assert.equal(Number(settle.amount), price);
    assert.equal((await village.admin.balance(basil.id)).held, 0);
    assert.equal((await verifyLedger(database)).firstDiscrepancy, null);
  });

  test('streaming passes chunks through, with usage only when asked, and bills once', async () => {
    const cleo = await agent(5000);
    const stream = await cleo.openai(second).chat.completions.create({
      model: 'small',
      messages: hello,
      max_tokens: 400,
      stream: true,
      stream_options: { include_usage: true },
    });
    const { text, usage } = await readStream(stream);
    assert.equal(text.trim().split(/\s+/).length, 16);
    assert.ok(usage, 'the usage chunk reached the client');
    await settled(cleo.id, 1);
    assert.equal(await balanceOf(cleo.id), 5000 - (usage.prompt_tokens + usage.completion_tokens * 2));
    // Without include_usage the client gets no usage chunk, and the call is billed all the same.
    const plain = await cleo
      .openai()
      .chat.completions.create({ model: 'small', messages: hello, max_tokens: 400, stream: true });
    const chunks = [];
    for await (const chunk of plain) chunks.push(chunk);
    assert.ok(chunks.every((chunk) => !chunk.usage));
    await settled(cleo.id, 2);
    assert.ok(alpha.requests.every((r) => r.body.stream_options?.include_usage === true));
  });

  test('a client that leaves mid-stream is still billed exactly once, for what the upstream did', async () => {
    const dora = await agent(5000);
    await alpha.behave({ chunkDelayMs: 40 });
    const abort = new AbortController();
    const stream = await dora
      .openai()
      .chat.completions.create(
        { model: 'small', messages: hello, max_tokens: 400, stream: true },
        { signal: abort.signal },
      );
    let seen = 0;
    try {
      for await (const chunk of stream) {
        if (chunk.choices[0]?.delta?.content && ++seen === 3) abort.abort();
      }
    } catch {
      // the client's own abort
    }
    assert.equal(seen, 3);
    const [usage] = await settled(dora.id, 1);
    assert.equal(usage.status, 'client_disconnected');
    assert.equal(usage.usage_source, 'upstream');
    assert.equal(usage.completion_tokens, 16, 'the upstream was read to its end');
    assert.equal(alpha.requests[0]!.clientWentAway, false);
    assert.equal(await balanceOf(dora.id), 5000 - Number(usage.price));
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal((await usageOf(dora.id)).length, 1);
  });

  test('the commons lets a broke agent think a little; past it, 402 names the price', async () => {
    const eli = await agent(0);
    const free = await eli.openai().chat.completions.create({ model: 'small', messages: hello, max_tokens: 20 });
    assert.ok(free.choices[0]);
    const [usage] = await settled(eli.id, 1);
    assert.equal(usage.commons, true);
    assert.equal(Number(usage.price), 0);
    await refused(
      eli.openai().chat.completions.create({ model: 'small', messages: hello, max_tokens: 300 }),
      402,
      'insufficient_quota',
      /may cost up to 0\.61 aiDollars .* has 0 available/,
    );
    assert.equal((await usageOf(eli.id)).length, 1, 'a refused call is not a usage record');
  });

  test('limits count across two replicas: concurrent calls and tokens an hour', async () => {
    const fay = await agent(100_000);
    // Rich, but held to the commons tier: one call at a time, 20,000 tokens an hour.
    await village.admin.setAgentTier(fay.id, { pinnedTier: 0, reason: 'test' });
    await alpha.behave({ delayMs: 600 }, 1);
    // The commons tier allows one call at a time, on any replica.
    const slow = fay.openai(village).chat.completions.create({ model: 'small', messages: hello, max_tokens: 200 });
    await eventually(() => alpha.inFlight === 1, 'the first call at the upstream');
    await assert.rejects(
      fay.openai(second).chat.completions.create({ model: 'small', messages: hello, max_tokens: 200 }),
      (error: unknown) =>
        error instanceof OpenAI.APIError && error.status === 429 && error.code === 'concurrency_exceeded',
    );
    await slow;
    // 20,000 tokens an hour: a call that really uses 19,000 leaves no room for another that may, on either replica.
    await alpha.behave({ respond: () => ({ content: 'a long answer', completionTokens: 19_000 }) });
    await fay.openai(second).chat.completions.create({ model: 'small', messages: hello, max_tokens: 19_000 });
    const over = await fay
      .openai(village)
      .chat.completions.create({ model: 'small', messages: hello, max_tokens: 19_000 })
      .catch((error: unknown) => error);
    assert.ok(over instanceof OpenAI.APIError && over.status === 429, String(over));
    assert.equal(over.code, 'tokens_per_hour_exceeded');
    assert.ok(Number(over.headers?.get('retry-after')) >= 1);
  });

  test('when the upstream is full, calls wait in the queue and higher tiers go first', async () => {
    await request(village.url)
      .put('/api/llm/upstreams/alpha')
      .set('authorization', `Bearer ${ADMIN_TOKEN}`)
      .send({ baseUrl: alpha.baseUrl, models: ['small', 'large'], maxConcurrency: 1, timeoutMs: 2000 })
      .expect(200);
    try {
      const low = await agent(5_000);
      const high = await agent(60_000); // artisan (tier 2) by its balance
      assert.equal((await village.admin.balance(high.id)).tier.level, 2);
      const marker = (who: string) => [{ role: 'user' as const, content: `from ${who}` }];
      await alpha.behave({ delayMs: 1500 }, 1);
      const blocker = low
        .openai()
        .chat.completions.create({ model: 'small', messages: marker('blocker'), max_tokens: 10 });
      await eventually(() => alpha.inFlight === 1, 'the blocker at the upstream');
      const others = [await agent(5_000), await agent(5_000)];
      const waiting = [
        others[0]!
          .openai(second)
          .chat.completions.create({ model: 'small', messages: marker('low-1'), max_tokens: 10 }),
        others[1]!
          .openai(village)
          .chat.completions.create({ model: 'small', messages: marker('low-2'), max_tokens: 10 }),
      ];
      await eventually(async () => {
        const stats = await request(village.url).get('/api/llm/queue').set('authorization', `Bearer ${ADMIN_TOKEN}`);
        return stats.body.waiting >= 1;
      }, 'calls waiting in the queue');
      await new Promise((resolve) => setTimeout(resolve, 100));
      const first = high
        .openai(second)
        .chat.completions.create({ model: 'small', messages: marker('high'), max_tokens: 10 });
      await Promise.all([blocker, first, ...waiting]);
      const order = alpha.requests.map((r) => String((r.body.messages as { content: string }[])[0]!.content));
      assert.equal(order[0], 'from blocker');
      assert.equal(order[1], 'from high', `the tier-2 call went first: ${order.join(', ')}`);
      const stats = await request(village.url)
        .get('/api/llm/queue')
        .set('authorization', `Bearer ${ADMIN_TOKEN}`)
        .expect(200);
      assert.ok(stats.body.waitMs.samples >= 1);
      assert.ok(alpha.maxInFlight <= 1, 'the upstream never had more than its limit');
    } finally {
      await request(village.url)
        .put('/api/llm/upstreams/alpha')
        .set('authorization', `Bearer ${ADMIN_TOKEN}`)
        .send({ baseUrl: alpha.baseUrl, models: ['small', 'large'], maxConcurrency: 4, timeoutMs: 2000 })
        .expect(200);
    }
  });

  test('an upstream that refuses connections is routed around; when none answers the error is loud', async () => {
    await request(village.url)
      .put('/api/llm/upstreams/beta')
      .set('authorization', `Bearer ${ADMIN_TOKEN}`)
      .send({ baseUrl: beta.baseUrl, models: ['small'], maxConcurrency: 4, timeoutMs: 2000 })
      .expect(200);
    const gus = await agent(20_000);
    try {
      await alpha.behave({ refuseConnections: true });
      for (let i = 0; i < 3; i++) {
        const answer = await gus.openai().chat.completions.create({ model: 'small', messages: hello, max_tokens: 50 });
        assert.ok(answer.choices[0]);
      }
      assert.equal(beta.requests.length, 3);
      await beta.behave({ refuseConnections: true });
      await refused(
        gus.openai().chat.completions.create({ model: 'small', messages: hello, max_tokens: 50 }),
        503,
        'no_upstream',
        /no upstream answered for model "small"/,
      );
      await eventually(
        () => events.some((event) => event.type === 'compute.upstream_health' && !event.healthy),
        'an upstream-down event',
      );
      const usage = await settled(gus.id, 4);
      assert.equal(usage.at(-1).status, 'upstream_error');
      assert.equal(Number(usage.at(-1).price), 0, 'no charge when nothing answered');
    } finally {
      await alpha.behave({ refuseConnections: false });
      await beta.behave({ refuseConnections: false });
      await request(village.url)
        .delete('/api/llm/upstreams/beta')
        .set('authorization', `Bearer ${ADMIN_TOKEN}`)
        .expect(204);
    }
  });

  test('garbage, a stall and a drop mid-stream: an OpenAI error, and no charge beyond what was used', async () => {
    const hana = await agent(20_000);
    await alpha.behave({ garbage: true });
    await refused(
      hana.openai().chat.completions.create({ model: 'small', messages: hello, max_tokens: 50 }),
      502,
      'bad_upstream_response',
      /not an OpenAI response/,
    );
    await alpha.behave({ stall: true });
    await refused(
      hana.openai().chat.completions.create({ model: 'small', messages: hello, max_tokens: 50 }),
      504,
      'upstream_timeout',
      /did not answer model "small" within 2000 ms/,
    );
    await alpha.behave({ dropAfterChunks: 5 });
    const stream = await hana
      .openai()
      .chat.completions.create({ model: 'small', messages: hello, max_tokens: 300, stream: true });
    await assert.rejects(async () => {
      for await (const chunk of stream) void chunk;
    });
    const usage = await eventually(async () => {
      const rows = await usageOf(hana.id);
      return rows.length === 3 ? rows : undefined;
    }, 'three usage records');
    assert.deepEqual(
      usage.map((row) => [row.status, row.usage_source, Number(row.price) > 0]),
      [
        ['upstream_error', 'none', false],
        ['timeout', 'none', false],
        ['upstream_error', 'estimated', true],
      ],
    );
    assert.ok(Number(usage[2].price) < 300 * 2, 'the broken stream cost less than its hold');
    assert.equal(await balanceOf(hana.id), 20_000 - Number(usage[2].price));
    assert.equal((await village.admin.balance(hana.id)).held, 0);
    assert.equal((await verifyLedger(database)).firstDiscrepancy, null);
  });

  test('the loop breaker pauses an agent that spends too fast; a moderator resumes it', async () => {
    const breakerEnv = await createTestEnvironment({
      VILLAGE_TICK_MS: '60000',
      VILLAGE_LLM_UPSTREAMS: JSON.stringify([
        { name: 'alpha', baseUrl: alpha.baseUrl, models: ['small'], maxConcurrency: 4, timeoutMs: 2000 },
      ]),
      VILLAGE_LLM_COMMONS_TOKENS_PER_HOUR: '0',
      VILLAGE_LLM_SPEND_LIMIT: '100',
      VILLAGE_LLM_DEFAULT_PRICES: '1000000,2000000',
    });
    const app = await startTestApp(breakerEnv);
    const seen: WorldEvent[] = [];
    app.app.get(EventBus).subscribe((batch) => seen.push(...batch));
    try {
      const ivy = await app.admin.createAgent({ id: 'ivy', displayName: 'Ivy' });
      await app.admin.createTransfer({
        debitAccount: 'treasury',
        creditAccount: 'agent:ivy',
        amount: 10_000,
        reason: 'grant',
      });
      const client = new OpenAI({ baseURL: `${app.url}/v1`, apiKey: ivy.token, maxRetries: 0, logLevel: 'off' });
      const call = () => client.chat.completions.create({ model: 'small', messages: hello, max_tokens: 30 });
      let calls = 0;
      while (calls < 10) {
        try {
          await call();
          calls++;
        } catch (error) {
          assert.ok(error instanceof OpenAI.APIError && error.status === 403, String(error));
          assert.equal(error.code, 'agent_paused');
          assert.match(error.message, /paused by the loop breaker \(spent .* within 60 s/);
          break;
        }
      }
      assert.ok(calls >= 2 && calls < 10, `paused after ${calls} calls`);
      assert.ok(seen.some((event) => event.type === 'agent.compute_paused' && event.agentId === 'ivy'));
      assert.ok((await app.admin.agent('ivy')).economy.computePaused);
      await request(app.url)
        .post('/api/agents/ivy/compute/resume')
        .set('authorization', `Bearer ${ADMIN_TOKEN}`)
        .send({ reason: 'fixed its loop' })
        .expect(200);
      assert.ok(await call());
      await request(app.url)
        .post('/api/agents/ivy/compute/resume')
        .set('authorization', `Bearer ${ADMIN_TOKEN}`)
        .send({ reason: 'again' })
        .expect(409);
    } finally {
      await app.close();
      await breakerEnv.dispose();
    }
  });

  test('usage and spend are listed for the console', async () => {
    const page = await request(village.url)
      .get('/api/usage')
      .query({ range: JSON.stringify([0, 4]), filter: JSON.stringify({ model: 'small' }) })
      .set('authorization', `Bearer ${ADMIN_TOKEN}`)
      .expect(200);
    assert.match(String(page.headers['content-range']), /^usage 0-4\/\d+$/);
    const agentId = page.body[0].agentId;
    const summary = await request(village.url).get(`/api/usage/summary/${agentId}`).expect(200);
    assert.ok(summary.body.requests >= 1);
    assert.equal(summary.body.byModel[0].model, 'small');
    const prices = await request(village.url).get('/api/llm/models').expect(200);
    assert.deepEqual(
      prices.body.find((m: { name: string }) => m.name === 'small'),
      {
        id: 'small',
        name: 'small',
        ...PRICE,
        isDefault: false,
      },
    );
    const upstreams = await request(village.url)
      .get('/api/llm/upstreams')
      .set('authorization', `Bearer ${ADMIN_TOKEN}`)
      .expect(200);
    assert.equal(upstreams.body[0].name, 'alpha');
    assert.equal('apiKey' in upstreams.body[0], false);
  });
});
