import { ConflictException, Injectable, NotFoundException } from '@nestjs/common';
import { createHash } from 'node:crypto';
import type pg from 'pg';
import { AuditService } from '../audit/audit.service.js';
import type { Principal } from '../auth/principal.js';
import type { FlowDeploy, FlowDeployDetails, FlowDeploySummary } from '../contract/index.js';
import { DatabaseService } from '../database/database.service.js';
import { whereClause } from '../database/sql-filter.js';
import { EventBus } from '../events/event-bus.service.js';
import type { ListQuery } from '../http/list-query.js';

export type FlowConfig = Record<string, unknown>[];
export type FlowCredentials = Record<string, unknown>;

export interface NewDeploy {
  kind: 'deploy' | 'rollback';
  flows: FlowConfig;
  credentials: FlowCredentials;
  deployedBy: string;
  actor: Principal | undefined;
  rollbackOf?: number | undefined;
  reason?: string | undefined;
}

interface DeployRow {
  id: string;
  kind: FlowDeploy['kind'];
  flows: FlowConfig;
  credentials: FlowCredentials;
  rev: string;
  deployed_by: string;
  rollback_of: string | null;
  summary: FlowDeploySummary;
  created_at: Date;
  current: boolean;
}

export const FLOW_DEPLOY_SORT_FIELDS = ['id', 'createdAt'] as const;
export type FlowDeploySortField = (typeof FLOW_DEPLOY_SORT_FIELDS)[number];
const SORT_COLUMNS: Record<FlowDeploySortField, string> = { id: 'id', createdAt: 'created_at' };
const FILTER_COLUMNS = { id: 'id', kind: 'kind', deployedBy: 'deployed_by' } as const;

/** Serialises deploys across replicas, so each one's summary is against the one before it. */
const DEPLOY_LOCK = 'flows:deploy';
const COLUMNS = `id, kind, flows, credentials, rev, deployed_by, rollback_of, summary, created_at,
  id = (SELECT max(id) FROM flow_deploys) AS current`;

/**
 * The flows in PostgreSQL: an append-only history of deploys (the newest runs) and Node-RED's own
 * keys (settings, editor sessions, current credentials). Each deploy is audited and announced.
 */
@Injectable()
export class FlowStore {
  constructor(
    private readonly database: DatabaseService,
    private readonly audit: AuditService,
    private readonly events: EventBus,
  ) {}

