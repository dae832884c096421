import { Injectable } from '@nestjs/common';

/** The largest answer read from PayPal (a certificate chain is a few KB). */
const MAX_ANSWER_BYTES = 256 * 1024;
const TIMEOUT_MS = 10_000;

/** PayPal could not be asked just now (network, timeout, 5xx): worth trying again later. */
export class PaypalUnavailableError extends Error {
  override readonly name = 'PaypalUnavailableError';
}

/**
 * The one way the village talks to PayPal (certificates, the verify API). Callers check the URL
 * first; this adds the time limit, refuses redirects and bounds what it reads. `fetch` is the
 * platform's; the tests replace it with a fake keyed by URL, so no test opens the network.
 */
@Injectable()
export class PaypalTransport {
  fetch: typeof fetch = (input, init) => globalThis.fetch(input, init);

  async request(url: string, init: RequestInit = {}): Promise<{ status: number; text: string }> {
    let response: Response;
    try {
      response = await this.fetch(url, { ...init, redirect: 'error', signal: AbortSignal.timeout(TIMEOUT_MS) });
    } catch (error) {
      throw new PaypalUnavailableError(`could not reach ${new URL(url).host}: ${(error as Error).message}`);
    }
    const declared = Number(response.headers.get('content-length') ?? 0);
    if (declared > MAX_ANSWER_BYTES)
      throw new PaypalUnavailableError(`${url} answered more than ${MAX_ANSWER_BYTES} bytes`);
    const text = await response.text();
    if (text.length > MAX_ANSWER_BYTES)
      throw new PaypalUnavailableError(`${url} answered more than ${MAX_ANSWER_BYTES} bytes`);
    if (response.status >= 500 || response.status === 429) {
      throw new PaypalUnavailableError(`${url} answered ${response.status}`);
    }
    return { status: response.status, text };
  }
}
