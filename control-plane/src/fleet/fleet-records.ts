import type { FleetAgent, FleetDesiredState, FleetObservedState } from '../contract/index.js';

/** A row of `fleet_agents`: an agent's desired state and what its container was last seen doing. */
export interface FleetAgentRow {
  agent_id: string;
  node: string | null;
  desired: FleetDesiredState;
  desired_reason: string | null;
  desired_by: string;
  desired_at: Date;
  node_selector: Record<string, string>;
  image: string | null;
  container_id: string | null;
  observed: FleetObservedState;
  health: string | null;
  exit_code: number | null;
  restarts: number;
  last_error: string | null;
  next_attempt_at: Date | null;
  started_at: Date | null;
  observed_at: Date | null;
}

export const FLEET_AGENT_COLUMNS = `agent_id, node, desired, desired_reason, desired_by, desired_at, node_selector, image,
  container_id, observed, health, exit_code, restarts, last_error, next_attempt_at, started_at, observed_at`;

export function toFleetAgent(row: FleetAgentRow, defaultImage: string): FleetAgent {
  return {
    id: row.agent_id,
    agentId: row.agent_id,
    node: row.node,
    desired: row.desired,
    desiredReason: row.desired_reason,
    desiredBy: row.desired_by,
    desiredAt: row.desired_at.toISOString(),
    nodeSelector: row.node_selector,
    image: row.image ?? defaultImage,
    containerId: row.container_id,
    observed: row.observed,
    health: row.health,
    exitCode: row.exit_code,
    restarts: row.restarts,
    lastError: row.last_error,
    nextAttemptAt: row.next_attempt_at?.toISOString() ?? null,
    startedAt: row.started_at?.toISOString() ?? null,
    observedAt: row.observed_at?.toISOString() ?? null,
  };
}

/** The desired states in which an agent's container is frozen (docker pause). */
export const FROZEN_STATES: ReadonlySet<FleetDesiredState> = new Set(['paused', 'frozen', 'quarantined']);
