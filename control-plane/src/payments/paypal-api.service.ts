import { Inject, Injectable } from '@nestjs/common';
import { CONFIG, type Config } from '../config/config.js';
import type { PaypalTransmission } from './paypal-signature.js';
import { PaypalTransport, PaypalUnavailableError } from './paypal-transport.js';

/**
 * PayPal's verify-webhook-signature API: the fallback when the signing certificate cannot be had
 * or trusted offline, used only when a REST app's credentials are configured.
 */
@Injectable()
export class PaypalApi {
  private token: { value: string; until: number } | undefined;

  constructor(
    @Inject(CONFIG) private readonly config: Config,
    private readonly transport: PaypalTransport,
  ) {}

  get configured(): boolean {
    return Boolean(this.config.VILLAGE_PAYPAL_CLIENT_ID && this.config.VILLAGE_PAYPAL_CLIENT_SECRET);
  }

  /** PayPal's own verdict on a delivery; PaypalUnavailableError when it cannot be had. */
  async verify(transmission: PaypalTransmission, webhookId: string, rawBody: Buffer): Promise<boolean> {
    const token = await this.accessToken();
    const { status, text } = await this.transport.request(this.url('/v1/notifications/verify-webhook-signature'), {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      // PayPal checks the event as it re-reads it: the parsed body, not our bytes.
      body: JSON.stringify({
        auth_algo: transmission.authAlgo,
        cert_url: transmission.certUrl,
        transmission_id: transmission.transmissionId,
        transmission_sig: transmission.transmissionSig,
        transmission_time: transmission.transmissionTime,
        webhook_id: webhookId,
        webhook_event: JSON.parse(rawBody.toString('utf8')) as unknown,
      }),
    });
    if (status === 401) this.token = undefined;
    if (status !== 200) throw new PaypalUnavailableError(`verify-webhook-signature answered ${status}`);
    const answer = parse(text) as { verification_status?: unknown } | undefined;
    return answer?.verification_status === 'SUCCESS';
  }

  private async accessToken(): Promise<string> {
    if (this.token && this.token.until > Date.now()) return this.token.value;
    const credentials = `${this.config.VILLAGE_PAYPAL_CLIENT_ID}:${this.config.VILLAGE_PAYPAL_CLIENT_SECRET}`;
    const { status, text } = await this.transport.request(this.url('/v1/oauth2/token'), {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(credentials).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: 'grant_type=client_credentials',
    });
    const answer = parse(text) as { access_token?: unknown; expires_in?: unknown } | undefined;
    if (status !== 200 || typeof answer?.access_token !== 'string') {
      throw new PaypalUnavailableError(`PayPal refused the client credentials (${status})`);
    }
    const seconds = typeof answer.expires_in === 'number' ? answer.expires_in : 300;
    this.token = { value: answer.access_token, until: Date.now() + Math.max(0, seconds - 60) * 1000 };
    return this.token.value;
  }

  private url(path: string): string {
    return new URL(path, this.config.VILLAGE_PAYPAL_API_URL).toString();
  }
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
