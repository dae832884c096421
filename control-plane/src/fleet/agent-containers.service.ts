import { Inject, Injectable } from '@nestjs/common';
import type Docker from 'dockerode';
import type { Logger } from 'pino';
import type pg from 'pg';
import type { FleetContainerAction, FleetObservedState, NewWorldEvent } from '../contract/index.js';
import { FLEET_OBSERVED_STATES } from '../contract/index.js';
import { AgentsService } from '../agents/agents.service.js';
import { AuditService } from '../audit/audit.service.js';
import { CONFIG, type Config } from '../config/config.js';
import { DatabaseService } from '../database/database.service.js';
import { TiersService } from '../economy/tiers.service.js';
import { EventBus } from '../events/event-bus.service.js';
import { LOGGER } from '../logging/logger.js';
import {
  AGENT_LABEL,
  VILLAGE_LABEL,
  agentContainerLimits,
  agentContainerName,
  agentContainerSpec,
  agentWorkspaceVolume,
} from './agent-container-spec.js';
import { FleetIdentity } from './fleet-identity.service.js';
import { FLEET_AGENT_COLUMNS, FROZEN_STATES, type FleetAgentRow } from './fleet-records.js';
import { describeDockerError, isUnreachable, NodeEngines } from './node-engines.js';
import { agentNetworkOn, NodesService, type NodeRecord } from './nodes.service.js';

/**
 * Delay before the next container of an agent whose last one died or could not be made, by the number
 * of such attempts since one last ran healthily: the first replacement is immediate, then it backs off
 * to five minutes.
 */
export const RESTART_BACKOFF_MS = [0, 2_000, 5_000, 10_000, 30_000, 60_000, 120_000, 300_000];
/** A container that ran this long before it ended was healthy: the back-off starts afresh. */
export const HEALTHY_RUN_MS = 60_000;

interface Change {
  action: FleetContainerAction;
  error: string | null;
}

/** What one convergence did: the row as written, and the changes (already audited, published after commit). */
export interface Convergence {
  row: FleetAgentRow;
  changes: Change[];
}

type Patch = Partial<Omit<FleetAgentRow, 'agent_id'>>;

/**
 * Brings one agent's container to its desired state: the one place that creates, replaces, adopts,
 * pauses, unpauses, kills, removes and updates agent containers. It runs under the agent's row lock
 * (`SELECT … FOR UPDATE`), so the reconcile loop and kill-switch actions on any replica act on an agent
 * one at a time, each on what the other left. Engine errors never escape: they are written on the row
 * (`last_error`, `next_attempt_at`), audited and announced once, and retried with back-off.
 */
