/**
 * What a verified PayPal webhook event asks of the village, read from its JSON. Only captures,
 * refunds and reversals move money; every other event type is ignored (and recorded as such).
 */
export type PaypalIntent =
  | { kind: 'capture'; captureId: string; value: string; currency: string; customId: string | null }
  | {
      kind: 'refund';
      refundKind: 'refund' | 'reversal';
      refundId: string;
      captureId: string;
      value: string;
      currency: string;
    }
  | { kind: 'ignore'; reason: string };

export const ACTED_ON_EVENT_TYPES = [
  'PAYMENT.CAPTURE.COMPLETED',
  'PAYMENT.CAPTURE.REFUNDED',
  'PAYMENT.CAPTURE.REVERSED',
];

const PAYPAL_ID = /^[A-Za-z0-9-]{1,64}$/;
const CAPTURE_LINK = /\/v2\/payments\/captures\/([A-Za-z0-9-]{1,64})\/?$/;

/** The envelope every PayPal event has; null when the body is not one. */
export function envelopeOf(body: unknown): { id: string; eventType: string } | { problem: string } {
  if (!isObject(body)) return { problem: 'the body is not a JSON object' };
  const { id, event_type: eventType } = body;
  if (typeof id !== 'string' || !/^[\w.-]{1,100}$/.test(id)) return { problem: 'the event has no valid "id"' };
  if (typeof eventType !== 'string' || !/^[\w.-]{1,100}$/.test(eventType)) {
    return { problem: 'the event has no valid "event_type"' };
  }
  return { id, eventType };
}

export function intentOf(event: Record<string, unknown>): PaypalIntent {
  const eventType = String(event.event_type);
  if (!ACTED_ON_EVENT_TYPES.includes(eventType)) {
    return { kind: 'ignore', reason: `the village does not act on ${eventType} events` };
  }
  const resource = event.resource;
  if (!isObject(resource)) return { kind: 'ignore', reason: `${eventType} has no resource` };
  const amount = amountOf(resource);
  if (typeof amount === 'string') return { kind: 'ignore', reason: `${eventType}: ${amount}` };
  const id = resource.id;
  if (typeof id !== 'string' || !PAYPAL_ID.test(id))
    return { kind: 'ignore', reason: `${eventType}: no valid resource id` };
  const status = typeof resource.status === 'string' ? resource.status : null;

  if (eventType === 'PAYMENT.CAPTURE.COMPLETED') {
    if (status !== null && status !== 'COMPLETED') {
      return { kind: 'ignore', reason: `capture ${id} is ${status}, not COMPLETED` };
    }
    const customId =
      typeof resource.custom_id === 'string' && resource.custom_id.trim() ? resource.custom_id.trim() : null;
    return { kind: 'capture', captureId: id.toUpperCase(), ...amount, customId };
  }

  const refundKind = eventType === 'PAYMENT.CAPTURE.REVERSED' ? 'reversal' : 'refund';
  // A refund (and, usually, a reversal) links "up" to the capture it takes back.
  const up = Array.isArray(resource.links)
    ? resource.links.find((link) => isObject(link) && link.rel === 'up' && typeof link.href === 'string')
    : undefined;
  const linked = isObject(up) ? CAPTURE_LINK.exec(String(up.href))?.[1] : undefined;
  if (linked) {
    if (status !== null && status !== 'COMPLETED') {
      return { kind: 'ignore', reason: `${refundKind} ${id} is ${status}, not COMPLETED` };
    }
    return { kind: 'refund', refundKind, refundId: id.toUpperCase(), captureId: linked.toUpperCase(), ...amount };
  }
  // A reversal reported as the capture itself (resource_type "capture").
  if (refundKind === 'reversal' && event.resource_type === 'capture') {
    return {
      kind: 'refund',
      refundKind,
      refundId: `REVERSAL-${id.toUpperCase()}`,
      captureId: id.toUpperCase(),
      ...amount,
    };
  }
  return { kind: 'ignore', reason: `${eventType}: the ${refundKind} names no capture (no "up" link)` };
}

function amountOf(resource: Record<string, unknown>): { value: string; currency: string } | string {
  const amount = resource.amount;
  if (!isObject(amount)) return 'no amount';
  const { value, currency_code: currency } = amount;
  if (typeof value !== 'string' || typeof currency !== 'string' || !/^[A-Z]{3}$/.test(currency)) {
    return 'the amount has no value or currency_code';
  }
  // Reversals may be reported as negative amounts; what matters is how much goes back.
  return { value: value.replace(/^-/, ''), currency };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
