import { ConflictException, Injectable, NotFoundException } from '@nestjs/common';
import type { RegisterNodeRequest, RegisteredNode, VillageNode } from '../contract/index.js';
import { RegisterNodeRequestSchema } from '../contract/index.js';
import { AuditService } from '../audit/audit.service.js';
import { AuthService } from '../auth/auth.service.js';
import { principalKey, type Principal } from '../auth/principal.js';
import { generateNodeToken, hashToken } from '../auth/tokens.js';
import { DatabaseService } from '../database/database.service.js';

interface NodeRow {
  name: string;
  labels: Record<string, string>;
  created_by: string;
  created_at: Date;
  last_seen_at: Date | null;
}

const COLUMNS = 'name, labels, created_by, created_at, last_seen_at';
/** How often a node's "last seen" is written at most: its daemons call every few seconds. */
const SEEN_EVERY_MS = 30_000;

/**
 * The machines that run agents. A node's daemons (egress proxy, GPU reporter) call the control plane
 * with the node's token, which is shown once at registration or rotation and stored only as a hash.
 */
@Injectable()
export class NodesService {
  private readonly seen = new Map<string, number>();

  constructor(
    private readonly database: DatabaseService,
    private readonly audit: AuditService,
    private readonly auth: AuthService,
  ) {}

  async register(request: RegisterNodeRequest, actor: Principal): Promise<RegisteredNode> {
    const { name, labels } = RegisterNodeRequestSchema.parse(request);
    const token = generateNodeToken();
    const node = await this.database.transaction(async (client) => {
      const { rows } = await client.query<NodeRow>(
        `INSERT INTO nodes (name, labels, token_hash, created_by) VALUES ($1, $2, $3, $4)
         ON CONFLICT (name) DO NOTHING RETURNING ${COLUMNS}`,
        [name, JSON.stringify(labels), hashToken(token), principalKey(actor)],
      );
      if (!rows[0]) throw new ConflictException(`there is already a node named "${name}"; rotate its token instead`);
      await this.audit.record(client, {
        actor,
        action: 'node.registered',
        subject: { type: 'node', id: name },
        after: { labels },
      });
      return toNode(rows[0]);
    });
    return { node, token };
  }

  /** A new token for the node; the old one stops working at once on every replica. */
  async rotateToken(name: string, actor: Principal): Promise<RegisteredNode> {
    const token = generateNodeToken();
    const { node, old } = await this.database.transaction(async (client) => {
      const { rows } = await client.query<NodeRow & { old: string }>(
        `UPDATE nodes n SET token_hash = $2
           FROM (SELECT token_hash AS old FROM nodes WHERE name = $1 FOR UPDATE) before
          WHERE n.name = $1 RETURNING ${COLUMNS.split(', ')
            .map((c) => `n.${c}`)
            .join(', ')}, before.old`,
        [name, hashToken(token)],
      );
      if (!rows[0]) throw new NotFoundException(`there is no node named "${name}"`);
      await this.audit.record(client, { actor, action: 'node.token_rotated', subject: { type: 'node', id: name } });
      return { node: toNode(rows[0]), old: rows[0].old };
    });
    await this.auth.revokeToken(old);
    return { node, token };
  }

  async list(): Promise<VillageNode[]> {
    const { rows } = await this.database.query<NodeRow>(`SELECT ${COLUMNS} FROM nodes ORDER BY name`);
    return rows.map(toNode);
  }

  async get(name: string): Promise<VillageNode> {
    const { rows } = await this.database.query<NodeRow>(`SELECT ${COLUMNS} FROM nodes WHERE name = $1`, [name]);
    if (!rows[0]) throw new NotFoundException(`there is no node named "${name}"`);
    return toNode(rows[0]);
  }

  /** Notes that the node's daemons are alive (written at most every 30 s per replica). */
  async touch(name: string): Promise<void> {
    const now = Date.now();
    if ((this.seen.get(name) ?? 0) > now - SEEN_EVERY_MS) return;
    this.seen.set(name, now);
    await this.database.query('UPDATE nodes SET last_seen_at = now() WHERE name = $1', [name]);
  }
}

function toNode(row: NodeRow): VillageNode {
  return {
    name: row.name,
    labels: row.labels,
    createdBy: row.created_by,
    createdAt: row.created_at.toISOString(),
    lastSeenAt: row.last_seen_at?.toISOString() ?? null,
  };
}
