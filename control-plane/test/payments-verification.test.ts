import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { rootCertificates } from 'node:tls';
import { formatMoney, parseMoney, type Reconciliation } from '../src/contract/index.js';
import { ConfigError, loadConfig } from '../src/config/config.js';
import { DEFAULT_PAYPAL_CERT_HOSTS, DEFAULT_PAYPAL_CERT_NAMES } from '../src/config/payments-settings.js';
import { intentOf } from '../src/payments/paypal-event.js';
import {
  certificateProblem,
  certUrlProblem,
  parsePemChain,
  signatureMatches,
  signedString,
  transmissionOf,
} from '../src/payments/paypal-signature.js';
import { reconciliationCsv } from '../src/payments/reconciliation.service.js';
import { createPaypalTestCa, type PaypalTestCa } from './support/paypal-test-ca.js';
import { captureCompleted, captureRefunded, signDelivery } from './support/paypal-webhook-sender.js';

/** The pure parts of PayPal verification: the allow-list, the signed string, the chain, the event's reading. */
describe('PayPal verification', () => {
  let ca: PaypalTestCa;
  let roots: X509Certificate[];

  before(async () => {
    ca = await createPaypalTestCa();
    roots = parsePemChain(ca.root.pem);
  });
  after(() => ca?.dispose());

  test('certificate URLs: only https on an allow-listed PayPal host, under the certificate path', () => {
    const ok = [
      'https://api.paypal.com/v1/notifications/certs/CERT-360caa42-fca2a594-1d93a270',
      'https://api-m.paypal.com/v1/notifications/certs/CERT-360caa42-fca2a594-1d93a270',
      'https://api.sandbox.paypal.com/v1/notifications/certs/CERT-360caa42-fca2a594-1d93a270',
      'https://API.PAYPAL.COM/v1/notifications/certs/CERT-1',
      'https://api.paypal.com:443/v1/notifications/certs/CERT-1',
    ];
    for (const url of ok) assert.equal(certUrlProblem(url, DEFAULT_PAYPAL_CERT_HOSTS), null, url);
    const refused: [string, RegExp][] = [
      ['http://api.paypal.com/v1/notifications/certs/CERT-1', /must be https/],
      ['https://evil.example.com/v1/notifications/certs/CERT-1', /evil\.example\.com, which is not one of PayPal/],
      ['https://api.paypal.com.evil.example.com/v1/notifications/certs/CERT-1', /not one of PayPal/],
      ['https://evil.example.com/api.paypal.com/v1/notifications/certs/CERT-1', /not one of PayPal/],
      ['https://api.paypal.com@evil.example.com/v1/notifications/certs/CERT-1', /user name|not one of PayPal/],
      ['https://user:pw@api.paypal.com/v1/notifications/certs/CERT-1', /user name/],
      ['https://api.paypal.com:8443/v1/notifications/certs/CERT-1', /port/],
      ['https://api.paypal.com./v1/notifications/certs/CERT-1', /not one of PayPal/],
      ['https://www.paypal.com/v1/notifications/certs/CERT-1', /not one of PayPal/],
      ['https://paypal.com/v1/notifications/certs/CERT-1', /not one of PayPal/],
      ['https://127.0.0.1/v1/notifications/certs/CERT-1', /not one of PayPal/],
      ['https://api.paypal.com/v1/oauth2/token', /certificate under/],
      ['https://api.paypal.com/v1/notifications/certs/../../v1/oauth2/token', /certificate under/],
      ['https://api.paypal.com/v1/notifications/certs/CERT-1?x=1', /certificate under/],
      ['file:///etc/passwd', /must be https/],
      ['not a url', /not a URL/],
    ];
    for (const [url, message] of refused)
      assert.match(certUrlProblem(url, DEFAULT_PAYPAL_CERT_HOSTS) ?? '', message, url);
  });

  test("the signed string is PayPal's: transmission id|time|webhook id|CRC32 (unsigned decimal) of the bytes", () => {
    const body = Buffer.from('The quick brown fox jumps over the lazy dog');
    const transmission = {
      transmissionId: '69cd13f0-d67a-11e5-baa3-778b53f4ae55',
      transmissionTime: '2016-02-18T20:01:35Z',
      transmissionSig: '',
      certUrl: '',
      authAlgo: 'SHA256withRSA',
    };
    // 0x414FA339 is the well-known CRC32 of that sentence.
    assert.equal(
      signedString(transmission, 'WH-1', body),
      `69cd13f0-d67a-11e5-baa3-778b53f4ae55|2016-02-18T20:01:35Z|WH-1|${0x414fa339}`,
    );
  });

  test('a signature verifies against the signing certificate only for the same bytes, webhook id and key', () => {
    const body = captureCompleted({ captureId: 'CAP1', value: '10.00', customId: 'ada' });
    const certificate = new X509Certificate(ca.signer.pem);
    const delivery = signDelivery(body, { webhookId: 'WH-1', key: ca.signer.key });
    const read = transmissionOf(delivery.headers);
    assert.ok('transmission' in read);
    assert.equal(signatureMatches(read.transmission, 'WH-1', delivery.body, certificate), true);
    const altered = Buffer.from(delivery.body);
    altered[altered.length - 2] = altered[altered.length - 2]! ^ 1;
    assert.equal(signatureMatches(read.transmission, 'WH-1', altered, certificate), false, 'one byte changed');
    assert.equal(signatureMatches(read.transmission, 'WH-2', delivery.body, certificate), false, 'another webhook id');
    const stray = transmissionOf(signDelivery(body, { webhookId: 'WH-1', key: ca.strayKey }).headers);
    assert.ok('transmission' in stray);
    assert.equal(signatureMatches(stray.transmission, 'WH-1', delivery.body, certificate), false, 'another key');
    const garbage = { ...read.transmission, transmissionSig: 'not base64 at all!' };
    assert.equal(signatureMatches(garbage, 'WH-1', delivery.body, certificate), false);
  });

  test('headers: all five are needed, SHA256withRSA only, no "|" in the signed fields', () => {
    const { headers } = signDelivery('{}', { webhookId: 'WH-1', key: ca.signer.key });
    assert.ok('transmission' in transmissionOf(headers));
    const without = { ...headers };
    delete without['paypal-transmission-sig'];
    assert.match(String((transmissionOf(without) as { problem: string }).problem), /PAYPAL-TRANSMISSION-SIG/);
    const sha1 = { ...headers, 'paypal-auth-algo': 'SHA1withRSA' };
    assert.match(String((transmissionOf(sha1) as { problem: string }).problem), /SHA256withRSA/);
    const piped = { ...headers, 'paypal-transmission-id': 'a|b' };
    assert.match(String((transmissionOf(piped) as { problem: string }).problem), /must not contain/);
  });

  test('the certificate chain: to a trusted root, within its dates, issued to PayPal', () => {
    const chain = parsePemChain(ca.chainPem);
    assert.equal(chain.length, 2);
    assert.equal(certificateProblem(chain, roots, DEFAULT_PAYPAL_CERT_NAMES), null);
    // The intermediate is needed: the signer alone does not reach the root.
    assert.match(certificateProblem(chain.slice(0, 1), roots, DEFAULT_PAYPAL_CERT_NAMES) ?? '', /does not chain/);
    // A forger's self-signed certificate in PayPal's name.
    assert.match(
      certificateProblem(parsePemChain(ca.forged.pem), roots, DEFAULT_PAYPAL_CERT_NAMES) ?? '',
      /does not chain/,
    );
    // Properly issued, but to someone else.
    const other = parsePemChain(`${ca.otherName.pem}${ca.intermediate.pem}`);
    assert.match(
      certificateProblem(other, roots, DEFAULT_PAYPAL_CERT_NAMES) ?? '',
      /issued to "webhooks\.example\.com"/,
    );
    // Node's own roots do not know the test CA.
    const nodeRoots = rootCertificates.map((pem) => new X509Certificate(pem));
    assert.match(certificateProblem(chain, nodeRoots, DEFAULT_PAYPAL_CERT_NAMES) ?? '', /does not chain/);
    // Dates: the test certificates live two days.
    const later = new Date(Date.now() + 5 * 24 * 3600 * 1000);
    assert.match(certificateProblem(chain, roots, DEFAULT_PAYPAL_CERT_NAMES, later) ?? '', /expired/);
    const earlier = new Date(Date.now() - 24 * 3600 * 1000);
    assert.match(certificateProblem(chain, roots, DEFAULT_PAYPAL_CERT_NAMES, earlier) ?? '', /not valid yet/);
    assert.match(certificateProblem([], roots, DEFAULT_PAYPAL_CERT_NAMES) ?? '', /no certificate/);
  });

  test('reading events: captures, refunds and reversals move money; every other type is ignored', () => {
    const capture = intentOf(JSON.parse(captureCompleted({ captureId: 'cap1', value: '10.00', customId: 'ada' })));
    assert.deepEqual(capture, { kind: 'capture', captureId: 'CAP1', value: '10.00', currency: 'USD', customId: 'ada' });
    const refund = intentOf(JSON.parse(captureRefunded({ captureId: 'CAP1', refundId: 'REF1', value: '4.00' })));
    assert.deepEqual(refund, {
      kind: 'refund',
      refundKind: 'refund',
      refundId: 'REF1',
      captureId: 'CAP1',
      value: '4.00',
      currency: 'USD',
    });
    const reversal = intentOf(
      JSON.parse(
        captureRefunded({
          captureId: 'CAP1',
          refundId: 'REV1',
          value: '-10.00',
          eventType: 'PAYMENT.CAPTURE.REVERSED',
        }),
      ),
    );
    assert.deepEqual(reversal, {
      kind: 'refund',
      refundKind: 'reversal',
      refundId: 'REV1',
      captureId: 'CAP1',
      value: '10.00',
      currency: 'USD',
    });
    const reversedCapture = intentOf({
      event_type: 'PAYMENT.CAPTURE.REVERSED',
      resource_type: 'capture',
      resource: { id: 'CAP2', status: 'REVERSED', amount: { value: '5.00', currency_code: 'USD' } },
    });
    assert.equal(reversedCapture.kind === 'refund' && reversedCapture.refundId, 'REVERSAL-CAP2');
    const checkout = intentOf({ event_type: 'CHECKOUT.ORDER.APPROVED', resource: {} });
    assert.deepEqual(checkout, {
      kind: 'ignore',
      reason: 'the village does not act on CHECKOUT.ORDER.APPROVED events',
    });
    const pending = intentOf({
      event_type: 'PAYMENT.CAPTURE.COMPLETED',
      resource: { id: 'CAP3', status: 'PENDING', amount: { value: '1.00', currency_code: 'USD' } },
    });
    assert.equal(pending.kind, 'ignore');
    const orphan = intentOf({
      event_type: 'PAYMENT.CAPTURE.REFUNDED',
      resource: { id: 'R', status: 'COMPLETED', amount: { value: '1.00', currency_code: 'USD' }, links: [] },
    });
    assert.match(orphan.kind === 'ignore' ? orphan.reason : '', /names no capture/);
    assert.equal(intentOf({ event_type: 'PAYMENT.CAPTURE.COMPLETED', resource: { id: 'X' } }).kind, 'ignore');
  });

  test('settings: defaults, lists, and what is refused at start', () => {
    const base = { DATABASE_URL: 'postgres://localhost/x', REDIS_URL: 'redis://localhost' };
    const config = loadConfig(base);
    assert.equal(config.VILLAGE_PAYMENT_CURRENCY, 'USD');
    assert.equal(config.VILLAGE_PAYMENT_MILLS_PER_MINOR_UNIT, 10);
    assert.equal(config.VILLAGE_PAYPAL_WEBHOOK_ID, undefined);
    assert.deepEqual(config.VILLAGE_PAYPAL_CERT_HOSTS, DEFAULT_PAYPAL_CERT_HOSTS);
    const custom = loadConfig({ ...base, VILLAGE_PAYPAL_CERT_HOSTS: ' API.PayPal.com , api.sandbox.paypal.com ' });
    assert.deepEqual(custom.VILLAGE_PAYPAL_CERT_HOSTS, ['api.paypal.com', 'api.sandbox.paypal.com']);
    const refused: [Record<string, string>, RegExp][] = [
      [{ VILLAGE_PAYPAL_CLIENT_ID: 'id' }, /VILLAGE_PAYPAL_CLIENT_ID and VILLAGE_PAYPAL_CLIENT_SECRET go together/],
      [{ VILLAGE_PAYMENT_CURRENCY: 'usd' }, /VILLAGE_PAYMENT_CURRENCY must be an ISO 4217 code/],
      [{ VILLAGE_PAYMENT_MILLS_PER_MINOR_UNIT: '0.5' }, /VILLAGE_PAYMENT_MILLS_PER_MINOR_UNIT must be a whole number/],
      [
        { VILLAGE_PAYPAL_CERT_HOSTS: 'https://api.paypal.com' },
        /VILLAGE_PAYPAL_CERT_HOSTS must be a comma-separated list/,
      ],
      [{ VILLAGE_PAYPAL_API_URL: 'http://api-m.paypal.com' }, /VILLAGE_PAYPAL_API_URL must be an https URL/],
      [{ VILLAGE_PAYPAL_WEBHOOK_ID: 'WH 1|2' }, /VILLAGE_PAYPAL_WEBHOOK_ID must be the webhook id/],
    ];
    for (const [env, message] of refused) {
      assert.throws(
        () => loadConfig({ ...base, ...env }),
        (error: unknown) => {
          assert.ok(error instanceof ConfigError);
          assert.match(error.message, message);
          return true;
        },
      );
    }
  });

  test('money: exact minor units, decimals by currency', () => {
    assert.equal(parseMoney('12.50', 'USD'), 1250);
    assert.equal(parseMoney('12.5', 'USD'), 1250);
    assert.equal(parseMoney('12', 'USD'), 1200);
    assert.equal(parseMoney('0.01', 'USD'), 1);
    assert.equal(parseMoney('12.345', 'USD'), null);
    assert.equal(parseMoney('-1.00', 'USD'), null);
    assert.equal(parseMoney('1e3', 'USD'), null);
    assert.equal(parseMoney('1000', 'JPY'), 1000);
    assert.equal(parseMoney('1000.5', 'JPY'), null);
    assert.equal(formatMoney(1250, 'USD'), '12.50');
    assert.equal(formatMoney(5, 'USD'), '0.05');
    assert.equal(formatMoney(1000, 'JPY'), '1000');
  });

  test('the reconciliation CSV quotes what needs it and defuses spreadsheet formulas', () => {
    const row = {
      depositId: 1,
      source: 'paypal',
      transactionId: 'CAP1',
      createdAt: '2026-12-02T00:00:00.000Z',
      currency: 'USD',
      amount: '10.00',
      refunded: '0.00',
      status: 'credited',
      agentId: '=HYPERLINK("x")',
      expectedMills: 10000,
      ledgerCreditMills: 10000,
      creditTransferId: 7,
      creditAccount: 'agent:ada',
      assignedMills: 0,
      refundedMills: 0,
      ledgerRefundMills: 0,
      shortfallMills: 0,
      netMills: 10000,
      matches: false,
      problems: ['one, two', 'three'],
    } as const;
    const csv = reconciliationCsv({ rows: [row] } as unknown as Reconciliation);
    const [header, line] = csv.split('\r\n');
    assert.match(header!, /^depositId,source,transactionId/);
    assert.equal(
      line,
      `1,paypal,CAP1,2026-12-02T00:00:00.000Z,USD,10.00,0.00,credited,"'=HYPERLINK(""x"")",10000,10000,7,agent:ada,0,0,0,0,10000,false,"one, two; three"`,
    );
  });
});