@Injectable()
export class AgentContainers {
  constructor(
    @Inject(CONFIG) private readonly config: Config,
    private readonly database: DatabaseService,
    private readonly audit: AuditService,
    private readonly events: EventBus,
    private readonly nodes: NodesService,
    private readonly engines: NodeEngines,
    private readonly agents: AgentsService,
    private readonly tiers: TiersService,
    private readonly identity: FleetIdentity,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  /**
   * Converges one agent. `skipLocked`: pass over an agent whose row another replica or request holds
   * (the loop does; it comes back next pass). Undefined when the agent is not in the fleet or was skipped.
   */
  async converge(
    agentId: string,
    options: {
      skipLocked?: boolean;
      /** The agent's node as the caller read it (a pass, a bulk action), instead of reading it again. */
      nodes?: ReadonlyMap<string, NodeRecord>;
      /** Leave the events to the caller, who publishes many agents' at once. */
      quiet?: boolean;
      /**
       * Trust the recorded container and state for a pause or an unpause (one Docker call instead of an
       * inspect first); anything unexpected falls back to the full convergence. Bulk kill-switch actions.
       */
      direct?: boolean;
    } = {},
  ): Promise<Convergence | undefined> {
    const done = await this.database.transaction(async (client) => {
      const { rows } = await client.query<FleetAgentRow>(
        `SELECT ${FLEET_AGENT_COLUMNS} FROM fleet_agents WHERE agent_id = $1 FOR UPDATE${options.skipLocked ? ' SKIP LOCKED' : ''}`,
        [agentId],
      );
      const row = rows[0];
      if (!row) return undefined;
      if (!row.node) return { row, changes: [] };
      const node = options.nodes?.get(row.node) ?? (await this.nodes.record(row.node));
      const step = new Step(row);
      if (!(options.direct && (await this.direct(step, node)))) await this.step(step, node);
      const written = await this.write(client, step);
      return { row: written, changes: step.changes };
    });
    if (done?.changes.length && !options.quiet) await this.announce([done]);
    return done;
  }

  /** Publishes what convergences did (their events at once) and logs it. */
  async announce(done: readonly Convergence[]): Promise<void> {
    await this.events.publish(done.flatMap(({ row, changes }) => changes.map((change) => changedEvent(row, change))));
    for (const { row, changes } of done) {
      for (const change of changes) {
        if (change.error) {
          this.logger.warn(
            { agent: row.agent_id, node: row.node, error: change.error },
            `agent container ${change.action}`,
          );
        } else {
          this.logger.info(
            { agent: row.agent_id, node: row.node, container: row.container_id },
            `container ${change.action}`,
          );
        }
      }
    }
  }

  /**
   * The one-call path of a pause or an unpause, when the row says the container is there in the state
   * to change; false (nothing done) when it does not apply or the engine says otherwise.
   */
  private async direct(step: Step, node: NodeRecord): Promise<boolean> {
    const { row } = step;
    const pause = FROZEN_STATES.has(row.desired) && row.observed === 'running';
    const unpause = row.desired === 'running' && row.observed === 'paused';
    if (!node.engine || !row.container_id || !(pause || unpause)) return false;
    const container = this.engines.client(node).getContainer(row.container_id);
    try {
      await (pause ? container.pause() : container.unpause());
    } catch {
      return false; // gone, already changed, or unreachable: the full convergence finds out which
    }
    step.patch.observed = pause ? 'paused' : 'running';
    step.patch.last_error = null;
    step.change(pause ? 'paused' : 'unpaused');
    return true;
  }

  /**
   * Removes a container of this village that no agent's row expects (its id is not the one recorded),
   * unless the agent's row is being changed right now: returns whether it was removed.
   */
  async removeStray(node: NodeRecord, container: Docker.ContainerInfo): Promise<boolean> {
    const agentId = container.Labels[AGENT_LABEL] ?? '';
    const removed = await this.database.transaction(async (client) => {
      const { rows } = await client.query<{ container_id: string | null; node: string | null; locked: boolean }>(
        // The row, if it is free: a kill-switch action creating this very container holds it.
        `SELECT container_id, node FROM fleet_agents WHERE agent_id = $1 FOR UPDATE SKIP LOCKED`,
        [agentId],
      );
      const exists = await client.query('SELECT 1 FROM fleet_agents WHERE agent_id = $1', [agentId]);
      if (exists.rows.length > 0 && rows.length === 0) return false; // locked: look again next pass
      if (rows[0]?.container_id === container.Id && rows[0].node === node.name) return false; // expected after all
      const gone = await this.engines
        .client(node)
        .getContainer(container.Id)
        .remove({ force: true, v: true })
        .then(
          () => true,
          (error: { statusCode?: number }) => {
            // Already gone: removed by the agent's own convergence (a replacement) since the listing.
            if (error.statusCode === 404) return false;
            throw error;
          },
        );
      if (!gone) return false;
      await this.audit.record(client, {
        actor: undefined,
        action: 'container.removed',
        subject: { type: 'agent', id: agentId },
        after: { node: node.name, containerId: container.Id, why: 'stray: not the container the fleet expects here' },
      });
      return true;
    });
    if (removed) {
      const { rows } = await this.database.query<{ desired: FleetAgentRow['desired'] }>(
        'SELECT desired FROM fleet_agents WHERE agent_id = $1',
        [agentId],
      );
      await this.events.publish([
        {
          type: 'fleet.agent_changed',
          agentId,
          node: node.name,
          action: 'removed',
          desired: rows[0]?.desired ?? 'stopped',
          observed: 'none',
          containerId: container.Id,
          error: null,
        },
      ]);
      this.logger.warn({ node: node.name, agent: agentId, container: container.Id }, 'removed a stray agent container');
    }
    return removed;
  }

  /** Marks every agent on a node that does not answer as unknown, with the node's error (once per error). */
  async nodeUnreachable(node: NodeRecord, error: string): Promise<void> {
    const { rows } = await this.database.query<FleetAgentRow>(
      `UPDATE fleet_agents SET observed = 'unknown', last_error = $2, observed_at = now()
        WHERE node = $1 AND (observed <> 'unknown' OR last_error IS DISTINCT FROM $2) RETURNING ${FLEET_AGENT_COLUMNS}`,
      [node.name, error],
    );
    await this.events.publish(rows.map((row) => changedEvent(row, { action: 'failed', error })));
  }

  /** Best effort, outside any row lock: removes an agent's container from a node it no longer runs on. */
  async removeFrom(node: NodeRecord, containerId: string): Promise<void> {
    await this.engines
      .client(node)
      .getContainer(containerId)
      .remove({ force: true, v: true })
      .catch((error: unknown) =>
        this.logger.warn(
          { node: node.name, container: containerId, error: describeDockerError(error) },
          'could not remove the container of an agent that moved; the node will remove it as a stray',
        ),
      );
  }

  private async step(step: Step, node: NodeRecord): Promise<void> {
    const { row } = step;
    if (!node.engine) {
      step.fail(node.engineProblem ?? `node ${node.name} has no Docker engine registered`, { backOff: false });
      step.patch.observed = 'unknown';
      return;
    }
    try {
      const docker = this.engines.client(node);
      const container = await this.find(docker, step);
      const state = container ? observedOf(container) : 'none';
      step.observe(container);
      if (row.desired === 'running') {
        if (state === 'running') await this.ensureLimits(docker, container!, step, node);
        else if (state === 'paused') {
          await docker.getContainer(container!.Id).unpause();
          step.change('unpaused');
          step.patch.observed = 'running';
          await this.ensureLimits(docker, container!, step, node);
        } else if (state === 'restarting' || state === 'removing') {
          // Docker is in the middle of it: look again next pass.
        } else await this.replace(docker, container, step, node);
      } else if (FROZEN_STATES.has(row.desired)) {
        if (state === 'running') {
          await docker.getContainer(container!.Id).pause();
          step.change('paused');
          step.patch.observed = 'paused';
        }
      } else if (row.desired === 'stopped' && (state === 'running' || state === 'paused' || state === 'restarting')) {
        await this.kill(docker, container!.Id, state);
        step.change('killed');
        step.patch.observed = 'exited';
      }
      if (!step.failed && !step.waiting) {
        step.patch.last_error = null;
        step.patch.next_attempt_at = null;
      }
    } catch (error) {
      if (isUnreachable(error)) {
        step.fail(`the Docker engine of node ${node.name} does not answer: ${describeDockerError(error)}`, {
          backOff: false,
        });
        step.patch.observed = 'unknown';
      } else step.fail(describeDockerError(error), { backOff: row.desired === 'running' });
    }
  }

  /** The agent's container: by the recorded id, or else by its name if it is this village's (adopted). */
  private async find(docker: Docker, step: Step): Promise<Docker.ContainerInspectInfo | undefined> {
    const { row } = step;
    if (row.container_id) {
      const byId = await inspectOrNone(docker, row.container_id);
      if (byId) return byId;
    }
    const villageId = await this.identity.villageId();
    const name = agentContainerName(row.agent_id, villageId);
    const byName = await inspectOrNone(docker, name);
    if (!byName) {
      step.patch.container_id = null;
      return undefined;
    }
    const labels = byName.Config.Labels ?? {};
    if (labels[VILLAGE_LABEL] !== villageId || labels[AGENT_LABEL] !== row.agent_id) {
      if (row.desired !== 'running') return undefined;
      throw new Error(
        `a container named ${name} exists on this node and is not this village's ` +
          '(another village or made by hand): remove it, or run the agent on another node',
      );
    }
    if (byName.Id !== row.container_id) {
      step.patch.container_id = byName.Id;
      step.change('adopted');
    }
    return byName;
  }

  /** A new container for the agent, in place of a dead one (after its back-off) or of none. */
  private async replace(
    docker: Docker,
    old: Docker.ContainerInspectInfo | undefined,
    step: Step,
    node: NodeRecord,
    /** A running container to swap at once (its tier's GPU access changed). */
    swap?: Docker.ContainerInspectInfo,
  ): Promise<void> {
    if (swap) {
      await docker.getContainer(swap.Id).remove({ force: true, v: false });
      step.patch.container_id = null;
    }
    const { row } = step;
    let restarts = row.restarts;
    let due = row.next_attempt_at?.getTime() ?? 0;
    const death = old ? await deathOf(docker, old) : null;
    if (old) {
      const started = Date.parse(old.State.StartedAt);
      const finished = Date.parse(old.State.FinishedAt);
      // A container that ran healthily before it ended starts the back-off afresh.
      if (finished - started > HEALTHY_RUN_MS) restarts = 0;
      const ended = Number.isFinite(finished) && finished > 0 ? finished : Date.parse(old.Created);
      due = Math.max(due, ended + backoff(restarts));
    }
    if (due > Date.now()) {
      step.patch.restarts = restarts;
      step.patch.next_attempt_at = new Date(due);
      if (death) step.patch.last_error = death;
      step.waiting = true;
      return;
    }
    if (old) {
      await docker.getContainer(old.Id).remove({ force: true, v: false });
      step.patch.container_id = null;
    }
    const image = row.image ?? this.config.VILLAGE_AGENT_IMAGE;
    const villageId = await this.identity.villageId();
    const { entitlements } = await this.tiers.economyOf(row.agent_id);
    // A new token for every container: the previous one's token stops working everywhere at once.
    const token = await this.agents.rotateToken(row.agent_id);
    const spec = agentContainerSpec({
      agentId: row.agent_id,
      token,
      entitlements,
      workspace: agentWorkspaceVolume(row.agent_id, villageId),
      network: agentNetworkOn(node, row.agent_id),
      image,
      settings: this.config.VILLAGE_FLEET_AGENT_SETTINGS,
      hostCpus: node.cpus ?? undefined,
      labels: { [VILLAGE_LABEL]: villageId },
      gpus: wantsGpus(entitlements, node),
    });
    let created: Docker.Container;
    try {
      created = await docker.createContainer(spec);
    } catch (error) {
      const { statusCode } = error as { statusCode?: number };
      if (statusCode === 404 && /image/i.test(describeDockerError(error))) {
        throw new Error(
          `image ${image} is not on node ${node.name}: build it there (npm run image:build) or load it (docker save | docker load)`,
          { cause: error },
        );
      }
      throw error;
    }
    try {
      await created.start();
    } catch (error) {
      await created.remove({ force: true, v: false }).catch(() => undefined);
      throw new Error(`the container would not start: ${describeDockerError(error)}`, { cause: error });
    }
    step.patch.container_id = created.id;
    step.patch.observed = 'running';
    step.patch.health = null;
    step.patch.exit_code = null;
    step.patch.started_at = new Date();
    // A failed attempt already counted itself (Step.fail).
    step.patch.restarts = old ? restarts + 1 : restarts;
    step.change(old || swap ? 'replaced' : 'created', swap ? "its tier's GPU access changed" : death);
  }

  /** Applies the tier's CPU and memory to a running container (`docker update`) when they differ. */
  private async ensureLimits(
    docker: Docker,
    container: Docker.ContainerInspectInfo,
    step: Step,
    node: NodeRecord,
  ): Promise<void> {
    const { entitlements } = await this.tiers.economyOf(step.row.agent_id);
    const host = container.HostConfig;
    const hasGpus = (host as { DeviceRequests?: unknown[] | null }).DeviceRequests?.length ? true : false;
    if (hasGpus !== wantsGpus(entitlements, node)) {
      // GPU access cannot be changed by `docker update`: a new container, with or without the GPUs.
      await this.replace(docker, undefined, step, node, container);
      return;
    }
    const limits = agentContainerLimits(entitlements, node.cpus);
    if (host.NanoCpus === limits.NanoCpus && host.Memory === limits.Memory) return;
    await docker.getContainer(container.Id).update(limits);
    step.change('limits_updated');
  }

  private async kill(docker: Docker, id: string, state: FleetObservedState): Promise<void> {
    const container = docker.getContainer(id);
    // A frozen process cannot take the signal: thaw it first.
    if (state === 'paused') await container.unpause().catch(() => undefined);
    await container.kill({ signal: 'SIGKILL' }).catch((error: { statusCode?: number }) => {
      if (error.statusCode !== 409) throw error; // 409: not running any more
    });
  }

  private async write(client: pg.PoolClient, step: Step): Promise<FleetAgentRow> {
    const entries = Object.entries(step.patch);
    const sets = entries.map(([column], index) => `${column} = $${index + 2}`);
    const { rows } = await client.query<FleetAgentRow>(
      `UPDATE fleet_agents SET ${[...sets, 'observed_at = now()'].join(', ')} WHERE agent_id = $1
       RETURNING ${FLEET_AGENT_COLUMNS}`,
      [step.row.agent_id, ...entries.map(([, value]) => value)],
    );
    const row = rows[0]!;
    for (const change of step.changes) {
      await this.audit.record(client, {
        actor: undefined,
        action: `container.${change.action}`,
        subject: { type: 'agent', id: row.agent_id },
        before: { containerId: step.row.container_id, observed: step.row.observed },
        after: { node: row.node, containerId: row.container_id, observed: row.observed, desired: row.desired },
        reason: change.error,
      });
    }
    return row;
  }
}

/** What one convergence saw and did, before it is written. */
class Step {
  readonly patch: Patch = {};
  readonly changes: Change[] = [];
  failed = false;
  /** Backing off: nothing to do until next_attempt_at. */
  waiting = false;

