import { ConflictException, Inject, Injectable, NotFoundException } from '@nestjs/common';
import type { Logger } from 'pino';
import type { EgressSecret, RegisterEgressSecretRequest } from '../contract/index.js';
import { RegisterEgressSecretRequestSchema } from '../contract/index.js';
import { AuditService } from '../audit/audit.service.js';
import { principalKey, type Principal } from '../auth/principal.js';
import { CONFIG, type Config } from '../config/config.js';
import { DatabaseService } from '../database/database.service.js';
import { LOGGER } from '../logging/logger.js';
import { SecretSeal, secretBinding } from './secret-seal.js';

interface SecretRow {
  id: string;
  host: string;
  header: string;
  sealed: string;
  description: string;
  created_by: string;
  created_at: Date;
  revoked_at: Date | null;
}

/** An opened secret, for the egress proxy only. */
export interface OpenSecret {
  id: number;
  host: string;
  header: string;
  value: string;
}

/**
 * Site secrets (a GitHub token, say) that node egress proxies add to agents' requests for one host.
 * Registered by admins, stored sealed, shown to people without their value, opened only for nodes.
 */
@Injectable()
export class EgressSecretsService {
  private readonly seal: SecretSeal | undefined;

  constructor(
    @Inject(CONFIG) config: Config,
    private readonly database: DatabaseService,
    private readonly audit: AuditService,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {
    this.seal = config.VILLAGE_SECRETS_KEY ? new SecretSeal(config.VILLAGE_SECRETS_KEY) : undefined;
  }

  /** Registers a secret; a live one for the same host and header is revoked in the same step (rotation). */
  async register(request: RegisterEgressSecretRequest, actor: Principal): Promise<EgressSecret> {
    if (!this.seal) {
      throw new ConflictException('secrets cannot be stored: this village has no VILLAGE_SECRETS_KEY configured');
    }
    const { host, header, value, description } = RegisterEgressSecretRequestSchema.parse(request);
    const sealed = this.seal.seal(value, secretBinding(host, header));
    return this.database.transaction(async (client) => {
      const { rows: replaced } = await client.query<{ id: string }>(
        `UPDATE egress_secrets SET revoked_at = now()
          WHERE host = $1 AND lower(header) = lower($2) AND revoked_at IS NULL RETURNING id`,
        [host, header],
      );
      const { rows } = await client.query<SecretRow>(
        `INSERT INTO egress_secrets (host, header, sealed, description, created_by) VALUES ($1, $2, $3, $4, $5)
         RETURNING *`,
        [host, header, sealed, description, principalKey(actor)],
      );
      const secret = toSecret(rows[0]!);
      await this.audit.record(client, {
        actor,
        action: 'egress.secret_registered',
        subject: { type: 'egress_secret', id: secret.id },
        // Never the value: what it is for, and which secret it replaced.
        after: { host, header, description, replaced: replaced.map((row) => Number(row.id)) },
      });
      return secret;
    });
  }

  async revoke(id: number, actor: Principal): Promise<EgressSecret> {
    return this.database.transaction(async (client) => {
      const { rows } = await client.query<SecretRow>(
        `UPDATE egress_secrets SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1 RETURNING *`,
        [id],
      );
      if (!rows[0]) throw new NotFoundException(`there is no egress secret ${id}`);
      const secret = toSecret(rows[0]);
      await this.audit.record(client, {
        actor,
        action: 'egress.secret_revoked',
        subject: { type: 'egress_secret', id },
        after: { host: secret.host, header: secret.header },
      });
      return secret;
    });
  }

  async list(): Promise<EgressSecret[]> {
    const { rows } = await this.database.query<SecretRow>('SELECT * FROM egress_secrets ORDER BY id');
    return rows.map(toSecret);
  }

  /** The live secrets, opened (for node daemons). One that no longer opens is left out, loudly. */
  async live(): Promise<OpenSecret[]> {
    const { rows } = await this.database.query<SecretRow>({
      name: 'egress-live-secrets',
      text: 'SELECT * FROM egress_secrets WHERE revoked_at IS NULL ORDER BY id',
    });
    const opened: OpenSecret[] = [];
    for (const row of rows) {
      const value = this.seal?.open(row.sealed, secretBinding(row.host, row.header));
      if (value === undefined) {
        this.logger.error(
          { secret: Number(row.id), host: row.host },
          'an egress secret does not open: was VILLAGE_SECRETS_KEY changed?',
        );
        continue;
      }
      opened.push({ id: Number(row.id), host: row.host, header: row.header, value });
    }
    return opened;
  }
}

function toSecret(row: SecretRow): EgressSecret {
  return {
    id: Number(row.id),
    host: row.host,
    header: row.header,
    description: row.description,
    createdBy: row.created_by,
    createdAt: row.created_at.toISOString(),
    revokedAt: row.revoked_at?.toISOString() ?? null,
  };
}
