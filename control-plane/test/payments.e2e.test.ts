import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import pg from 'pg';
import {
  VillageApiError,
  WebhookEventSchema,
  type Deposit,
  type WebhookEvent,
  type WorldEvent,
} from '../src/contract/index.js';
import { PaypalTransport } from '../src/payments/paypal-transport.js';
import { createPaypalTestCa, type PaypalTestCa } from './support/paypal-test-ca.js';
import {
  TEST_CERT_URL,
  captureCompleted,
  captureId,
  captureRefunded,
  fakePaypalNetwork,
  signDelivery,
  type FakePaypalNetwork,
  type SignedDelivery,
} from './support/paypal-webhook-sender.js';
import {
  ADMIN_TOKEN,
  createTestEnvironment,
  eventually,
  signUpPerson,
  startTestApp,
  type TestApp,
  type TestEnvironment,
} from './support/test-app.js';
import { TEST_REDIS_URL } from './support/test-database.js';

const WEBHOOK_ID = 'WH-VILLAGE-TEST-1';
const FORGED_CERT_URL = 'https://api.paypal.com/v1/notifications/certs/CERT-forged';

/**
 * Deposits end to end, over HTTP with real PostgreSQL, Redis and BullMQ: PayPal deliveries signed by
 * a certificate authority the test makes (no network: the certificate is served by a fake of the
 * transport, keyed by URL), manual credits, refunds, suspense, and the reconciliation.
 */
