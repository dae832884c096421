// `npm run bench -- payments`: PayPal webhook deliveries through one control plane (in this process, so the
// test CA's certificate can be served by a fake of the transport: no network). Measures how long PayPal waits
// for its answer (store first, verify later), how fast the queue verifies and credits, and checks that ten
// copies of every event credit once and that the reconciliation and the ledger agree afterwards.
import { PaypalTransport } from '../src/payments/paypal-transport.js';
import { createPaypalTestCa } from '../test/support/paypal-test-ca.js';
import {
  TEST_CERT_URL,
  captureCompleted,
  captureId,
  fakePaypalNetwork,
  signDelivery,
  type SignedDelivery,
} from '../test/support/paypal-webhook-sender.js';
import { createTestEnvironment, startTestApp } from '../test/support/test-app.js';
import { inBatches } from './batches.js';
import { percentile } from './load.js';
import { ms, printColumns } from './table.js';

const EVENTS = Number(process.env.BENCH_PAYMENT_EVENTS ?? 2000);
const COPIES = Number(process.env.BENCH_PAYMENT_COPIES ?? 10);
const AGENTS = Number(process.env.BENCH_PAYMENT_AGENTS ?? 100);
const CLIENTS = Number(process.env.BENCH_PAYMENT_CLIENTS ?? 32);
const WEBHOOK_ID = 'WH-BENCH';

const ca = await createPaypalTestCa();
const environment = await createTestEnvironment({
  VILLAGE_TICK_MS: '60000',
  VILLAGE_PAYPAL_WEBHOOK_ID: WEBHOOK_ID,
  VILLAGE_PAYPAL_CA_FILE: ca.caFile,
  LOG_LEVEL: 'warn',
});
const village = await startTestApp(environment);
village.app.get(PaypalTransport).fetch = fakePaypalNetwork({ [TEST_CERT_URL]: ca.chainPem }).fetch;

try {
  const agents = Array.from({ length: AGENTS }, (_, i) => `bench-payee-${i}`);
  await inBatches(AGENTS, 20, (i) => village.admin.createAgent({ id: agents[i]!, displayName: agents[i]! }));

  const deliver = async (delivery: SignedDelivery) => {
    const started = performance.now();
    const response = await fetch(`${village.url}/api/payments/paypal/webhook`, {
      method: 'POST',
      headers: delivery.headers,
      body: new Uint8Array(delivery.body),
    });
    await response.arrayBuffer();
    if (response.status !== 200) throw new Error(`webhook answered ${response.status}`);
    return performance.now() - started;
  };
  const settledCount = async () =>
    (await village.admin.webhookEvents({ filter: { status: ['processed', 'ignored', 'rejected', 'failed'] } })).total;

  async function phase(name: string, deliveries: SignedDelivery[], expectSettled: number) {
    const latencies: number[] = [];
    const started = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: CLIENTS }, async () => {
        while (next < deliveries.length) latencies.push(await deliver(deliveries[next++]!));
      }),
    );
    const answered = performance.now() - started;
    while ((await settledCount()) < expectSettled) await new Promise((resolve) => setTimeout(resolve, 100));
    const settled = performance.now() - started;
    return [
      name,
      String(deliveries.length),
      ms(percentile(latencies, 50)),
      ms(percentile(latencies, 99)),
      (deliveries.length / (answered / 1000)).toFixed(0),
      (expectSettled / (settled / 1000)).toFixed(0),
      ms(settled),
    ];
  }

  const events = Array.from({ length: EVENTS }, (_, i) =>
    captureCompleted({ captureId: captureId(), value: '1.00', customId: agents[i % AGENTS] }),
  );
  const unique = events.map((body) => signDelivery(body, { webhookId: WEBHOOK_ID, key: ca.signer.key }));
  const rows = [await phase('distinct captures', unique, EVENTS)];
  // PayPal's retries and replays: every event again, COPIES times, re-signed as PayPal does when it retries.
  const copies = events
    .slice(0, Math.ceil(EVENTS / 10))
    .flatMap((body) =>
      Array.from({ length: COPIES }, () => signDelivery(body, { webhookId: WEBHOOK_ID, key: ca.signer.key })),
    );
  rows.push(await phase(`${COPIES} copies of ${Math.ceil(EVENTS / 10)} of them`, copies, EVENTS));
  printColumns(
    ['phase', 'deliveries', 'answer p50', 'answer p99', 'answered/s', 'settled/s', 'all settled after'],
    rows,
    { first: 1, last: 6 },
  );

  const deposits = (await village.admin.deposits({ range: [0, 0] })).total;
  const report = await village.admin.reconciliation();
  const verification = await village.admin.verifyLedger();
  const balances = await Promise.all(agents.map(async (id) => (await village.admin.balance(id)).balance));
  const credited = balances.reduce((sum, balance) => sum + balance, 0);
  console.log(
    `\ndeposits ${deposits} (expected ${EVENTS}); credited ${credited} mills (expected ${EVENTS * 1000}); ` +
      `reconciliation ${report.ok ? 'ok' : 'NOT OK'}; ledger ${verification.ok ? 'verified' : 'NOT VERIFIED'} (${verification.transfers} transfers)`,
  );
  if (deposits !== EVENTS || credited !== EVENTS * 1000 || !report.ok || !verification.ok) process.exitCode = 1;
} finally {
  await village.close();
  await environment.dispose();
  await ca.dispose();
}
