import { Inject, Injectable, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import type Docker from 'dockerode';
import type { Logger } from 'pino';
import { AuditService } from '../audit/audit.service.js';
import { CONFIG, type Config } from '../config/config.js';
import { DatabaseService } from '../database/database.service.js';
import { EventBus } from '../events/event-bus.service.js';
import { LOGGER } from '../logging/logger.js';
import { AGENT_LABEL, VILLAGE_LABEL } from './agent-container-spec.js';
import { AgentContainers } from './agent-containers.service.js';
import { FleetIdentity } from './fleet-identity.service.js';
import { createLimiter } from './limiter.js';
import { describeDockerError, NodeEngines } from './node-engines.js';
import { NodesService, type NodeRecord } from './nodes.service.js';

/** The advisory lock one pass holds: passes on several replicas run one at a time. */
const PASS_LOCK = "hashtext('ai-village:fleet-reconcile')";
/** The engine's capacity and version are read again this often (and whenever a node comes back). */
const INFO_EVERY_MS = 60_000;
/**
 * A container younger than this is not judged yet. The row lock already protects a container a
 * kill-switch action is creating and recording right now (removeStray skips a locked row); this only
 * spares one whose creator has not even locked the row yet.
 */
const STRAY_GRACE_MS = 2_000;
/** A node that does not answer is tried again after 1 pass, then 2, 4... up to a minute. */
const NODE_BACKOFF_MAX_MS = 60_000;

export interface PassReport {
  nodes: number;
  agents: number;
  changes: number;
  strays: number;
  down: string[];
  durationMs: number;
}

/**
 * The reconcile loop: every VILLAGE_FLEET_RECONCILE_MS, the replica that gets the pass lock lists each
 * node's containers of this village, records the node's state and capacity, converges every agent
 * placed there (AgentContainers, under each agent's row lock) and removes the strays left. A node that
 * does not answer is marked down (its agents `unknown`) and tried again with back-off. A tier change
 * seen by this replica converges that agent at once, without waiting for the pass.
 */
@Injectable()
export class FleetReconciler implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  private stopped = false;
  private unsubscribe: (() => void) | undefined;
  private readonly infoReadAt = new Map<string, number>();
  private readonly nodeRetry = new Map<string, { failures: number; at: number }>();
  /** What the pass in progress is doing (said when a shutdown cannot wait for it). */
  private readonly inFlight = new Set<string>();

  constructor(
    @Inject(CONFIG) private readonly config: Config,
    private readonly database: DatabaseService,
    private readonly nodes: NodesService,
    private readonly engines: NodeEngines,
    private readonly containers: AgentContainers,
    private readonly identity: FleetIdentity,
    private readonly audit: AuditService,
    private readonly events: EventBus,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  onApplicationBootstrap() {
    if (!this.config.VILLAGE_FLEET) return;
    this.unsubscribe = this.events.subscribe((events) => {
      for (const event of events) {
        if (event.type === 'agent.tier_changed') void this.nudge(event.agentId);
      }
    });
    this.schedule(0);
  }

  beforeApplicationShutdown() {
    return this.stop();
  }

  /**
   * Ends the loop, waiting for a pass in progress (at most the engines' deadline and a little more: a
   * shutdown never hangs on a node); shutdown does it, and so does a launcher removing its containers.
   */
  async stop() {
    this.stopped = true;
    this.unsubscribe?.();
    if (this.timer) clearTimeout(this.timer);
    if (!this.running) return;
    let timer: NodeJS.Timeout | undefined;
    const gaveUp = await Promise.race([
      this.running.then(() => false),
      new Promise<boolean>(
        (resolve) => (timer = setTimeout(() => resolve(true), this.config.VILLAGE_DOCKER_TIMEOUT_MS + 5_000)),
      ),
    ]);
    clearTimeout(timer);
    if (gaveUp) {
      this.logger.warn(
        { inFlight: [...this.inFlight] },
        'stopped without waiting any longer for the reconcile pass in progress',
      );
    }
  }

  private schedule(delay: number) {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.pass()
        .catch((error: unknown) => this.logger.error({ err: error }, 'fleet reconcile pass failed; retrying next pass'))
        .finally(() => {
          this.running = undefined;
          this.schedule(this.config.VILLAGE_FLEET_RECONCILE_MS);
        });
    }, delay);
    this.timer.unref();
  }

  /** One pass over every node; undefined when another replica's pass holds the lock. */
  async pass(): Promise<PassReport | undefined> {
    const started = performance.now();
    const client = await this.database.pool.connect();
    try {
      const { rows } = await client.query<{ locked: boolean }>(`SELECT pg_try_advisory_lock(${PASS_LOCK}) AS locked`);
      if (!rows[0]!.locked) return undefined;
      try {
        const nodes = await this.nodes.engineNodes();
        const limited = createLimiter(this.config.VILLAGE_FLEET_CONCURRENCY);
        const reports = await Promise.all(nodes.map((node) => this.reconcileNode(node, limited)));
        return {
          nodes: nodes.length,
          agents: reports.reduce((sum, report) => sum + report.agents, 0),
          changes: reports.reduce((sum, report) => sum + report.changes, 0),
          strays: reports.reduce((sum, report) => sum + report.strays, 0),
          down: nodes.filter((_, index) => reports[index]!.down).map((node) => node.name),
          durationMs: Math.round((performance.now() - started) * 100) / 100,
        };
      } finally {
        await client.query(`SELECT pg_advisory_unlock(${PASS_LOCK})`);
      }
    } finally {
      client.release();
    }
  }

  private async reconcileNode(node: NodeRecord, limited: ReturnType<typeof createLimiter>) {
    const report = { agents: 0, changes: 0, strays: 0, down: false };
    const retry = this.nodeRetry.get(node.name);
    if (retry && retry.at > Date.now()) return { ...report, down: true };
    let listed: Docker.ContainerInfo[];
    try {
      const docker = this.engines.client(node);
      const villageId = await this.identity.villageId();
      listed = await this.track(`listing the containers of ${node.name}`, () =>
        docker.listContainers({ all: true, filters: { label: [`${VILLAGE_LABEL}=${villageId}`] } }),
      );
      const seen: Parameters<NodesService['recordState']>[1] = { state: 'ready', error: null };
      if (node.state !== 'ready' || (this.infoReadAt.get(node.name) ?? 0) < Date.now() - INFO_EVERY_MS) {
        const info = (await this.track(`reading the engine of ${node.name}`, () => docker.info())) as {
          NCPU: number;
          MemTotal: number;
          ServerVersion: string;
        };
        Object.assign(seen, {
          cpus: info.NCPU,
          memoryMb: Math.floor(info.MemTotal / 1024 / 1024),
          version: info.ServerVersion,
        });
        this.infoReadAt.set(node.name, Date.now());
      }
      await this.track(`recording ${node.name} ready`, () => this.recordNodeState(node, seen));
      this.nodeRetry.delete(node.name);
    } catch (error) {
      const message = node.engine
        ? `the Docker engine does not answer: ${describeDockerError(error)}`
        : (node.engineProblem ?? String(error));
      await this.track(`recording ${node.name} down`, async () => {
        await this.recordNodeState(node, { state: 'down', error: message });
        await this.containers.nodeUnreachable(node, `node ${node.name} is down: ${message}`);
      });
      const failures = (retry?.failures ?? 0) + 1;
      const delay = Math.min(this.config.VILLAGE_FLEET_RECONCILE_MS * 2 ** (failures - 1), NODE_BACKOFF_MAX_MS);
      this.nodeRetry.set(node.name, { failures, at: Date.now() + delay - 50 });
      return { ...report, down: true };
    }
    node = { ...node, state: 'ready' };

    const { rows: placed } = await this.database.query<{ agent_id: string }>(
      'SELECT agent_id FROM fleet_agents WHERE node = $1 ORDER BY agent_id',
      [node.name],
    );
    report.agents = placed.length;
    const converged = await Promise.all(
      placed.map(({ agent_id }) =>
        limited(() =>
          this.track(`converging ${agent_id} on ${node.name}`, () =>
            this.containers.converge(agent_id, { skipLocked: true, nodes: new Map([[node.name, node]]) }),
          ),
        ).catch((error: unknown) => {
          this.logger.error({ err: error, agent: agent_id, node: node.name }, 'could not converge an agent');
          return undefined;
        }),
      ),
    );
    report.changes = converged.reduce((sum, done) => sum + (done?.changes.length ?? 0), 0);

    // Strays: this village's containers here that no row expects (after the agents were converged, so
    // that an agent's own container left without a recorded id was adopted first).
    const { rows: expected } = await this.database.query<{ container_id: string }>(
      'SELECT container_id FROM fleet_agents WHERE node = $1 AND container_id IS NOT NULL',
      [node.name],
    );
    const known = new Set(expected.map((row) => row.container_id));
    const adoptedIds = new Set(converged.flatMap((done) => (done?.row.container_id ? [done.row.container_id] : [])));
    for (const container of listed) {
      if (known.has(container.Id) || adoptedIds.has(container.Id)) continue;
      if (container.Created * 1000 > Date.now() - STRAY_GRACE_MS) continue;
      if (!container.Labels[AGENT_LABEL]) continue;
      const removed = await limited(() =>
        this.track(`removing stray ${container.Id} from ${node.name}`, () =>
          this.containers.removeStray(node, container),
        ),
      ).catch((error: unknown) => {
        this.logger.error(
          { err: error, node: node.name, container: container.Id },
          'could not remove a stray container',
        );
        return false;
      });
      if (removed) report.strays++;
    }
    return report;
  }

  private async track<T>(what: string, work: () => Promise<T>): Promise<T> {
    this.inFlight.add(what);
    try {
      return await work();
    } finally {
      this.inFlight.delete(what);
    }
  }

  private async recordNodeState(node: NodeRecord, seen: Parameters<NodesService['recordState']>[1]) {
    const { changed } = await this.nodes.recordState(node.name, seen);
    if (!changed) return;
    await this.database.transaction((client) =>
      this.audit.record(client, {
        actor: undefined,
        action: 'node.state_changed',
        subject: { type: 'node', id: node.name },
        before: { state: node.state },
        after: { state: seen.state, error: seen.error },
      }),
    );
    await this.events.publish([{ type: 'fleet.node_changed', node: node.name, state: seen.state, error: seen.error }]);
    this.logger[seen.state === 'down' ? 'warn' : 'info'](
      { node: node.name, state: seen.state, error: seen.error },
      seen.state === 'down' ? 'node engine does not answer; retrying with back-off' : 'node engine answers',
    );
  }

  /** Converges one agent now (a tier change seen here), if the fleet runs it. */
  private async nudge(agentId: string) {
    if (this.stopped) return;
    await this.containers.converge(agentId).catch((error: unknown) => {
      this.logger.warn(
        { err: error, agent: agentId },
        'could not apply a tier change to the container yet; the loop will',
      );
    });
  }
}
