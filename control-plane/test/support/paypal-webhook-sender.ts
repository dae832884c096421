// PayPal as the tests play it: events shaped like PayPal's, signed the way PayPal signs them
// (SHA256withRSA over transmission id|time|webhook id|CRC32 of the body), and a fake of the network
// PayPal is reached over (certificates by URL, the OAuth and verify APIs), so no test opens a socket to PayPal.
import { randomUUID, sign } from 'node:crypto';
import { crc32 } from 'node:zlib';

export const TEST_CERT_URL = 'https://api.sandbox.paypal.com/v1/notifications/certs/CERT-360caa42-fca2a594-village01';

export interface SignedDelivery {
  body: Buffer;
  headers: Record<string, string>;
}

export interface SignOptions {
  webhookId: string;
  /** The private key (PEM) that signs. */
  key: string;
  certUrl?: string;
  transmissionId?: string;
  transmissionTime?: string;
}

/** Signs a body (text or bytes) as PayPal does. */
export function signDelivery(body: string | Buffer, options: SignOptions): SignedDelivery {
  const bytes = Buffer.isBuffer(body) ? body : Buffer.from(body);
  const transmissionId = options.transmissionId ?? randomUUID();
  const transmissionTime = options.transmissionTime ?? new Date().toISOString();
  const signed = `${transmissionId}|${transmissionTime}|${options.webhookId}|${crc32(bytes) >>> 0}`;
  return {
    body: bytes,
    headers: {
      'content-type': 'application/json',
      'paypal-transmission-id': transmissionId,
      'paypal-transmission-time': transmissionTime,
      'paypal-transmission-sig': sign('sha256', Buffer.from(signed), options.key).toString('base64'),
      'paypal-cert-url': options.certUrl ?? TEST_CERT_URL,
      'paypal-auth-algo': 'SHA256withRSA',
    },
  };
}

let counter = 0;
const nextId = (prefix: string) =>
  `${prefix}${Date.now().toString(36).toUpperCase()}${(++counter).toString().padStart(4, '0')}`;

export function captureId(): string {
  return nextId('CAP');
}

/** PAYMENT.CAPTURE.COMPLETED for `customId` (the agent), as PayPal's v2 capture resource. */
export function captureCompleted(options: {
  captureId: string;
  value: string;
  currency?: string;
  customId?: string;
  eventId?: string;
}) {
  return JSON.stringify({
    id: options.eventId ?? nextId('WH-'),
    event_version: '1.0',
    create_time: new Date().toISOString(),
    resource_type: 'capture',
    resource_version: '2.0',
    event_type: 'PAYMENT.CAPTURE.COMPLETED',
    summary: `Payment completed for $ ${options.value} ${options.currency ?? 'USD'}`,
    resource: {
      id: options.captureId,
      amount: { currency_code: options.currency ?? 'USD', value: options.value },
      final_capture: true,
      seller_protection: { status: 'ELIGIBLE' },
      status: 'COMPLETED',
      ...(options.customId === undefined ? {} : { custom_id: options.customId }),
      links: [
        {
          href: `https://api.sandbox.paypal.com/v2/payments/captures/${options.captureId}`,
          rel: 'self',
          method: 'GET',
        },
      ],
    },
    links: [],
  });
}

/** PAYMENT.CAPTURE.REFUNDED (or REVERSED): a refund resource linking "up" to its capture. */
export function captureRefunded(options: {
  captureId: string;
  refundId?: string;
  value: string;
  currency?: string;
  eventType?: 'PAYMENT.CAPTURE.REFUNDED' | 'PAYMENT.CAPTURE.REVERSED';
}) {
  const refundId = options.refundId ?? nextId('REF');
  return JSON.stringify({
    id: nextId('WH-'),
    event_version: '1.0',
    create_time: new Date().toISOString(),
    resource_type: 'refund',
    resource_version: '2.0',
    event_type: options.eventType ?? 'PAYMENT.CAPTURE.REFUNDED',
    resource: {
      id: refundId,
      amount: { currency_code: options.currency ?? 'USD', value: options.value },
      status: 'COMPLETED',
      links: [
        { href: `https://api.sandbox.paypal.com/v2/payments/refunds/${refundId}`, rel: 'self', method: 'GET' },
        { href: `https://api.sandbox.paypal.com/v2/payments/captures/${options.captureId}`, rel: 'up', method: 'GET' },
      ],
    },
  });
}

export interface FakePaypalNetwork {
  fetch: typeof fetch;
  /** Certificates served, by URL. */
  certificates: Map<string, string>;
  /** Every URL asked for, in order. */
  requests: { url: string; method: string; body: string | undefined }[];
  /** The verify API's answer, when it is asked (SUCCESS or FAILURE). */
  verifyAnswer: 'SUCCESS' | 'FAILURE';
}

/** Answers certificate URLs from `certificates` and PayPal's OAuth and verify APIs; everything else fails like a network error. */
export function fakePaypalNetwork(certificates: Record<string, string> = {}): FakePaypalNetwork {
  const network: FakePaypalNetwork = {
    certificates: new Map(Object.entries(certificates)),
    requests: [],
    verifyAnswer: 'SUCCESS',
    fetch: async (input, init) => {
      const url = String(input instanceof Request ? input.url : input);
      const method = init?.method ?? 'GET';
      network.requests.push({ url, method, body: typeof init?.body === 'string' ? init.body : undefined });
      const pem = network.certificates.get(url);
      if (method === 'GET' && pem !== undefined) return new Response(pem, { status: 200 });
      if (method === 'POST' && url.endsWith('/v1/oauth2/token')) {
        return Response.json({ access_token: 'test-access-token', token_type: 'Bearer', expires_in: 32400 });
      }
      if (method === 'POST' && url.endsWith('/v1/notifications/verify-webhook-signature')) {
        return Response.json({ verification_status: network.verifyAnswer });
      }
      throw new TypeError(`fetch failed: the tests' PayPal has nothing at ${method} ${url}`);
    },
  };
  return network;
}
