import { Inject, Injectable } from '@nestjs/common';
import { CONFIG, type Config } from '../config/config.js';
import { PaypalApi } from './paypal-api.service.js';
import { PaypalCertificates, UntrustedCertificateError } from './paypal-certificates.service.js';
import { certUrlProblem, signatureMatches, transmissionOf } from './paypal-signature.js';

export type Verdict = { ok: true; method: 'certificate' | 'api' } | { ok: false; reason: string };

/**
 * Decides whether a stored delivery is PayPal's: offline first (SHA256withRSA with the trusted
 * certificate over transmission id|time|webhook id|CRC32 of the raw body), then, when the
 * certificate cannot be had or trusted and credentials are configured, PayPal's verify API.
 * A signature that does not match a trusted certificate is refused without asking PayPal.
 * Throws PaypalUnavailableError when no verdict can be had now (retried later).
 */
@Injectable()
export class PaypalVerifier {
  constructor(
    @Inject(CONFIG) private readonly config: Config,
    private readonly certificates: PaypalCertificates,
    private readonly api: PaypalApi,
  ) {}

  async verify(headers: Record<string, string>, rawBody: Buffer): Promise<Verdict> {
    const webhookId = this.config.VILLAGE_PAYPAL_WEBHOOK_ID;
    if (!webhookId) return { ok: false, reason: 'VILLAGE_PAYPAL_WEBHOOK_ID is not set' };
    const read = transmissionOf(headers);
    if ('problem' in read) return { ok: false, reason: read.problem };
    const { transmission } = read;
    // Never fetch from, nor ask PayPal about, a certificate URL outside the allow-list: that is a forgery.
    const urlProblem = certUrlProblem(transmission.certUrl, this.config.VILLAGE_PAYPAL_CERT_HOSTS);
    if (urlProblem) return { ok: false, reason: urlProblem };
    let certificate;
    try {
      certificate = await this.certificates.signingCertificate(transmission.certUrl);
    } catch (error) {
      if (this.api.configured) {
        return (await this.api.verify(transmission, webhookId, rawBody))
          ? { ok: true, method: 'api' }
          : {
              ok: false,
              reason: `PayPal's verify-webhook-signature API answered FAILURE (offline: ${(error as Error).message})`,
            };
      }
      if (error instanceof UntrustedCertificateError) return { ok: false, reason: error.message };
      throw error;
    }
    if (!signatureMatches(transmission, webhookId, rawBody, certificate)) {
      return {
        ok: false,
        reason: 'the signature does not match this body, transmission and webhook id under the certificate',
      };
    }
    return { ok: true, method: 'certificate' };
  }
}