  /** On first start, the shipped flows become deploy 1 (once, whatever the number of replicas). */
  async installDefaults(flows: FlowConfig): Promise<boolean> {
    return this.database.transaction(async (client) => {
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [DEPLOY_LOCK]);
      const { rowCount } = await client.query('SELECT 1 FROM flow_deploys LIMIT 1');
      if (rowCount) return false;
      await client.query(
        `INSERT INTO flow_deploys (kind, flows, rev, deployed_by, summary) VALUES ('default', $1, $2, 'village', $3)`,
        [JSON.stringify(flows), revisionOf(flows), JSON.stringify(summarize([], flows))],
      );
      return true;
    });
  }

  async current(): Promise<{ flows: FlowConfig; credentials: FlowCredentials } | undefined> {
    const { rows } = await this.database.query<Pick<DeployRow, 'flows' | 'credentials'>>(
      'SELECT flows, credentials FROM flow_deploys ORDER BY id DESC LIMIT 1',
    );
    return rows[0];
  }

  /** Records a deploy (or a rollback) with what changed since the one before it. */
  async record(deploy: NewDeploy): Promise<FlowDeploy> {
    const recorded = await this.database.transaction(async (client) => {
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [DEPLOY_LOCK]);
      const { rows: previous } = await client.query<{ flows: FlowConfig }>(
        'SELECT flows FROM flow_deploys ORDER BY id DESC LIMIT 1',
      );
      const summary = summarize(previous[0]?.flows ?? [], deploy.flows);
      const { rows } = await client.query<DeployRow>(
        `INSERT INTO flow_deploys (kind, flows, credentials, rev, deployed_by, rollback_of, summary)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ${COLUMNS.replace('(SELECT max(id) FROM flow_deploys)', 'id')}`,
        [
          deploy.kind,
          JSON.stringify(deploy.flows),
          JSON.stringify(deploy.credentials),
          revisionOf(deploy.flows),
          deploy.deployedBy,
          deploy.rollbackOf ?? null,
          JSON.stringify(summary),
        ],
      );
      const recorded = toDeploy(rows[0]!);
      await this.audit.record(client, {
        actor: deploy.actor,
        action: deploy.kind === 'rollback' ? 'flows.rolled_back' : 'flows.deployed',
        subject: { type: 'flow_deploy', id: recorded.id },
        after: { ...summary, rollbackOf: recorded.rollbackOf, deployedBy: recorded.deployedBy },
        reason: deploy.reason ?? null,
      });
      return recorded;
    });
    await this.events.publish([
      {
        type: 'flows.deployed',
        deployId: recorded.id,
        kind: recorded.kind,
        deployedBy: recorded.deployedBy,
        rollbackOf: recorded.rollbackOf,
        added: recorded.summary.added.length,
        changed: recorded.summary.changed.length,
        removed: recorded.summary.removed.length,
      },
    ]);
    return recorded;
  }

  async list(query: ListQuery<FlowDeploySortField>): Promise<{ items: FlowDeploy[]; total: number }> {
    const where = whereClause(query.filter, FILTER_COLUMNS);
    const [rows, count] = await Promise.all([
      this.database.query<DeployRow>(
        `SELECT ${COLUMNS} FROM flow_deploys ${where.sql}
          ORDER BY ${SORT_COLUMNS[query.sort.field]} ${query.sort.order}, id ${query.sort.order}
          OFFSET $${where.values.length + 1} LIMIT $${where.values.length + 2}`,
        [...where.values, query.offset, query.limit],
      ),
      this.database.query<{ total: string }>(`SELECT count(*) AS total FROM flow_deploys ${where.sql}`, where.values),
    ]);
    return { items: rows.rows.map(toDeploy), total: Number(count.rows[0]!.total) };
  }

  async get(id: number): Promise<FlowDeployDetails> {
    const row = await this.row(id);
    return { ...toDeploy(row), flows: row.flows };
  }

  /** What a rollback to `id` runs: its flows and credentials; refused for the deploy that runs now. */
  async rollbackTarget(id: number): Promise<{ flows: FlowConfig; credentials: FlowCredentials }> {
    const row = await this.row(id);
    if (row.current) throw new ConflictException(`deploy ${id} is the one that runs now`);
    return { flows: row.flows, credentials: row.credentials };
  }

  private async row(id: number): Promise<DeployRow> {
    const { rows } = await this.database.query<DeployRow>(`SELECT ${COLUMNS} FROM flow_deploys WHERE id = $1`, [id]);
    if (!rows[0]) throw new NotFoundException(`there is no flow deploy ${id}`);
    return rows[0];
  }

  async state<T>(key: string): Promise<T | undefined> {
    const { rows } = await this.database.query<{ value: T }>('SELECT value FROM flow_runtime_state WHERE key = $1', [
      key,
    ]);
    return rows[0]?.value;
  }

  async setState(key: string, value: unknown, client: Pick<pg.PoolClient, 'query'> = this.database.pool) {
    await client.query(
      `INSERT INTO flow_runtime_state (key, value) VALUES ($1, $2)
       ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = now()`,
      [key, JSON.stringify(value)],
    );
  }
}

/** Node-RED's revision of a flow configuration. */
export function revisionOf(flows: FlowConfig): string {
  return createHash('sha256').update(JSON.stringify(flows)).digest('hex');
}

/** Which nodes (by id) a deploy added, changed and removed. */
export function summarize(before: FlowConfig, after: FlowConfig): FlowDeploySummary {
  const index = (flows: FlowConfig) => new Map(flows.map((node) => [String(node.id), JSON.stringify(node)]));
  const old = index(before);
  const now = index(after);
  return {
    added: [...now.keys()].filter((id) => !old.has(id)),
    changed: [...now.keys()].filter((id) => old.has(id) && old.get(id) !== now.get(id)),
    removed: [...old.keys()].filter((id) => !now.has(id)),
    nodes: now.size,
  };
}

function toDeploy(row: DeployRow): FlowDeploy {
  return {
    id: Number(row.id),
    kind: row.kind,
    rev: row.rev,
    deployedBy: row.deployed_by,
    rollbackOf: row.rollback_of === null ? null : Number(row.rollback_of),
    summary: row.summary,
    current: row.current,
    createdAt: row.created_at.toISOString(),
  };
}
