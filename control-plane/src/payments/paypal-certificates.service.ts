import { Inject, Injectable } from '@nestjs/common';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import { CONFIG, ConfigError, type Config } from '../config/config.js';
import { certificateProblem, certUrlProblem, parsePemChain } from './paypal-signature.js';
import { PaypalTransport, PaypalUnavailableError } from './paypal-transport.js';

/** PayPal served a certificate the village does not trust (or none): not worth fetching again. */
export class UntrustedCertificateError extends Error {
  override readonly name = 'UntrustedCertificateError';
}

/** A fetched certificate is kept this long at most (and never past its expiry). */
const CACHE_MS = 24 * 60 * 60 * 1000;
const MAX_CACHED = 50;

/**
 * PayPal's webhook signing certificates: fetched only from an allow-listed host, checked (dates,
 * name, chain to VILLAGE_PAYPAL_CA_FILE or Node's roots) and cached by URL.
 */
@Injectable()
export class PaypalCertificates {
  private readonly cache = new Map<string, { certificate: X509Certificate; until: number }>();
  private readonly fetching = new Map<string, Promise<X509Certificate>>();
  private readonly roots: X509Certificate[];

  constructor(
    @Inject(CONFIG) private readonly config: Config,
    private readonly transport: PaypalTransport,
  ) {
    this.roots = loadRoots(config.VILLAGE_PAYPAL_CA_FILE);
  }

  /** The trusted signing certificate at `certUrl`; UntrustedCertificateError or PaypalUnavailableError otherwise. */
  async signingCertificate(certUrl: string): Promise<X509Certificate> {
    const problem = certUrlProblem(certUrl, this.config.VILLAGE_PAYPAL_CERT_HOSTS);
    if (problem) throw new UntrustedCertificateError(problem);
    const cached = this.cache.get(certUrl);
    if (cached && cached.until > Date.now()) {
      // Checked again on every use: the dates may have run out since it was fetched.
      this.check([cached.certificate], certUrl, true);
      return cached.certificate;
    }
    let pending = this.fetching.get(certUrl);
    if (!pending) {
      pending = this.fetch(certUrl).finally(() => this.fetching.delete(certUrl));
      this.fetching.set(certUrl, pending);
    }
    return pending;
  }

  private async fetch(certUrl: string): Promise<X509Certificate> {
    const { status, text } = await this.transport.request(certUrl);
    if (status !== 200) throw new PaypalUnavailableError(`PayPal answered ${status} for the certificate ${certUrl}`);
    let chain: X509Certificate[];
    try {
      chain = parsePemChain(text);
    } catch (error) {
      throw new UntrustedCertificateError(`the certificate at ${certUrl} is not readable: ${(error as Error).message}`);
    }
    this.check(chain, certUrl, false);
    const leaf = chain[0]!;
    const until = Math.min(Date.now() + CACHE_MS, new Date(leaf.validTo).getTime());
    if (this.cache.size >= MAX_CACHED) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(certUrl, { certificate: leaf, until });
    return leaf;
  }

  private check(chain: X509Certificate[], certUrl: string, cachedLeafOnly: boolean) {
    const leaf = chain[0];
    if (cachedLeafOnly && leaf) {
      const now = Date.now();
      if (new Date(leaf.validTo).getTime() < now || new Date(leaf.validFrom).getTime() > now) {
        this.cache.delete(certUrl);
        throw new UntrustedCertificateError(`the certificate at ${certUrl} is outside its dates`);
      }
      return;
    }
    const problem = certificateProblem(chain, this.roots, this.config.VILLAGE_PAYPAL_CERT_NAMES);
    if (problem) throw new UntrustedCertificateError(`${problem} (${certUrl})`);
  }
}

function loadRoots(caFile: string | undefined): X509Certificate[] {
  if (!caFile) return rootCertificates.map((pem) => new X509Certificate(pem));
  let roots: X509Certificate[];
  try {
    roots = parsePemChain(readFileSync(caFile, 'utf8'));
  } catch (error) {
    throw new ConfigError([`VILLAGE_PAYPAL_CA_FILE cannot be read as PEM certificates: ${(error as Error).message}`]);
  }
  if (roots.length === 0) throw new ConfigError([`VILLAGE_PAYPAL_CA_FILE (${caFile}) holds no certificate`]);
  return roots;
}
