import { X509Certificate, verify } from 'node:crypto';
import { crc32 } from 'node:zlib';

/** The PAYPAL-* headers of a webhook delivery that its signature depends on. */
export interface PaypalTransmission {
  transmissionId: string;
  transmissionTime: string;
  /** Base64 SHA256withRSA signature. */
  transmissionSig: string;
  certUrl: string;
  authAlgo: string;
}

export const PAYPAL_AUTH_ALGO = 'SHA256withRSA';
const CERT_PATH_PREFIX = '/v1/notifications/certs/';

/** The headers as Express gives them (lower-case names); missing ones are named. */
export function transmissionOf(
  headers: Record<string, string | string[] | undefined>,
): { transmission: PaypalTransmission } | { problem: string } {
  const names = {
    transmissionId: 'paypal-transmission-id',
    transmissionTime: 'paypal-transmission-time',
    transmissionSig: 'paypal-transmission-sig',
    certUrl: 'paypal-cert-url',
    authAlgo: 'paypal-auth-algo',
  } as const;
  const missing: string[] = [];
  const values: Partial<PaypalTransmission> = {};
  for (const [field, header] of Object.entries(names) as [keyof PaypalTransmission, string][]) {
    const value = headers[header];
    if (typeof value !== 'string' || value.trim() === '' || value.length > 2000) missing.push(header.toUpperCase());
    else values[field] = value.trim();
  }
  if (missing.length)
    return { problem: `missing or repeated header${missing.length > 1 ? 's' : ''}: ${missing.join(', ')}` };
  const transmission = values as PaypalTransmission;
  if (transmission.authAlgo !== PAYPAL_AUTH_ALGO) {
    return { problem: `PAYPAL-AUTH-ALGO must be ${PAYPAL_AUTH_ALGO}, not ${transmission.authAlgo.slice(0, 40)}` };
  }
  // The transmission id and time are joined with "|": one that holds a "|" could shift the fields.
  if (/[|\s]/.test(transmission.transmissionId) || /[|]/.test(transmission.transmissionTime)) {
    return { problem: 'PAYPAL-TRANSMISSION-ID and PAYPAL-TRANSMISSION-TIME must not contain "|" or spaces' };
  }
  return { transmission };
}

/**
 * Why a PAYPAL-CERT-URL may not be fetched, or null when it may: https only, on one of the
 * allow-listed hosts exactly (no port, no user, no look-alike suffix), under PayPal's certificate path.
 */
export function certUrlProblem(certUrl: string, allowedHosts: readonly string[]): string | null {
  let url: URL;
  try {
    url = new URL(certUrl);
  } catch {
    return 'PAYPAL-CERT-URL is not a URL';
  }
  if (url.protocol !== 'https:') return `PAYPAL-CERT-URL must be https, not ${url.protocol.replace(':', '')}`;
  if (url.username || url.password) return 'PAYPAL-CERT-URL must not carry a user name or password';
  if (url.port !== '') return `PAYPAL-CERT-URL must not name a port (${url.port})`;
  if (!allowedHosts.includes(url.hostname)) {
    return `PAYPAL-CERT-URL is on ${url.hostname}, which is not one of PayPal's certificate hosts (${allowedHosts.join(', ')})`;
  }
  if (!url.pathname.startsWith(CERT_PATH_PREFIX) || url.pathname.includes('..') || url.search || url.hash) {
    return `PAYPAL-CERT-URL must be a certificate under ${CERT_PATH_PREFIX}`;
  }
  return null;
}

/** What PayPal signs: transmission id, time, our webhook id and the CRC32 of the raw body, joined by "|". */
export function signedString(transmission: PaypalTransmission, webhookId: string, rawBody: Buffer): string {
  return `${transmission.transmissionId}|${transmission.transmissionTime}|${webhookId}|${crc32(rawBody) >>> 0}`;
}

/** SHA256withRSA over the signed string, with the signing certificate's key. */
export function signatureMatches(
  transmission: PaypalTransmission,
  webhookId: string,
  rawBody: Buffer,
  certificate: X509Certificate,
): boolean {
  const signature = Buffer.from(transmission.transmissionSig, 'base64');
  if (signature.length === 0) return false;
  try {
    return verify(
      'sha256',
      Buffer.from(signedString(transmission, webhookId, rawBody)),
      certificate.publicKey,
      signature,
    );
  } catch {
    return false;
  }
}

/** Every certificate of a PEM text, in order. */
export function parsePemChain(pem: string): X509Certificate[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  return blocks.map((block) => new X509Certificate(block));
}

const MAX_CHAIN = 6;

/**
 * Why a signing certificate (first of `chain`, followed by the intermediates PayPal serves with it)
 * may not be trusted, or null: every certificate within its dates at `now`, each signed by the next,
 * ending at one of `roots`; the issuers are authorities; the first is issued to one of `names`.
 */
export function certificateProblem(
  chain: X509Certificate[],
  roots: readonly X509Certificate[],
  names: readonly string[],
  now = new Date(),
): string | null {
  const leaf = chain[0];
  if (!leaf) return 'the certificate URL served no certificate';
  if (!names.some((name) => leaf.checkHost(name, { wildcards: false }) === name)) {
    return `the certificate is issued to ${subjectName(leaf)}, not to ${names.join(' or ')}`;
  }
  let current = leaf;
  const intermediates = chain.slice(1);
  for (let depth = 0; depth < MAX_CHAIN; depth++) {
    const dates = datesProblem(current, now);
    if (dates) return dates;
    const root = roots.find((candidate) => issuedBy(current, candidate));
    if (root) return datesProblem(root, now);
    const next = intermediates.find((candidate) => candidate !== current && issuedBy(current, candidate));
    if (!next) return `the certificate ${subjectName(current)} does not chain to a trusted authority`;
    current = next;
  }
  return 'the certificate chain is too long';
}

function issuedBy(certificate: X509Certificate, issuer: X509Certificate): boolean {
  try {
    return issuer.ca && certificate.checkIssued(issuer) && certificate.verify(issuer.publicKey);
  } catch {
    return false;
  }
}

function datesProblem(certificate: X509Certificate, now: Date): string | null {
  if (new Date(certificate.validFrom) > now) return `the certificate ${subjectName(certificate)} is not valid yet`;
  if (new Date(certificate.validTo) < now) {
    return `the certificate ${subjectName(certificate)} expired on ${new Date(certificate.validTo).toISOString()}`;
  }
  return null;
}

function subjectName(certificate: X509Certificate): string {
  const cn = /(?:^|\n)CN=([^\n]*)/.exec(certificate.subject)?.[1];
  return `"${cn ?? certificate.subject.replace(/\n/g, ', ')}"`;
}