describe('payments', () => {
  let ca: PaypalTestCa;
  let environment: TestEnvironment;
  let village: TestApp;
  let network: FakePaypalNetwork;
  let database: pg.Pool;
  let agents = 0;

  before(async () => {
    ca = await createPaypalTestCa();
    environment = await createTestEnvironment({
      VILLAGE_TICK_MS: '60000',
      VILLAGE_PAYPAL_WEBHOOK_ID: WEBHOOK_ID,
      VILLAGE_PAYPAL_CA_FILE: ca.caFile,
      VILLAGE_PAYMENT_CURRENCY: 'USD',
      VILLAGE_PAYMENT_MILLS_PER_MINOR_UNIT: '10',
    });
    village = await startTestApp(environment);
    network = fakePaypalNetwork({ [TEST_CERT_URL]: ca.chainPem, [FORGED_CERT_URL]: ca.forged.pem });
    village.app.get(PaypalTransport).fetch = network.fetch;
    database = new pg.Pool({ connectionString: environment.database.url, max: 2 });
  });

  after(async () => {
    await database?.end();
    await village?.close();
    await environment?.dispose();
    await ca?.dispose();
  });

  async function agent() {
    const id = `payee${++agents}`;
    await village.admin.createAgent({ id, displayName: `Payee ${agents}` });
    return id;
  }

  const balance = async (agentId: string) => (await village.admin.balance(agentId)).balance;

  async function deliver(delivery: SignedDelivery) {
    const response = await fetch(`${village.url}/api/payments/paypal/webhook`, {
      method: 'POST',
      headers: delivery.headers,
      body: new Uint8Array(delivery.body),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  }

  const signed = (body: string, options: { webhookId?: string; key?: string; certUrl?: string } = {}) =>
    signDelivery(body, { webhookId: options.webhookId ?? WEBHOOK_ID, key: options.key ?? ca.signer.key, ...options });

  /** Waits until the delivery is past the queue, and returns it. */
  async function settled(id: number): Promise<WebhookEvent> {
    let last: WebhookEvent | undefined;
    return eventually(async () => {
      last = await village.admin.webhookEvent(id);
      return ['processed', 'ignored', 'rejected', 'failed'].includes(last.status) ? last : undefined;
    }, `webhook event ${id} to be settled`).catch((error: Error) => {
      throw new Error(`${error.message} (${last?.status}: ${last?.error})`);
    });
  }

  async function depositOf(transactionId: string): Promise<Deposit | undefined> {
    const page = await village.admin.deposits({ filter: { transactionId } });
    return page.items[0];
  }

  const transfersWithKey = async (key: string) =>
    Number(
      (await database.query('SELECT count(*) FROM ledger_transfers WHERE idempotency_key = $1', [key])).rows[0].count,
    );

  /** The events on the Redis stream, of the given type. */
  async function streamEvents(type: string): Promise<WorldEvent[]> {
    const redis = new Redis(TEST_REDIS_URL);
    try {
      const entries = await redis.xrange(`${environment.redisPrefix}events`, '-', '+');
      return entries.map(([, fields]) => JSON.parse(fields[3]!) as WorldEvent).filter((event) => event.type === type);
    } finally {
      redis.disconnect();
    }
  }

  async function refused(call: Promise<unknown>, status: number, message: RegExp) {
    await assert.rejects(call, (error: unknown) => {
      assert.ok(error instanceof VillageApiError, String(error));
      assert.equal(error.status, status, error.message);
      assert.match(error.body?.message ?? '', message);
      return true;
    });
  }

  test('a correctly signed capture credits the agent in custom_id once, audited and on the event stream', async () => {
    const ada = await agent();
    const capture = captureId();
    const answer = await deliver(signed(captureCompleted({ captureId: capture, value: '12.34', customId: ada })));
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.equal(answer.body.status, 'received');
    assert.equal(answer.body.duplicate, false);
    const event = await settled(Number(answer.body.id));
    assert.equal(event.status, 'processed', event.error ?? '');
    assert.equal(event.verifiedBy, 'certificate');
    assert.equal(await balance(ada), 12_340);
    const deposit = await depositOf(capture);
    assert.ok(deposit);
    assert.equal(deposit.status, 'credited');
    assert.equal(deposit.agentId, ada);
    assert.equal(deposit.amount, '12.34');
    assert.equal(deposit.mills, 12_340);
    assert.equal(deposit.webhookEventId, event.id);
    const transfer = await village.admin.transfers({ filter: { id: deposit.transferId } });
    assert.equal(transfer.items[0]?.idempotencyKey, `paypal:capture:${capture}`);
    assert.equal(transfer.items[0]?.reason, 'deposit_credit');
    assert.match(transfer.items[0]?.debitAccount ?? '', /^deposits_clearing#/);
    // The raw bytes are kept as they came.
    assert.equal(JSON.parse((await village.admin.webhookEvent(event.id)).body).resource.id, capture);

    const audit = await village.admin.audit({ filter: { subjectType: ['payment_webhook_event', 'deposit'] } });
    const actions = audit.items
      .filter((entry) => entry.subject.id === String(event.id) || entry.subject.id === String(deposit.id))
      .map((entry) => entry.action);
    for (const action of [
      'payment.webhook_received',
      'payment.webhook_verified',
      'payment.webhook_processed',
      'payment.credited',
    ]) {
      assert.ok(actions.includes(action), `${action} in ${actions.join(', ')}`);
    }
    const credited = await eventually(
      async () => (await streamEvents('payment.credited')).find((e) => 'depositId' in e && e.depositId === deposit.id),
      'payment.credited on the stream',
    );
    assert.deepEqual(
      { agentId: (credited as { agentId: string }).agentId, mills: (credited as { mills: number }).mills },
      { agentId: ada, mills: 12_340 },
    );
    assert.ok(
      (await streamEvents('payment.event_verified')).some(
        (e) => 'webhookEventId' in e && e.webhookEventId === event.id,
      ),
    );
  });

  test('ten duplicate deliveries (and PayPal re-signing the same event) still credit once', async () => {
    const bob = await agent();
    const capture = captureId();
    const body = captureCompleted({ captureId: capture, value: '5.00', customId: bob });
    const delivery = signed(body);
    const answers = await Promise.all(Array.from({ length: 10 }, () => deliver(delivery)));
    assert.deepEqual(new Set(answers.map((answer) => answer.status)), new Set([200]));
    const ids = new Set(answers.map((answer) => answer.body.id));
    assert.equal(ids.size, 1, 'one stored delivery');
    assert.equal(answers.filter((answer) => answer.body.duplicate === false).length, 1);
    const event = await settled(Number([...ids][0]));
    assert.equal(event.status, 'processed');
    assert.equal(event.deliveries, 10);
    // PayPal's retry: the same body with a fresh transmission and signature.
    const retried = await deliver(signed(body));
    assert.equal(retried.body.id, event.id);
    assert.equal(retried.body.duplicate, true);
    // Another event for the same capture (a replay under a new event id): recorded, not credited again.
    const again = await deliver(signed(captureCompleted({ captureId: capture, value: '5.00', customId: bob })));
    const second = await settled(Number(again.body.id));
    assert.equal(second.status, 'processed');
    assert.match(second.note ?? '', /already deposit/);
    assert.equal(await balance(bob), 5_000);
    assert.equal(await transfersWithKey(`paypal:capture:${capture}`), 1);
    assert.equal((await village.admin.deposits({ filter: { transactionId: capture } })).total, 1);
  });

  test('a changed byte, a wrong webhook id, a wrong key or a forged certificate credit nothing', async () => {
    const cara = await agent();
    const cases: { name: string; delivery: SignedDelivery; reason: RegExp }[] = [];
    const original = signed(captureCompleted({ captureId: captureId(), value: '10.00', customId: cara }));
    const oneByte = Buffer.from(original.body.toString('utf8').replace('"10.00"', '"90.00"'));
    assert.equal(oneByte.length, original.body.length);
    cases.push({
      name: 'one byte changed',
      delivery: { body: oneByte, headers: original.headers },
      reason: /signature does not match/,
    });
    cases.push({
      name: 'wrong webhook id',
      delivery: signed(captureCompleted({ captureId: captureId(), value: '10.00', customId: cara }), {
        webhookId: 'WH-SOMEONE-ELSE',
      }),
      reason: /signature does not match/,
    });
    cases.push({
      name: 'wrong key',
      delivery: signed(captureCompleted({ captureId: captureId(), value: '10.00', customId: cara }), {
        key: ca.strayKey,
      }),
      reason: /signature does not match/,
    });
    cases.push({
      name: "a forger's self-signed certificate on PayPal's host",
      delivery: signed(captureCompleted({ captureId: captureId(), value: '10.00', customId: cara }), {
        key: ca.forged.key,
        certUrl: FORGED_CERT_URL,
      }),
      reason: /does not chain to a trusted authority/,
    });
    cases.push({
      name: 'a signature that is not one',
      delivery: {
        body: original.body,
        headers: {
          ...signed(captureCompleted({ captureId: captureId(), value: '1.00' })).headers,
          'paypal-transmission-sig': 'AAAA',
        },
      },
      reason: /signature does not match/,
    });
    for (const { name, delivery, reason } of cases) {
      const answer = await deliver(delivery);
      assert.equal(answer.status, 200, `${name}: stored first, verified from the queue`);
      const event = await settled(Number(answer.body.id));
      assert.equal(event.status, 'rejected', name);
      assert.match(event.error ?? '', reason, name);
    }
    assert.equal(await balance(cara), 0);
    assert.equal((await village.admin.deposits({ filter: { requestedAgentId: cara } })).total, 0);
    const rejected = await streamEvents('payment.rejected');
    assert.ok(rejected.length >= cases.length);
  });

  test('refused at the door: a foreign certificate host, missing headers, a body that is not an event', async () => {
    const dan = await agent();
    const requestsBefore = network.requests.length;
    const foreign = signed(captureCompleted({ captureId: captureId(), value: '10.00', customId: dan }), {
      certUrl: 'https://evil.example.com/v1/notifications/certs/CERT-1',
    });
    const answer = await deliver(foreign);
    assert.equal(answer.status, 400);
    assert.match(String(answer.body.message), /evil\.example\.com, which is not one of PayPal's certificate hosts/);
    const plainHttp = signed(captureCompleted({ captureId: captureId(), value: '10.00', customId: dan }), {
      certUrl: 'http://api.paypal.com/v1/notifications/certs/CERT-1',
    });
    assert.match(String((await deliver(plainHttp)).body.message), /must be https/);
    // Nothing was fetched from anywhere for them.
    assert.equal(network.requests.length, requestsBefore);

    const unsigned = {
      body: Buffer.from(captureCompleted({ captureId: captureId(), value: '1.00' })),
      headers: { 'content-type': 'application/json' },
    };
    const missing = await deliver(unsigned);
    assert.equal(missing.status, 400);
    assert.match(String(missing.body.message), /missing or repeated headers: PAYPAL-TRANSMISSION-ID/);
    const notJson = await deliver(signed('{"id": "WH-1", '));
    assert.match(String(notJson.body.message), /not JSON/);
    const noId = await deliver(signed(JSON.stringify({ event_type: 'PAYMENT.CAPTURE.COMPLETED' })));
    assert.match(String(noId.body.message), /no valid "id"/);

    // Every one of them is stored, as rejected.
    const rejected = await village.admin.webhookEvents({ filter: { status: 'rejected' }, range: [0, 999] });
    const messages = rejected.items.map((event) => event.error ?? '');
    assert.ok(messages.some((message) => /evil\.example\.com/.test(message)));
    assert.ok(messages.some((message) => /not JSON/.test(message)));
    assert.equal(await balance(dan), 0);

    // A wrong content type is refused before anything is stored; so is an oversized body.
    const text = await fetch(`${village.url}/api/payments/paypal/webhook`, {
      method: 'POST',
      headers: { ...foreign.headers, 'content-type': 'text/plain' },
      body: new Uint8Array(foreign.body),
    });
    assert.equal(text.status, 415);
    const huge = signed(JSON.stringify({ id: 'WH-HUGE', event_type: 'X', padding: 'x'.repeat(200_000) }));
    assert.equal((await deliver(huge)).status, 413);
  });

  test('an unknown event type and an amount in another currency are recorded and credit nothing', async () => {
    const eve = await agent();
    const unknown = await deliver(
      signed(
        JSON.stringify({
          id: `WH-CHECKOUT-${Date.now()}`,
          event_type: 'CHECKOUT.ORDER.APPROVED',
          resource: { id: 'ORDER1' },
        }),
      ),
    );
    const ignored = await settled(Number(unknown.body.id));
    assert.equal(ignored.status, 'ignored');
    assert.match(ignored.error ?? '', /does not act on CHECKOUT\.ORDER\.APPROVED/);

    const capture = captureId();
    const euros = await deliver(
      signed(captureCompleted({ captureId: capture, value: '10.00', currency: 'EUR', customId: eve })),
    );
    const refusedEvent = await settled(Number(euros.body.id));
    assert.equal(refusedEvent.status, 'ignored');
    assert.match(refusedEvent.error ?? '', /in EUR; the village takes USD only/);
    const deposit = await depositOf(capture);
    assert.equal(deposit?.status, 'refused');
    assert.equal(deposit?.mills, 0);
    assert.equal(deposit?.transferId, null);
    assert.equal(await balance(eve), 0);
    assert.ok(
      (await streamEvents('payment.ignored')).some(
        (e) => 'webhookEventId' in e && e.webhookEventId === refusedEvent.id,
      ),
    );
  });

  test('a refund debits the agent; what the agent has spent is recorded as a shortfall', async () => {
    const fay = await agent();
    const capture = captureId();
    await settled(
      Number((await deliver(signed(captureCompleted({ captureId: capture, value: '10.00', customId: fay })))).body.id),
    );
    assert.equal(await balance(fay), 10_000);

    const partial = await deliver(signed(captureRefunded({ captureId: capture, value: '4.00' })));
    const refundEvent = await settled(Number(partial.body.id));
    assert.equal(refundEvent.status, 'processed', refundEvent.error ?? '');
    assert.equal(await balance(fay), 6_000);

    // The agent spends 5 of its 6 aiDollars; the rest of the money is then refunded.
    await village.admin.createTransfer({
      debitAccount: `agent:${fay}`,
      creditAccount: 'burn',
      amount: 5_000,
      reason: 'transfer',
    });
    const rest = await deliver(signed(captureRefunded({ captureId: capture, value: '6.00' })));
    await settled(Number(rest.body.id));
    assert.equal(await balance(fay), 0);
    const refunds = await village.admin.depositRefunds({ filter: { transactionId: capture }, sort: ['id', 'ASC'] });
    assert.deepEqual(
      refunds.items.map((refund) => [refund.status, refund.mills, refund.taken, refund.shortfall]),
      [
        ['applied', 4_000, 4_000, 0],
        ['applied', 6_000, 1_000, 5_000],
      ],
    );
    assert.match(refunds.items[1]?.note ?? '', /1000 mills available: 1000 of 6000 taken back, 5000 could not be/);
    const deposit = await depositOf(capture);
    assert.deepEqual([deposit?.refundedMinor, deposit?.refundedMills, deposit?.shortfallMills], [1_000, 5_000, 5_000]);
    // A refund delivered again takes nothing again.
    const duplicate = await deliver(
      signed(Buffer.from((await village.admin.webhookEvent(refundEvent.id)).body).toString()),
    );
    assert.equal(duplicate.body.duplicate, true);
    const refunded = await streamEvents('payment.refunded');
    assert.ok(refunded.some((e) => 'shortfall' in e && e.shortfall === 5_000));
  });

  test('a refund that arrives before its capture waits for it, then both apply once', async () => {
    const gus = await agent();
    const capture = captureId();
    const early = await deliver(signed(captureRefunded({ captureId: capture, value: '3.00' })));
    const waitingEvent = await settled(Number(early.body.id));
    assert.equal(waitingEvent.status, 'processed');
    assert.match(waitingEvent.note ?? '', /has not arrived yet/);
    const waiting = await village.admin.depositRefunds({ filter: { transactionId: capture } });
    assert.equal(waiting.items[0]?.status, 'waiting');

    await settled(
      Number((await deliver(signed(captureCompleted({ captureId: capture, value: '10.00', customId: gus })))).body.id),
    );
    assert.equal(await balance(gus), 7_000);
    const applied = await village.admin.depositRefunds({ filter: { transactionId: capture } });
    assert.equal(applied.items[0]?.status, 'applied');
    assert.equal(applied.items[0]?.taken, 3_000);
  });

  test('money for an unknown agent waits in suspense until an admin assigns it', async () => {
    const capture = captureId();
    const suspenseBefore = Number(
      (await database.query(`SELECT sum(balance) AS b FROM ledger_accounts WHERE name = 'suspense'`)).rows[0].b,
    );
    const answer = await deliver(
      signed(captureCompleted({ captureId: capture, value: '2.50', customId: 'nobody-here' })),
    );
    const event = await settled(Number(answer.body.id));
    assert.match(event.note ?? '', /parked in suspense: custom_id "nobody-here" names no agent/);
    const parked = await depositOf(capture);
    assert.equal(parked?.status, 'suspense');
    assert.equal(parked?.agentId, null);
    const suspenseAfter = Number(
      (await database.query(`SELECT sum(balance) AS b FROM ledger_accounts WHERE name = 'suspense'`)).rows[0].b,
    );
    assert.equal(suspenseAfter - suspenseBefore, 2_500);
    assert.ok((await streamEvents('payment.parked')).some((e) => 'depositId' in e && e.depositId === parked?.id));

    const hal = await agent();
    const moderator = await signUpPerson(village.url, `mod${Date.now() % 100000}`);
    await refused(moderator.client.assignDeposit(parked!.id, { agentId: hal, reason: 'mine' }), 403, /needs an admin/);
    await refused(village.admin.assignDeposit(parked!.id, { agentId: 'ghost', reason: 'x' }), 404, /no agent/);
    const assigned = await village.admin.assignDeposit(parked!.id, { agentId: hal, reason: 'the payer wrote to us' });
    assert.equal(assigned.status, 'credited');
    assert.equal(assigned.agentId, hal);
    assert.equal(await balance(hal), 2_500);
    await refused(
      village.admin.assignDeposit(parked!.id, { agentId: hal, reason: 'again' }),
      409,
      /only money in suspense can be assigned/,
    );
    assert.equal(await balance(hal), 2_500);
    const audit = await village.admin.audit({ filter: { action: 'payment.assigned', subjectId: String(parked!.id) } });
    assert.equal(audit.items[0]?.reason, 'the payer wrote to us');
  });

  test('manual credit is idempotent by transaction id, and a later webhook for it credits nothing', async () => {
    const ivy = await agent();
    const transactionId = captureId();
    const entry = {
      transactionId: transactionId.toLowerCase(),
      amount: '20.00',
      currency: 'USD',
      agentId: ivy,
      memo: 'paid by bank',
    };
    const first = await fetch(`${village.url}/api/payments/deposits`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify(entry),
    });
    assert.equal(first.status, 201);
    const deposit = (await first.json()) as Deposit;
    assert.equal(deposit.transactionId, transactionId, 'stored in capitals, as PayPal writes it');
    assert.equal(deposit.source, 'manual');
    assert.equal(deposit.enteredBy, 'system');
    const again = await village.admin.enterDeposit(entry);
    assert.equal(again.id, deposit.id);
    assert.equal(await balance(ivy), 20_000);
    await refused(village.admin.enterDeposit({ ...entry, amount: '21.00' }), 409, /already deposit .* credited once/);
    await refused(
      village.admin.enterDeposit({ ...entry, transactionId: captureId(), currency: 'EUR' }),
      400,
      /USD only/,
    );
    await refused(village.admin.enterDeposit({ ...entry, transactionId: captureId(), amount: '1.234' }), 400, /amount/);
    await refused(
      village.admin.enterDeposit({ ...entry, transactionId: captureId(), agentId: 'ghost' }),
      404,
      /no agent/,
    );
    await refused(village.admin.enterDeposit({ ...entry, transactionId: 'x' }), 400, /transactionId/);
    const person = await signUpPerson(village.url, `payer${Date.now() % 100000}`);
    await refused(person.client.enterDeposit({ ...entry, transactionId: captureId() }), 403, /needs an admin/);
    assert.equal(await balance(ivy), 20_000);

    const webhook = await deliver(
      signed(captureCompleted({ captureId: transactionId, value: '20.00', customId: ivy })),
    );
    const event = await settled(Number(webhook.body.id));
    assert.equal(event.status, 'processed');
    assert.match(event.note ?? '', new RegExp(`already deposit ${deposit.id} \\(manual\\)`));
    assert.equal(await balance(ivy), 20_000);
    assert.equal(await transfersWithKey(`paypal:capture:${transactionId}`), 1);
  });

  test('lists follow ra-data-simple-rest, and the reconciliation matches the ledger', async () => {
    const response = await fetch(
      `${village.url}/api/payments/deposits?sort=${encodeURIComponent('["id","ASC"]')}&range=${encodeURIComponent('[0,1]')}`,
      { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } },
    );
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-range') ?? '', /^deposits 0-1\/\d+$/);
    const events = await fetch(
      `${village.url}/api/payments/webhook-events?filter=${encodeURIComponent('{"status":"processed"}')}`,
      {
        headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      },
    );
    const listed = WebhookEventSchema.array().parse(await events.json());
    assert.ok(listed.length > 0 && listed.every((event) => event.status === 'processed'));
    assert.equal((await fetch(`${village.url}/api/payments/deposits`)).status, 401);
    const badFilter = await fetch(`${village.url}/api/payments/deposits?filter=${encodeURIComponent('{"nope":1}')}`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    assert.equal(badFilter.status, 400);

    const report = await village.admin.reconciliation();
    assert.equal(report.ok, true, JSON.stringify(report.rows.filter((row) => !row.matches)));
    assert.equal(report.rows.length, 7);
    assert.ok(report.ledger);
    assert.equal(report.ledger.depositsClearingBalance, report.ledger.expectedDepositsClearingBalance);
    assert.deepEqual(report.ledger.transfersWithoutDeposit, []);
    const credited = report.rows.filter((row) => row.status !== 'refused');
    assert.ok(credited.every((row) => row.ledgerCreditMills === row.expectedMills));
    assert.equal(report.totals.waitingRefunds, 0);
    const csv = await village.admin.reconciliationCsv();
    const lines = csv.trim().split('\r\n');
    assert.equal(lines.length, report.rows.length + 1);
    assert.match(lines[0]!, /^depositId,source,transactionId,/);
    assert.equal((await village.admin.verifyLedger()).ok, true);

    // A transfer made by hand with a deposit's reason is money the deposits cannot explain.
    const jay = await agent();
    const orphan = await village.admin.createTransfer({
      debitAccount: 'deposits_clearing',
      creditAccount: `agent:${jay}`,
      amount: 1_000,
      reason: 'deposit_credit',
    });
    const after = await village.admin.reconciliation();
    assert.equal(after.ok, false);
    assert.deepEqual(after.ledger?.transfersWithoutDeposit, [orphan.id]);
    const bounded = await village.admin.reconciliation({ from: new Date(Date.now() - 3_600_000).toISOString() });
    assert.equal(bounded.ledger, null);
    assert.equal(bounded.ok, true);
    await refused(village.admin.reconciliation({ from: 'yesterday' }), 400, /ISO 8601/);
  });

  test('every Prisma model of the payments tables reads back', async () => {
    const { PrismaPg } = await import('@prisma/adapter-pg');
    const { PrismaClient } = await import('../src/generated/prisma/client.js');
    const prisma = new PrismaClient({ adapter: new PrismaPg({ connectionString: environment.database.url }) });
    try {
      const deposit = await prisma.deposit.findFirstOrThrow({
        include: { refunds: true, transfer: true, webhookEvent: true, agent: true },
      });
      assert.equal(typeof deposit.transactionId, 'string');
      const refund = await prisma.depositRefund.findFirstOrThrow({ include: { deposit: true, transfer: true } });
      assert.ok(refund.refundId);
      const event = await prisma.paymentWebhookEvent.findFirstOrThrow({ include: { deposit: true, refund: true } });
      assert.ok(Buffer.isBuffer(Buffer.from(event.rawBody)));
    } finally {
      await prisma.$disconnect();
    }
  });
});

/** The verify-webhook-signature API as the fallback, in a village with PayPal credentials. */
describe('payments: the verify API fallback', () => {
  let environment: TestEnvironment;
  let village: TestApp;
  let network: FakePaypalNetwork;
  let ca: PaypalTestCa;

  before(async () => {
    ca = await createPaypalTestCa();
    environment = await createTestEnvironment({
      VILLAGE_TICK_MS: '60000',
      VILLAGE_PAYPAL_WEBHOOK_ID: WEBHOOK_ID,
      VILLAGE_PAYPAL_CA_FILE: ca.caFile,
      VILLAGE_PAYPAL_CLIENT_ID: 'test-client',
      VILLAGE_PAYPAL_CLIENT_SECRET: 'test-secret',
      VILLAGE_PAYPAL_API_URL: 'https://api-m.sandbox.paypal.com',
    });
    village = await startTestApp(environment);
    // No certificate is served: offline verification cannot be done, so PayPal's API is asked.
    network = fakePaypalNetwork();
    village.app.get(PaypalTransport).fetch = network.fetch;
  });

  after(async () => {
    await village?.close();
    await environment?.dispose();
    await ca?.dispose();
  });

  async function deliverAndSettle(body: string, certUrl?: string) {
    const delivery = signDelivery(body, { webhookId: WEBHOOK_ID, key: ca.strayKey, ...(certUrl ? { certUrl } : {}) });
    const response = await fetch(`${village.url}/api/payments/paypal/webhook`, {
      method: 'POST',
      headers: delivery.headers,
      body: new Uint8Array(delivery.body),
    });
    const receipt = (await response.json()) as { id: number };
    return eventually(async () => {
      const event = await village.admin.webhookEvent(receipt.id);
      return ['processed', 'ignored', 'rejected', 'failed'].includes(event.status) ? event : undefined;
    }, 'the delivery to settle');
  }

  test("when the certificate cannot be had, PayPal's verdict decides", async () => {
    await village.admin.createAgent({ id: 'kim', displayName: 'Kim' });
    const yes = await deliverAndSettle(captureCompleted({ captureId: captureId(), value: '1.00', customId: 'kim' }));
    assert.equal(yes.status, 'processed', yes.error ?? '');
    assert.equal(yes.verifiedBy, 'api');
    const verify = network.requests.find((request) =>
      request.url.endsWith('/v1/notifications/verify-webhook-signature'),
    );
    assert.ok(verify);
    assert.equal(verify.url, 'https://api-m.sandbox.paypal.com/v1/notifications/verify-webhook-signature');
    const sent = JSON.parse(verify.body!) as { webhook_id: string; webhook_event: { resource: { custom_id: string } } };
    assert.equal(sent.webhook_id, WEBHOOK_ID);
    assert.equal(sent.webhook_event.resource.custom_id, 'kim');
    assert.equal((await village.admin.balance('kim')).balance, 1_000);

    network.verifyAnswer = 'FAILURE';
    const no = await deliverAndSettle(captureCompleted({ captureId: captureId(), value: '1.00', customId: 'kim' }));
    assert.equal(no.status, 'rejected');
    assert.match(no.error ?? '', /answered FAILURE/);
    assert.equal((await village.admin.balance('kim')).balance, 1_000);

    // A certificate URL off PayPal's hosts is never sent to PayPal either.
    const asked = network.requests.length;
    network.verifyAnswer = 'SUCCESS';
    const forged = signDelivery(captureCompleted({ captureId: captureId(), value: '1.00', customId: 'kim' }), {
      webhookId: WEBHOOK_ID,
      key: ca.strayKey,
      certUrl: 'https://paypal.example.com/v1/notifications/certs/CERT-1',
    });
    const answer = await fetch(`${village.url}/api/payments/paypal/webhook`, {
      method: 'POST',
      headers: forged.headers,
      body: new Uint8Array(forged.body),
    });
    assert.equal(answer.status, 400);
    assert.equal(network.requests.length, asked);
    assert.equal((await village.admin.balance('kim')).balance, 1_000);
  });
});
