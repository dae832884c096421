import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

/**
 * Seals site secrets at rest: AES-256-GCM under the SHA-256 of VILLAGE_SECRETS_KEY, bound to the host
 * and header it was registered for (as associated data), so a sealed value copied onto another row
 * does not open. Format: `v1.<iv>.<tag>.<ciphertext>`, each base64url.
 */
export class SecretSeal {
  private readonly key: Buffer;

  constructor(secretsKey: string) {
    this.key = createHash('sha256').update(secretsKey).digest();
  }

  seal(value: string, boundTo: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(boundTo));
    const text = Buffer.concat([cipher.update(value, 'utf8'), cipher.final()]);
    return ['v1', iv, cipher.getAuthTag(), text]
      .map((part) => (typeof part === 'string' ? part : part.toString('base64url')))
      .join('.');
  }

  /** The value, or undefined when it was sealed under another key or for another host and header. */
  open(sealed: string, boundTo: string): string | undefined {
    const [version, iv, tag, text] = sealed.split('.');
    if (version !== 'v1' || !iv || !tag || text === undefined) return undefined;
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64url'));
      decipher.setAAD(Buffer.from(boundTo));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(text, 'base64url')), decipher.final()]).toString('utf8');
    } catch {
      return undefined;
    }
  }
}

/** What a secret is bound to: its host and (case-insensitive) header. */
export function secretBinding(host: string, header: string): string {
  return `${host}\n${header.toLowerCase()}`;
}
