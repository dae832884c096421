import { ConflictException, Inject, Injectable, NotFoundException, UnprocessableEntityException } from '@nestjs/common';
import { createHash, X509Certificate } from 'node:crypto';
import type pg from 'pg';
import type { z } from 'zod';
import type {
  RegisterNodeRequest,
  RegisteredNode,
  UpdateNodeRequest,
  VillageNode,
  NodeEngineRequestSchema,
  AgentNetworkRequestSchema,
} from '../contract/index.js';
import { RegisterNodeRequestSchema, UpdateNodeRequestSchema } from '../contract/index.js';
import { AuditService } from '../audit/audit.service.js';
import { AuthService } from '../auth/auth.service.js';
import { principalKey, type Principal } from '../auth/principal.js';
import { generateNodeToken, hashToken } from '../auth/tokens.js';
import { CONFIG, type Config } from '../config/config.js';
import { DatabaseService } from '../database/database.service.js';
import { TiersService } from '../economy/tiers.service.js';
import { SecretSeal } from '../egress/secret-seal.js';
import type { AgentNetwork } from './agent-container-spec.js';

type EngineRequest = z.output<typeof NodeEngineRequestSchema>;
type NetworkRequest = z.output<typeof AgentNetworkRequestSchema>;

interface NodeRow {
  name: string;
  labels: Record<string, string>;
  created_by: string;
  created_at: Date;
  last_seen_at: Date | null;
  engine_kind: 'none' | 'socket' | 'tcp';
  engine_socket: string | null;
  engine_host: string | null;
  engine_port: number | null;
  engine_tls_ca: string | null;
  engine_tls_cert: string | null;
  engine_tls_key: string | null;
  agent_network: 'egress-proxy' | 'host';
  egress_dir: string;
  village_url: string | null;
  cordoned: boolean;
  state: 'unknown' | 'ready' | 'down';
  state_error: string | null;
  state_changed_at: Date | null;
  checked_at: Date | null;
  engine_version: string | null;
  cpus: string | null;
  memory_mb: number | null;
  gpus: unknown[];
}

/** How the fleet reaches a node's engine; the TLS key opened, for dockerode only. */
export type EngineAddress =
  | { kind: 'socket'; socketPath: string }
  | { kind: 'tcp'; host: string; port: number; ca: string; cert: string; key: string };

/** A node as the fleet works with it (internal: holds the opened key). */
export interface NodeRecord {
  name: string;
  labels: Record<string, string>;
  /** Undefined for a node without an engine (or whose key cannot be opened: see engineProblem). */
  engine: EngineAddress | undefined;
  engineProblem: string | undefined;
  network: { mode: 'egress-proxy'; egressDir: string } | { mode: 'host'; villageUrl: string };
  cordoned: boolean;
  state: 'unknown' | 'ready' | 'down';
  stateError: string | null;
  checkedAt: Date | null;
  cpus: number | null;
  memoryMb: number | null;
  /** GPUs its reporter saw (0 when none or no reporter). */
  gpuCount: number;
}

/** What placed agents take of a node, by their tiers. */
export interface NodeAllocation {
  agents: number;
  cpus: number;
  memoryMb: number;
}

const COLUMNS = `name, labels, created_by, created_at, last_seen_at, engine_kind, engine_socket, engine_host, engine_port,
  engine_tls_ca, engine_tls_cert, engine_tls_key, agent_network, egress_dir, village_url, cordoned, state, state_error,
  state_changed_at, checked_at, engine_version, cpus, memory_mb, gpus`;
/** How often a node's "last seen" is written at most: its daemons call every few seconds. */
const SEEN_EVERY_MS = 30_000;

/**
 * The machines that run agents: their Docker engine (a local socket, or TCP with mutual TLS whose key
 * is sealed with VILLAGE_SECRETS_KEY), labels, how their containers reach the village, and what the
 * reconcile loop last saw of them (state, capacity). A node's daemons call the control plane with the
 * node's token, which is shown once at registration or rotation and stored only as a hash.
 */
@Injectable()
export class NodesService {
  private readonly seen = new Map<string, number>();
  private readonly gpusSeen = new Map<string, string>();
  private readonly seal: SecretSeal | undefined;

  constructor(
    @Inject(CONFIG) config: Config,
    private readonly database: DatabaseService,
    private readonly audit: AuditService,
    private readonly auth: AuthService,
    private readonly tiers: TiersService,
  ) {
    this.seal = config.VILLAGE_SECRETS_KEY ? new SecretSeal(config.VILLAGE_SECRETS_KEY) : undefined;
  }

