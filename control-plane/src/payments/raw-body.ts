import express, { type RequestHandler } from 'express';

/** PayPal's webhook route (with the global `/api` prefix). */
export const PAYPAL_WEBHOOK_PATH = '/api/payments/paypal/webhook';
/** A PayPal event is a few KB. */
export const PAYPAL_WEBHOOK_BODY_LIMIT = '128kb';

/**
 * PayPal signs the CRC32 of the exact bytes it sent, so this route keeps them as a Buffer
 * (`request.body`) instead of parsing JSON; the JSON parser after it then leaves the body alone.
 */
export const paypalWebhookBody: RequestHandler = express.raw({ type: () => true, limit: PAYPAL_WEBHOOK_BODY_LIMIT });
