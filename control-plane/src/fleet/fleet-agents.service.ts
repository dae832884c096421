import { ConflictException, Inject, Injectable, NotFoundException, UnprocessableEntityException } from '@nestjs/common';
import type pg from 'pg';
import type { FleetAgent, FleetDesiredState, KillSwitchAction, StartFleetAgentRequest } from '../contract/index.js';
import { FLEET_AGENT_SORT_FIELDS, StartFleetAgentRequestSchema } from '../contract/index.js';
import { AgentsService } from '../agents/agents.service.js';
import { AuditService } from '../audit/audit.service.js';
import { principalKey, type Principal } from '../auth/principal.js';
import { CONFIG, type Config } from '../config/config.js';
import { DatabaseService } from '../database/database.service.js';
import { listPage } from '../database/list-page.js';
import { TiersService } from '../economy/tiers.service.js';
import { EventBus } from '../events/event-bus.service.js';
import type { ListQuery } from '../http/list-query.js';
import { AgentContainers } from './agent-containers.service.js';
import { FLEET_AGENT_COLUMNS, toFleetAgent, type FleetAgentRow } from './fleet-records.js';
import { NodesService } from './nodes.service.js';
import { placeAgent } from './placement.js';

export type FleetAgentSortField = (typeof FLEET_AGENT_SORT_FIELDS)[number];
const SORT_COLUMNS: Record<FleetAgentSortField, string> = {
  agentId: 'agent_id',
  node: 'node',
  desired: 'desired',
  observed: 'observed',
  restarts: 'restarts',
  desiredAt: 'desired_at',
};
const FILTER_COLUMNS = { id: 'agent_id', agentId: 'agent_id', node: 'node', desired: 'desired', observed: 'observed' };

/** The desired states in which the fleet holds an agent back: nobody hands it a new token. */
const HELD: ReadonlySet<FleetDesiredState> = new Set(['stopped', 'quarantined']);

/**
 * Which agents the fleet runs, where, and what they should be doing: starting one (placed by labels
 * and free capacity, or on the node an admin names), reading them as a list, and changing the desired
 * state under the row lock for the kill switch. Every change is audited and converged at once.
 */
@Injectable()
export class FleetAgentsService {
  constructor(
    @Inject(CONFIG) private readonly config: Config,
    private readonly database: DatabaseService,
    private readonly audit: AuditService,
    private readonly events: EventBus,
    private readonly nodes: NodesService,
    private readonly agents: AgentsService,
    private readonly tiers: TiersService,
    private readonly containers: AgentContainers,
  ) {}

  async list(query: ListQuery<FleetAgentSortField>): Promise<{ items: FleetAgent[]; total: number }> {
    return listPage<FleetAgentRow, FleetAgent>(
      this.database,
      // The agent's id is the row's id (ties in the order are broken by id).
      { table: '(SELECT *, agent_id AS id FROM fleet_agents) f', sort: SORT_COLUMNS, filter: FILTER_COLUMNS },
      query,
      (row) => this.toFleetAgent(row),
    );
  }

  async get(agentId: string): Promise<FleetAgent> {
    const { rows } = await this.database.query<FleetAgentRow>(
      `SELECT ${FLEET_AGENT_COLUMNS} FROM fleet_agents WHERE agent_id = $1`,
      [agentId],
    );
    if (!rows[0]) throw notInFleet(agentId);
    return this.toFleetAgent(rows[0]);
  }