  async register(request: RegisterNodeRequest, actor: Principal): Promise<RegisteredNode> {
    const { name, labels, engine, agentNetwork } = RegisterNodeRequestSchema.parse(request);
    const token = generateNodeToken();
    const engineColumns = this.engineColumns(name, engine);
    const networkColumns = networkColumnsOf(agentNetwork);
    const row = await this.database.transaction(async (client) => {
      const { rows } = await client.query<NodeRow>(
        `INSERT INTO nodes (name, labels, token_hash, created_by, engine_kind, engine_socket, engine_host, engine_port,
                            engine_tls_ca, engine_tls_cert, engine_tls_key, agent_network, egress_dir, village_url)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
         ON CONFLICT (name) DO NOTHING RETURNING ${COLUMNS}`,
        [name, JSON.stringify(labels), hashToken(token), principalKey(actor), ...engineColumns, ...networkColumns],
      );
      if (!rows[0]) throw new ConflictException(`there is already a node named "${name}"; rotate its token instead`);
      await this.audit.record(client, {
        actor,
        action: 'node.registered',
        subject: { type: 'node', id: name },
        after: { labels, engine: describeEngine(engine), agentNetwork },
      });
      return rows[0];
    });
    return { node: await this.toNode(row), token };
  }

  /** Changes labels, engine, agent network or cordon; the engine's key is sealed again. */
  async update(name: string, request: UpdateNodeRequest, actor: Principal): Promise<VillageNode> {
    const body = UpdateNodeRequestSchema.parse(request);
    const row = await this.database.transaction(async (client) => {
      const { rows: before } = await client.query<NodeRow>(`SELECT ${COLUMNS} FROM nodes WHERE name = $1 FOR UPDATE`, [
        name,
      ]);
      if (!before[0]) throw new NotFoundException(`there is no node named "${name}"`);
      const sets: string[] = [];
      const values: unknown[] = [name];
      const set = (column: string, value: unknown) => {
        values.push(value);
        sets.push(`${column} = $${values.length}`);
      };
      if (body.labels) set('labels', JSON.stringify(body.labels));
      if (body.cordoned !== undefined) set('cordoned', body.cordoned);
      if (body.engine) {
        const [kind, socket, host, port, ca, cert, key] = this.engineColumns(name, body.engine);
        Object.entries({ kind, socket, host, port, tls_ca: ca, tls_cert: cert, tls_key: key }).forEach(
          ([column, value]) => set(`engine_${column}`, value),
        );
        // A new engine has not been seen yet.
        sets.push(`state = 'unknown'`, 'state_error = NULL', 'checked_at = NULL', 'cpus = NULL', 'memory_mb = NULL');
      }
      if (body.agentNetwork) {
        const [mode, egressDir, villageUrl] = networkColumnsOf(body.agentNetwork);
        set('agent_network', mode);
        set('egress_dir', egressDir);
        set('village_url', villageUrl);
      }
      const { rows } = await client.query<NodeRow>(
        `UPDATE nodes SET ${sets.join(', ')} WHERE name = $1 RETURNING ${COLUMNS}`,
        values,
      );
      await this.audit.record(client, {
        actor,
        action: 'node.updated',
        subject: { type: 'node', id: name },
        before: publicSettings(before[0]),
        after: publicSettings(rows[0]!),
      });
      return rows[0]!;
    });
    return this.toNode(row);
  }

  /** A new token for the node; the old one stops working at once on every replica. */
  async rotateToken(name: string, actor: Principal): Promise<RegisteredNode> {
    const token = generateNodeToken();
    const { row, old } = await this.database.transaction(async (client) => {
      const { rows } = await client.query<NodeRow & { old: string }>(
        `UPDATE nodes n SET token_hash = $2
           FROM (SELECT token_hash AS old FROM nodes WHERE name = $1 FOR UPDATE) before
          WHERE n.name = $1 RETURNING ${COLUMNS.split(',')
            .map((c) => `n.${c.trim()}`)
            .join(', ')}, before.old`,
        [name, hashToken(token)],
      );
      if (!rows[0]) throw new NotFoundException(`there is no node named "${name}"`);
      await this.audit.record(client, { actor, action: 'node.token_rotated', subject: { type: 'node', id: name } });
      return { row: rows[0], old: rows[0].old };
    });
    await this.auth.revokeToken(old);
    return { node: await this.toNode(row), token };
  }

  async list(): Promise<VillageNode[]> {
    const { rows } = await this.database.query<NodeRow>(`SELECT ${COLUMNS} FROM nodes ORDER BY name`);
    const allocations = await this.allocations();
    return rows.map((row) => toNode(row, allocations.get(row.name)));
  }

  async get(name: string): Promise<VillageNode> {
    return this.toNode(await this.row(name));
  }

  /** The node as the fleet drives it, with its engine's key opened. */
  async record(name: string): Promise<NodeRecord> {
    return this.toRecord(await this.row(name));
  }

