import { z } from 'zod';

/** The hosts PayPal serves its webhook signing certificates from (live and sandbox). */
export const DEFAULT_PAYPAL_CERT_HOSTS = [
  'api.paypal.com',
  'api-m.paypal.com',
  'api.sandbox.paypal.com',
  'api-m.sandbox.paypal.com',
];
/** The names PayPal's webhook signing certificates are issued to (PayPal's own SDKs check these). */
export const DEFAULT_PAYPAL_CERT_NAMES = [
  'messageverificationcerts.paypal.com',
  'messageverificationcerts.sandbox.paypal.com',
];

const hostList = (what: string, defaults: string[]) =>
  z
    .string()
    .default(defaults.join(','))
    .transform((text) =>
      text
        .split(',')
        .map((item) => item.trim().toLowerCase())
        .filter(Boolean),
    )
    .refine(
      (items) =>
        items.length > 0 &&
        items.every((item) => /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$/.test(item)),
      `must be a comma-separated list of ${what}`,
    );

/**
 * Payments (docs/PAYMENTS.md): the currency the village takes, its rate in aiDollars, and what a
 * PayPal webhook is checked against. Part of ConfigSchema.
 */
export const PAYMENT_SETTINGS = {
  /** The one currency deposits are accepted in (ISO 4217); deposits in another are refused. */
  VILLAGE_PAYMENT_CURRENCY: z
    .string()
    .regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code in capitals, e.g. USD')
    .default('USD'),
  /** The exchange rate: mills per minor unit of the currency (a cent; a yen for JPY). 10 = 1 aiDollar per dollar. */
  VILLAGE_PAYMENT_MILLS_PER_MINOR_UNIT: z.coerce
    .number({ error: 'must be a whole number' })
    .int('must be a whole number')
    .positive('must be positive')
    .max(1_000_000, 'must be at most 1000000')
    .default(10),
  /** The id PayPal gave the webhook (developer dashboard); without it the webhook answers 503. */
  VILLAGE_PAYPAL_WEBHOOK_ID: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be the webhook id PayPal shows (letters and digits)')
    .optional(),
  /** Hosts a PAYPAL-CERT-URL may name (https only); certificates are fetched from nowhere else. */
  VILLAGE_PAYPAL_CERT_HOSTS: hostList('host names', DEFAULT_PAYPAL_CERT_HOSTS),
  /** Names a signing certificate must be issued to. */
  VILLAGE_PAYPAL_CERT_NAMES: hostList('certificate names', DEFAULT_PAYPAL_CERT_NAMES),
  /** PEM bundle of the authorities a signing certificate must chain to; Node's own roots by default. */
  VILLAGE_PAYPAL_CA_FILE: z.string().optional(),
  /** PayPal's REST API, for the verify-webhook-signature fallback. */
  VILLAGE_PAYPAL_API_URL: z
    .string()
    .refine((value) => {
      try {
        const url = new URL(value);
        return url.protocol === 'https:' && !url.username && !url.password;
      } catch {
        return false;
      }
    }, 'must be an https URL, e.g. https://api-m.paypal.com')
    .default('https://api-m.paypal.com'),
  /** A REST app's credentials: when set, PayPal's verify-webhook-signature API is the fallback. */
  VILLAGE_PAYPAL_CLIENT_ID: z.string().min(1).max(200).optional(),
  VILLAGE_PAYPAL_CLIENT_SECRET: z.string().min(1).max(200).optional(),
};

/** Rules across payment settings, for loadConfig. */
export function paymentSettingsProblems(config: {
  VILLAGE_PAYPAL_CLIENT_ID?: string | undefined;
  VILLAGE_PAYPAL_CLIENT_SECRET?: string | undefined;
}): string[] {
  if (Boolean(config.VILLAGE_PAYPAL_CLIENT_ID) !== Boolean(config.VILLAGE_PAYPAL_CLIENT_SECRET)) {
    return ['VILLAGE_PAYPAL_CLIENT_ID and VILLAGE_PAYPAL_CLIENT_SECRET go together: set both or neither'];
  }
  return [];
}