  /**
   * Runs the agent in a container: on `node`, or on the node with the most free memory that carries the
   * selector's labels and has room for its tier (placements are taken one at a time). An agent already
   * placed stays where it is unless `node` names another; a stopped one starts again. A quarantined
   * agent must be released first.
   */
  async start(agentId: string, request: StartFleetAgentRequest, actor: Principal): Promise<FleetAgent> {
    const body = StartFleetAgentRequestSchema.parse(request);
    await this.agents.get(agentId);
    const economy = await this.tiers.economyOf(agentId);
    if (economy.tier.quarantined) {
      throw new ConflictException(`agent ${agentId} is quarantined: release it first`);
    }
    const { after, moved } = await this.database.transaction(async (client) => {
      await client.query(`SELECT pg_advisory_xact_lock(hashtext('ai-village:fleet-placement'))`);
      const before = await this.lockRow(client, agentId);
      if (before?.desired === 'quarantined')
        throw new ConflictException(`agent ${agentId} is quarantined: release it first`);
      const selector = body.nodeSelector ?? before?.node_selector ?? {};
      let node = body.node ?? (body.nodeSelector ? undefined : before?.node) ?? undefined;
      if (node) {
        const record = await this.nodes.record(node);
        if (!record.engine) {
          throw new UnprocessableEntityException(
            record.engineProblem ??
              `node ${node} has no Docker engine registered: PUT /api/nodes/${node} with an engine`,
          );
        }
      } else {
        const allocations = await this.nodes.allocations(client);
        const placement = placeAgent(await this.nodes.engineNodes(), allocations, {
          cpus: economy.entitlements.cpus,
          memoryMb: economy.entitlements.memoryMb,
          selector,
        });
        if (placement.node === undefined) {
          throw new UnprocessableEntityException(`cannot place agent ${agentId}: ${placement.reason}`);
        }
        node = placement.node;
      }
      const moved = before?.node && before.node !== node && before.container_id ? before : undefined;
      const { rows } = await client.query<FleetAgentRow>(
        `INSERT INTO fleet_agents (agent_id, node, desired, desired_reason, desired_by, node_selector, image)
         VALUES ($1, $2, 'running', $3, $4, $5, $6)
         ON CONFLICT (agent_id) DO UPDATE SET node = EXCLUDED.node, desired = 'running',
           desired_reason = EXCLUDED.desired_reason, desired_by = EXCLUDED.desired_by, desired_at = now(),
           node_selector = EXCLUDED.node_selector, image = coalesce($6, fleet_agents.image),
           container_id = CASE WHEN fleet_agents.node IS DISTINCT FROM EXCLUDED.node THEN NULL ELSE fleet_agents.container_id END,
           restarts = 0, last_error = NULL, next_attempt_at = NULL
         RETURNING ${FLEET_AGENT_COLUMNS}`,
        [agentId, node, body.reason ?? null, principalKey(actor), JSON.stringify(selector), body.image ?? null],
      );
      const after = rows[0]!;
      await this.audit.record(client, {
        actor,
        action: 'kill_switch.start',
        subject: { type: 'agent', id: agentId },
        before: before ? { desired: before.desired, node: before.node } : null,
        after: { desired: after.desired, node: after.node, image: after.image ?? this.config.VILLAGE_AGENT_IMAGE },
        reason: body.reason ?? null,
      });
      return { after, moved };
    });
    if (moved) await this.containers.removeFrom(await this.nodes.record(moved.node!), moved.container_id!);
    await this.announce('start', [agentId], actor, body.reason ?? null);
    return this.convergeNow(after);
  }