  /** Every node with an engine, as the fleet drives them. */
  async engineNodes(): Promise<NodeRecord[]> {
    const { rows } = await this.database.query<NodeRow>(
      `SELECT ${COLUMNS} FROM nodes WHERE engine_kind <> 'none' ORDER BY name`,
    );
    return rows.map((row) => this.toRecord(row));
  }

  /**
   * Records what the reconcile loop saw of a node's engine; returns the previous state when it changed
   * (so that the caller announces it once). Capacity and version are kept when not given.
   */
  async recordState(
    name: string,
    seen: { state: 'ready' | 'down'; error: string | null; cpus?: number; memoryMb?: number; version?: string },
  ): Promise<{ changed: boolean }> {
    const { rows } = await this.database.query<{ changed: boolean }>(
      `WITH before AS (SELECT state, state_error FROM nodes WHERE name = $1 FOR UPDATE)
       UPDATE nodes n SET state = $2, state_error = $3, checked_at = now(),
              state_changed_at = CASE WHEN before.state <> $2 THEN now() ELSE n.state_changed_at END,
              cpus = coalesce($4, n.cpus), memory_mb = coalesce($5, n.memory_mb),
              engine_version = coalesce($6, n.engine_version)
         FROM before WHERE n.name = $1
       RETURNING before.state <> $2 AS changed`,
      [name, seen.state, seen.error, seen.cpus ?? null, seen.memoryMb ?? null, seen.version ?? null],
    );
    return { changed: rows[0]?.changed ?? false };
  }

  /** The GPU inventory a node's reporter sends (kept as reported). */
  /** The node's GPUs as its reporter sees them; written only when they change (every sample repeats them). */
  async recordGpus(name: string, gpus: unknown[]): Promise<void> {
    const json = JSON.stringify(gpus);
    if (this.gpusSeen.get(name) === json) return;
    await this.database.query('UPDATE nodes SET gpus = $2 WHERE name = $1', [name, json]);
    this.gpusSeen.set(name, json);
  }

  /** What the agents placed on each node take (every desired state but stopped), by their tiers. */
  async allocations(client?: Pick<pg.PoolClient, 'query'>): Promise<Map<string, NodeAllocation>> {
    const query = client ? client.query.bind(client) : this.database.query.bind(this.database);
    const { rows } = await query<{ node: string; tier: number; agents: number }>(
      `SELECT f.node, t.tier, count(*)::int AS agents FROM fleet_agents f JOIN agent_tiers t ON t.agent_id = f.agent_id
        WHERE f.node IS NOT NULL AND f.desired <> 'stopped' GROUP BY f.node, t.tier`,
    );
    const policy = await this.tiers.policy();
    const allocations = new Map<string, NodeAllocation>();
    for (const row of rows) {
      const { entitlements } = policy.tiers[Math.min(row.tier, policy.tiers.length - 1)]!;
      const sum = allocations.get(row.node) ?? { agents: 0, cpus: 0, memoryMb: 0 };
      sum.agents += row.agents;
      sum.cpus = Math.round((sum.cpus + entitlements.cpus * row.agents) * 100) / 100;
      sum.memoryMb += entitlements.memoryMb * row.agents;
      allocations.set(row.node, sum);
    }
    return allocations;
  }

  /** Notes that the node's daemons are alive (written at most every 30 s per replica). */
  async touch(name: string): Promise<void> {
    const now = Date.now();
    if ((this.seen.get(name) ?? 0) > now - SEEN_EVERY_MS) return;
    this.seen.set(name, now);
    await this.database.query('UPDATE nodes SET last_seen_at = now() WHERE name = $1', [name]);
  }

  private async row(name: string): Promise<NodeRow> {
    const { rows } = await this.database.query<NodeRow>(`SELECT ${COLUMNS} FROM nodes WHERE name = $1`, [name]);
    if (!rows[0]) throw new NotFoundException(`there is no node named "${name}"`);
    return rows[0];
  }

  private async toNode(row: NodeRow): Promise<VillageNode> {
    return toNode(row, (await this.allocations()).get(row.name));
  }

  /** The engine's columns, the key sealed (bound to the node's name); certificates are checked to parse. */
  private engineColumns(name: string, engine: EngineRequest): unknown[] {
    if (engine.kind === 'none') return ['none', null, null, null, null, null, null];
    if (engine.kind === 'socket') return ['socket', engine.socketPath, null, null, null, null, null];
    if (!this.seal) {
      throw new ConflictException(
        'a TLS key cannot be stored: this village has no VILLAGE_SECRETS_KEY configured (it seals engine keys at rest)',
      );
    }
    for (const [what, pem] of [
      ['tls.ca', engine.tls.ca],
      ['tls.cert', engine.tls.cert],
    ] as const) {
      try {
        new X509Certificate(pem);
      } catch (error) {
        throw new UnprocessableEntityException(`${what} is not a readable certificate: ${(error as Error).message}`);
      }
    }
    const key = this.seal.seal(engine.tls.key, keyBinding(name));
    return ['tcp', null, engine.host, engine.port, engine.tls.ca, engine.tls.cert, key];
  }

