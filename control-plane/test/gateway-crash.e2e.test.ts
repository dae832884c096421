// The compute gateway through a database crash. A call's hold commits without waiting for its WAL
// flush (it moves no money); a crash in that moment loses it. This suite crashes a PostgreSQL of its
// own (an immediate shutdown) while a call streams, keeps it down while the stream ends, and starts it
// again: the agent got its whole answer, the gateway kept trying to bill it, found the hold gone and
// charged the call directly, once, with its one usage record; and the ledger verifies.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { VillageClient } from '../src/contract/index.js';
import { verifyLedger } from '../src/ledger/ledger-verify.js';
import { eventually } from './support/eventually.js';
import { startFakeUpstream, type FakeUpstream } from './support/fake-llm-upstream.js';
import { ReplicaProcess } from './support/fault-harness.js';
import { freePort } from './support/free-port.js';
import { agentMaker, hello, PRICE, readStream } from './support/gateway.js';
import { PrivatePostgres } from './support/private-postgres.js';
import { ADMIN_TOKEN, createTestEnvironment, type TestEnvironment } from './support/test-app.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('the compute gateway through a database crash', { timeout: 3 * 60_000 }, () => {
  let upstream: FakeUpstream;
  let postgres: PrivatePostgres;
  let environment: TestEnvironment;
  let replica: ReplicaProcess;
  let agent: ReturnType<typeof agentMaker>;

  before(async () => {
    upstream = await startFakeUpstream({ name: 'steady', models: ['small'] });
    // The WAL writer's longest pause (10 s), and no autovacuum (its commits flush the log): an
    // unflushed commit stays unflushed until the crash.
    postgres = new PrivatePostgres(await freePort(), { wal_writer_delay: '10000', autovacuum: 'off' });
    await postgres.start();
    environment = await createTestEnvironment({
      DATABASE_URL: postgres.url,
      VILLAGE_TICK_MS: '60000',
      VILLAGE_LLM_UPSTREAMS: JSON.stringify([
        { name: 'steady', baseUrl: upstream.baseUrl, models: ['small'], maxConcurrency: 4, timeoutMs: 20_000 },
      ]),
      VILLAGE_LLM_COMMONS_TOKENS_PER_HOUR: '0',
      VILLAGE_LLM_SPEND_LIMIT: '1000000',
      VILLAGE_LLM_HEALTH_MS: '60000',
    });
    replica = new ReplicaProcess('survivor', await freePort(), environment.env);
    await replica.start();
    const admin = new VillageClient({ baseUrl: replica.url, token: ADMIN_TOKEN });
    agent = agentMaker({ url: replica.url, admin });
    const priced = await fetch(`${replica.url}/api/llm/models/small`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify(PRICE),
    });
    assert.equal(priced.status, 200, await priced.text());
  });

  after(async () => {
    await replica?.kill();
    await environment?.dispose();
    await postgres?.dispose();
    await upstream?.close();
  });

  test('a hold lost in a crash mid-stream: the answer arrives, and the call is billed once, directly', async () => {
    const ada = await agent(50_000);
    // Sixteen words, 150 ms apart: the stream outlives the crash by about two seconds.
    await upstream.behave({ chunkDelayMs: 150 });
    const streaming = ada
      .openai(undefined, 60_000)
      .chat.completions.create({
        model: 'small',
        messages: hello,
        max_tokens: 50,
        stream: true,
        stream_options: { include_usage: true },
      })
      .then(readStream);
    // The upstream has the call, so its hold was placed: crash before anything flushes it.
    await eventually(() => upstream.requests.length === 1, 'the call at the upstream');
    await postgres.crash();

    const answer = await streaming;
    assert.ok(answer.text.length > 0, 'the agent got its answer while the database was down');
    assert.ok(answer.usage, 'with its usage');
    await sleep(1500); // the gateway's first tries to bill it fail meanwhile
    await postgres.start();

    const database = new pg.Pool({ connectionString: postgres.url, max: 2 });
    try {
      const [usage] = await eventually(
        async () => {
          const { rows } = await database.query('SELECT * FROM llm_usage WHERE agent_id = $1', [ada.id]);
          return rows.length > 0 ? rows : undefined;
        },
        `the call's usage record (replica output: ${replica.output.slice(-1500)})`,
        30_000,
      );
      const cost = answer.usage.prompt_tokens * 1 + answer.usage.completion_tokens * 2;
      assert.equal(usage.prompt_tokens, answer.usage.prompt_tokens);
      assert.equal(usage.completion_tokens, answer.usage.completion_tokens);
      assert.equal(Number(usage.price), cost);

      // The crash lost the hold: no transfer of the agent but its grant and the direct charge.
      const { rows: transfers } = await database.query(
        `SELECT id, kind, amount, idempotency_key FROM ledger_transfers
          WHERE debit_account = $1 OR credit_account = $1 ORDER BY id`,
        [`agent:${ada.id}`],
      );
      assert.deepEqual(
        transfers.map((transfer) => [transfer.kind, Number(transfer.amount)]),
        [
          ['posted', 50_000],
          ['posted', cost],
        ],
        JSON.stringify(transfers),
      );
      assert.equal(transfers[1].idempotency_key, `llm-bill:${usage.request_id}`);
      assert.equal(usage.hold_id, null, 'the record names no hold: it was lost');
      assert.equal(usage.transfer_id, transfers[1].id, 'the record names the charge');
      const { rows: balances } = await database.query('SELECT balance, held FROM ledger_accounts WHERE id = $1', [
        `agent:${ada.id}`,
      ]);
      assert.deepEqual([Number(balances[0].balance), Number(balances[0].held)], [50_000 - cost, 0]);
      assert.equal((await verifyLedger(database)).firstDiscrepancy, null);
      assert.match(replica.output, /the database is unreachable; trying again/);
      assert.match(replica.output, /an LLM hold was lost; charging directly/);
    } finally {
      await database.end();
    }
  });
});