  /**
   * Sets one agent's desired state (a kill-switch action), if it is in one of `from`; `hold` records a
   * hold for an agent the fleet does not run (so that nobody hands it a new token). Audited, announced
   * and converged at once.
   */
  async setDesired(
    agentId: string,
    change: {
      action: KillSwitchAction;
      from: readonly FleetDesiredState[];
      to: FleetDesiredState;
      reason: string;
      hold?: boolean;
      /** Remove the agent's container first (it holds a revoked token): converging makes a fresh one. */
      freshContainer?: boolean;
    },
    actor: Principal,
  ): Promise<FleetAgent> {
    const row = await this.database.transaction(async (client) => {
      let before = await this.lockRow(client, agentId);
      if (!before && change.hold) {
        await this.agents.get(agentId);
        const { rows } = await client.query<FleetAgentRow>(
          `INSERT INTO fleet_agents (agent_id, node, desired, desired_by) VALUES ($1, NULL, 'stopped', $2)
           ON CONFLICT (agent_id) DO NOTHING RETURNING ${FLEET_AGENT_COLUMNS}`,
          [agentId, principalKey(actor)],
        );
        before = rows[0] ?? (await this.lockRow(client, agentId));
      }
      if (!before) throw notInFleet(agentId);
      if (!change.from.includes(before.desired)) {
        throw new ConflictException(
          `agent ${agentId} is ${before.desired}; ${change.action.replace('_', ' ')} applies to ${change.from.join(' or ')} agents`,
        );
      }
      if (change.freshContainer && before.node && before.container_id) {
        await this.containers.removeFrom(await this.nodes.record(before.node), before.container_id);
        await client.query('UPDATE fleet_agents SET container_id = NULL WHERE agent_id = $1', [agentId]);
      }
      const { rows } = await client.query<FleetAgentRow>(
        `UPDATE fleet_agents SET desired = $2, desired_reason = $3, desired_by = $4, desired_at = now(),
                restarts = CASE WHEN $2 = 'running' THEN 0 ELSE restarts END,
                next_attempt_at = CASE WHEN $2 = 'running' THEN NULL ELSE next_attempt_at END
          WHERE agent_id = $1 RETURNING ${FLEET_AGENT_COLUMNS}`,
        [agentId, change.to, change.reason, principalKey(actor)],
      );
      await this.audit.record(client, {
        actor,
        action: `kill_switch.${change.action}`,
        subject: { type: 'agent', id: agentId },
        before: { desired: before.desired },
        after: { desired: change.to, node: before.node },
        reason: change.reason,
      });
      return rows[0]!;
    });
    await this.announce(change.action, [agentId], actor, change.reason);
    return this.convergeNow(row);
  }

  /**
   * Whether the fleet holds the agent back (stopped, quarantined, or its tier quarantined): a launcher
   * must not hand it a new token.
   */
  async isHeld(agentId: string): Promise<boolean> {
    const { rows } = await this.database.query<{ desired: FleetDesiredState | null; quarantined: boolean | null }>(
      `SELECT f.desired, t.quarantined FROM agents a
         LEFT JOIN fleet_agents f ON f.agent_id = a.id LEFT JOIN agent_tiers t ON t.agent_id = a.id
        WHERE a.id = $1`,
      [agentId],
    );
    const row = rows[0];
    return !!row && (row.quarantined === true || (row.desired !== null && HELD.has(row.desired)));
  }

  async announce(action: KillSwitchAction, agentIds: string[], actor: Principal, reason: string | null) {
    await this.events.publish([{ type: 'fleet.kill_switch', action, agentIds, by: principalKey(actor), reason }]);
  }

  toFleetAgent(row: FleetAgentRow): FleetAgent {
    return toFleetAgent(row, this.config.VILLAGE_AGENT_IMAGE);
  }

  /** Converges the agent at once and answers with what it became (the row as set when it has no node). */
  private async convergeNow(row: FleetAgentRow): Promise<FleetAgent> {
    const done = row.node ? await this.containers.converge(row.agent_id) : undefined;
    return this.toFleetAgent(done?.row ?? row);
  }

  private async lockRow(client: pg.PoolClient, agentId: string): Promise<FleetAgentRow | undefined> {
    const { rows } = await client.query<FleetAgentRow>(
      `SELECT ${FLEET_AGENT_COLUMNS} FROM fleet_agents WHERE agent_id = $1 FOR UPDATE`,
      [agentId],
    );
    return rows[0];
  }
}

function notInFleet(agentId: string) {
  return new NotFoundException(
    `agent ${agentId} is not run by the fleet: start it with POST /api/fleet/agents/${agentId}/start`,
  );
}