  private toRecord(row: NodeRow): NodeRecord {
    let engine: EngineAddress | undefined;
    let engineProblem: string | undefined;
    if (row.engine_kind === 'socket') engine = { kind: 'socket', socketPath: row.engine_socket! };
    if (row.engine_kind === 'tcp') {
      const key = this.seal?.open(row.engine_tls_key ?? '', keyBinding(row.name));
      if (key === undefined) {
        engineProblem = `the TLS key of node ${row.name} cannot be opened (VILLAGE_SECRETS_KEY missing or changed): register the engine again`;
      } else {
        engine = {
          kind: 'tcp',
          host: row.engine_host!,
          port: row.engine_port!,
          ca: row.engine_tls_ca!,
          cert: row.engine_tls_cert!,
          key,
        };
      }
    }
    return {
      name: row.name,
      labels: row.labels,
      engine,
      engineProblem,
      network: agentNetworkOf(row),
      cordoned: row.cordoned,
      state: row.state,
      stateError: row.state_error,
      checkedAt: row.checked_at,
      cpus: row.cpus === null ? null : Number(row.cpus),
      memoryMb: row.memory_mb,
      gpuCount: Array.isArray(row.gpus) ? row.gpus.length : 0,
    };
  }
}

/** The container network of an agent on this node (the spec's one switch). */
export function agentNetworkOn(node: NodeRecord, agentId: string): AgentNetwork {
  return node.network.mode === 'host'
    ? { mode: 'host', villageUrl: node.network.villageUrl }
    : { mode: 'egress-proxy', socketDirectory: `${node.network.egressDir}/${agentId}` };
}

const keyBinding = (name: string) => `node-engine-key\n${name}`;

function networkColumnsOf(network: NetworkRequest): [string, string, string | null] {
  return network.mode === 'host'
    ? ['host', '/run/village/egress', network.villageUrl]
    : ['egress-proxy', network.egressDir, null];
}

const fingerprint = (pem: string | null) => (pem ? createHash('sha256').update(pem.trim()).digest('hex') : '');

function describeEngine(engine: EngineRequest) {
  if (engine.kind !== 'tcp') return engine;
  return {
    kind: 'tcp',
    host: engine.host,
    port: engine.port,
    tls: { caSha256: fingerprint(engine.tls.ca), certSha256: fingerprint(engine.tls.cert), keySealed: true },
  };
}

/** What the audit log keeps of a node's settings: never the key. */
function publicSettings(row: NodeRow) {
  const node = toNode(row, undefined);
  return { labels: node.labels, engine: node.engine, agentNetwork: node.agentNetwork, cordoned: node.cordoned };
}

function toNode(row: NodeRow, allocation: NodeAllocation | undefined): VillageNode {
  const engine: VillageNode['engine'] =
    row.engine_kind === 'socket'
      ? { kind: 'socket', socketPath: row.engine_socket! }
      : row.engine_kind === 'tcp'
        ? {
            kind: 'tcp',
            host: row.engine_host!,
            port: row.engine_port!,
            tls: {
              caSha256: fingerprint(row.engine_tls_ca),
              certSha256: fingerprint(row.engine_tls_cert),
              keySealed: !!row.engine_tls_key,
            },
          }
        : { kind: 'none' };
  return {
    id: row.name,
    name: row.name,
    labels: row.labels,
    createdBy: row.created_by,
    createdAt: row.created_at.toISOString(),
    lastSeenAt: row.last_seen_at?.toISOString() ?? null,
    engine,
    agentNetwork: agentNetworkOf(row),
    cordoned: row.cordoned,
    state: row.state,
    stateError: row.state_error,
    stateChangedAt: row.state_changed_at?.toISOString() ?? null,
    checkedAt: row.checked_at?.toISOString() ?? null,
    engineVersion: row.engine_version,
    capacity: {
      cpus: row.cpus === null ? null : Number(row.cpus),
      memoryMb: row.memory_mb,
      gpus: Array.isArray(row.gpus) ? row.gpus : [],
    },
    allocated: allocation ?? { agents: 0, cpus: 0, memoryMb: 0 },
  };
}

/** How a node's containers reach the village, from its row. */
function agentNetworkOf(row: Pick<NodeRow, 'agent_network' | 'village_url' | 'egress_dir'>) {
  return row.agent_network === 'host'
    ? ({ mode: 'host', villageUrl: row.village_url! } as const)
    : ({ mode: 'egress-proxy', egressDir: row.egress_dir } as const);
}