  constructor(readonly row: FleetAgentRow) {}

  change(action: FleetContainerAction, error: string | null = null) {
    this.changes.push({ action, error });
  }

  observe(container: Docker.ContainerInspectInfo | undefined) {
    this.patch.observed = container ? observedOf(container) : 'none';
    if (container) {
      this.patch.container_id = container.Id;
      this.patch.health = container.State.Health?.Status ?? null;
      const ended = ['exited', 'dead'].includes(container.State.Status);
      this.patch.exit_code = ended ? container.State.ExitCode : null;
    }
  }

  /** An error, announced once (while it stays the same) and, for a container to run, retried with back-off. */
  fail(error: string, options: { backOff: boolean }) {
    this.failed = true;
    this.patch.last_error = error;
    if (options.backOff) {
      const attempts = (this.patch.restarts ?? this.row.restarts) + 1;
      this.patch.restarts = attempts;
      this.patch.next_attempt_at = new Date(Date.now() + Math.max(backoff(attempts - 1), 1000));
    }
    if (error !== this.row.last_error) this.change('failed', error);
  }
}

/** GPUs for a tier with a GPU share, on a node whose reporter saw some. */
function wantsGpus(entitlements: { gpuShare: number }, node: NodeRecord): boolean {
  return entitlements.gpuShare > 0 && node.gpuCount > 0;
}

function backoff(restarts: number): number {
  return RESTART_BACKOFF_MS[Math.min(restarts, RESTART_BACKOFF_MS.length - 1)]!;
}

function observedOf(container: Docker.ContainerInspectInfo): FleetObservedState {
  const status = container.State.Status as FleetObservedState;
  return FLEET_OBSERVED_STATES.includes(status) ? status : 'unknown';
}

/**
 * Why a container ended, for the operator: its exit code, how long it ran, an out-of-memory kill, and
 * the last lines it wrote. Undefined for one that was never started.
 */
async function deathOf(docker: Docker, container: Docker.ContainerInspectInfo): Promise<string | null> {
  const { State } = container;
  if (!['exited', 'dead', 'created'].includes(State.Status)) return null;
  if (State.Status === 'created') return 'its container was created but never started';
  // A process that fails to start at all can have its FinishedAt stamped just before its StartedAt.
  const ran = Math.max(0, (Date.parse(State.FinishedAt) - Date.parse(State.StartedAt)) / 1000);
  const logs = await docker
    .getContainer(container.Id)
    .logs({ stdout: true, stderr: true, tail: 5 })
    .then((output) =>
      demultiplex(output as unknown as Buffer)
        .trim()
        .replace(/\s+/g, ' ')
        .slice(-300),
    )
    .catch(() => '');
  const how = State.OOMKilled
    ? 'was killed for using more memory than its tier allows'
    : `exited with code ${State.ExitCode}`;
  return `its container ${how} after ${Number.isFinite(ran) ? ran.toFixed(1) : '?'} s${logs ? `: ${logs}` : ''}`;
}

/** Docker's log stream without a TTY: frames of an 8-byte header (stream, 0, 0, 0, length) and the bytes. */
function demultiplex(buffer: Buffer): string {
  if (!Buffer.isBuffer(buffer)) return String(buffer);
  const parts: Buffer[] = [];
  let offset = 0;
  while (offset + 8 <= buffer.length) {
    const length = buffer.readUInt32BE(offset + 4);
    parts.push(buffer.subarray(offset + 8, offset + 8 + length));
    offset += 8 + length;
  }
  return Buffer.concat(parts).toString('utf8');
}

async function inspectOrNone(docker: Docker, idOrName: string): Promise<Docker.ContainerInspectInfo | undefined> {
  try {
    return await docker.getContainer(idOrName).inspect();
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode === 404) return undefined;
    throw error;
  }
}

function changedEvent(row: FleetAgentRow, change: Change): NewWorldEvent {
  return {
    type: 'fleet.agent_changed',
    agentId: row.agent_id,
    node: row.node,
    action: change.action,
    desired: row.desired,
    observed: row.observed,
    containerId: row.container_id,
    error: change.error,
  };
}
