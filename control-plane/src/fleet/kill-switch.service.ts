import { ConflictException, Inject, Injectable } from '@nestjs/common';
import type { Logger } from 'pino';
import type { FleetAgent, FleetBulkResult } from '../contract/index.js';
import { AgentsService } from '../agents/agents.service.js';
import { AuditService } from '../audit/audit.service.js';
import { principalKey, type Principal } from '../auth/principal.js';
import { CONFIG, type Config } from '../config/config.js';
import { DatabaseService } from '../database/database.service.js';
import { TiersService } from '../economy/tiers.service.js';
import { LOGGER } from '../logging/logger.js';
import { MovementService } from '../world/movement.service.js';
import { AgentContainers, type Convergence } from './agent-containers.service.js';
import { FleetAgentsService } from './fleet-agents.service.js';
import { createLimiter } from './limiter.js';
import { NodesService } from './nodes.service.js';

/**
 * The admins' kill switch: pause every agent at once, freeze, kill or cut off one, quarantine it and
 * release it. Each action sets the desired state in PostgreSQL (audited, on the event stream) and
 * converges the containers at once on this replica; the reconcile loop repairs whatever a node that
 * did not answer left undone. A frozen agent also stops walking: its stored path is dropped.
 */
@Injectable()
export class KillSwitchService {
  constructor(
    @Inject(CONFIG) private readonly config: Config,
    private readonly database: DatabaseService,
    private readonly audit: AuditService,
    private readonly fleet: FleetAgentsService,
    private readonly containers: AgentContainers,
    private readonly agents: AgentsService,
    private readonly tiers: TiersService,
    private readonly movement: MovementService,
    private readonly nodes: NodesService,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  /** Pauses every running agent's container (docker pause), in parallel across nodes. */
  pauseAll(reason: string, actor: Principal): Promise<FleetBulkResult> {
    return this.bulk('pause_all', 'running', 'paused', reason, actor);
  }

  /** Resumes what "pause all" paused; frozen and quarantined agents stay as they are. */
  resumeAll(reason: string, actor: Principal): Promise<FleetBulkResult> {
    return this.bulk('resume_all', 'paused', 'running', reason, actor);
  }

  async freeze(agentId: string, reason: string, actor: Principal): Promise<FleetAgent> {
    await this.movement.halt([agentId]);
    return this.fleet.setDesired(
      agentId,
      { action: 'freeze', from: ['running', 'paused'], to: 'frozen', reason },
      actor,
    );
  }

  unfreeze(agentId: string, reason: string, actor: Principal): Promise<FleetAgent> {
    return this.fleet.setDesired(
      agentId,
      { action: 'unfreeze', from: ['frozen', 'paused'], to: 'running', reason },
      actor,
    );
  }

  /** SIGKILL now; no new container until an admin starts or releases it. */
  async kill(agentId: string, reason: string, actor: Principal): Promise<FleetAgent> {
    await this.movement.halt([agentId]);
    return this.fleet.setDesired(
      agentId,
      { action: 'kill', from: ['running', 'paused', 'frozen', 'stopped', 'quarantined'], to: 'stopped', reason },
      actor,
    );
  }

  /**
   * The agent's token stops working on every replica at once, and nobody hands it a new one (its
   * container is killed; a launcher's local process is not renewed) until an admin releases it.
   */
  async revokeToken(agentId: string, reason: string, actor: Principal): Promise<FleetAgent> {
    await this.agents.rotateToken(agentId);
    await this.movement.halt([agentId]);
    return this.fleet.setDesired(
      agentId,
      { action: 'revoke_token', from: ['running', 'paused', 'frozen', 'stopped'], to: 'stopped', reason, hold: true },
      actor,
    );
  }

  /**
   * Quarantine: the tier is held at 0 and its egress policy empties (agent_tiers.quarantined), the token
   * is revoked, and the container is frozen where it is, for inspection.
   */
  async quarantine(agentId: string, reason: string, actor: Principal): Promise<FleetAgent> {
    await this.tiers.setAgentTier(agentId, { quarantined: true, reason }, actor);
    await this.agents.rotateToken(agentId);
    await this.movement.halt([agentId]);
    return this.fleet.setDesired(
      agentId,
      {
        action: 'quarantine',
        from: ['running', 'paused', 'frozen', 'stopped', 'quarantined'],
        to: 'quarantined',
        reason,
        hold: true,
      },
      actor,
    );
  }

  /**
   * Lifts a quarantine or a stop: the tier follows its balance (or pin) again, and an agent the fleet
   * runs gets a fresh container with a new token (its workspace kept; the frozen container held the
   * revoked one). For an agent the fleet does not run (node null), the hold goes and a launcher may
   * give it a token again.
   */
  async release(agentId: string, reason: string, actor: Principal): Promise<FleetAgent> {
    const economy = await this.tiers.economyOf(agentId);
    const held = await this.fleet.get(agentId).catch(() => undefined);
    if (!economy.tier.quarantined && (!held || !['quarantined', 'stopped'].includes(held.desired))) {
      throw new ConflictException(`agent ${agentId} is neither quarantined nor stopped: nothing to release`);
    }
    if (economy.tier.quarantined) await this.tiers.setAgentTier(agentId, { quarantined: false, reason }, actor);
    return this.fleet.setDesired(
      agentId,
      {
        action: 'release',
        from: ['quarantined', 'stopped', 'running'],
        to: 'running',
        reason,
        hold: true,
        freshContainer: true,
      },
      actor,
    );
  }

  private async bulk(
    action: 'pause_all' | 'resume_all',
    from: 'running' | 'paused',
    to: 'running' | 'paused',
    reason: string,
    actor: Principal,
  ): Promise<FleetBulkResult> {
    const started = performance.now();
    const changed = await this.database.transaction(async (client) => {
      const { rows } = await client.query<{ agent_id: string }>(
        `UPDATE fleet_agents SET desired = $2, desired_reason = $3, desired_by = $4, desired_at = now()
          WHERE desired = $1 RETURNING agent_id`,
        [from, to, reason, principalKey(actor)],
      );
      const agentIds = rows.map((row) => row.agent_id).sort();
      await this.audit.record(client, {
        actor,
        action: `kill_switch.${action}`,
        subject: { type: 'fleet', id: 'all' },
        before: { desired: from },
        after: { desired: to, agentIds },
        reason,
      });
      return agentIds;
    });
    if (to === 'paused') await this.movement.halt(changed);
    const limited = createLimiter(this.config.VILLAGE_FLEET_CONCURRENCY);
    const nodes = new Map((await this.nodes.engineNodes()).map((node) => [node.name, node]));
    const failed: FleetBulkResult['failed'] = [];
    const converged: Convergence[] = [];
    await Promise.all(
      changed.map((agentId) =>
        limited(async () => {
          try {
            // One Docker call per container where the record is right; events published together below.
            const done = await this.containers.converge(agentId, { nodes, quiet: true, direct: true });
            if (!done) return;
            converged.push(done);
            if (done.row.last_error) failed.push({ agentId, error: done.row.last_error });
          } catch (error) {
            failed.push({ agentId, error: String(error) });
            this.logger.error({ err: error, agent: agentId }, `${action}: could not converge an agent; the loop will`);
          }
        }),
      ),
    );
    await this.containers.announce(converged);
    await this.fleet.announce(action, changed, actor, reason);
    const applied = converged.filter((done) => !done.row.last_error).length;
    return {
      action,
      agentIds: changed,
      applied,
      failed,
      durationMs: Math.round((performance.now() - started) * 100) / 100,
    };
  }
}
