// Where a new agent runs: a pure function of the nodes (labels, state, capacity, what is already
// placed there) and what the agent's tier needs, so that every rule is unit-tested
// (control-plane/test/fleet-placement.test.ts).
import type { NodeAllocation, NodeRecord } from './nodes.service.js';

export interface PlacementNeed {
  cpus: number;
  memoryMb: number;
  /** Labels the node must carry, each with this value. */
  selector: Record<string, string>;
}

/**
 * A tier's CPUs are a ceiling (a CFS quota), and agents mostly wait on the network: a node takes tiers
 * adding up to this many times its CPUs. Memory is not over-committed (a container over its limit is killed).
 */
export const CPU_OVERCOMMIT = 4;

export type Placement = { node: string } | { node: undefined; reason: string };

/**
 * The node with the most free memory among those that have an engine, are not cordoned or down, carry
 * the selector's labels and have the CPUs (over-committed) and memory left for the agent's tier (a node whose capacity
 * was never read is taken to have room, and ranked last). With none, why each node was passed over.
 */
export function placeAgent(
  nodes: readonly NodeRecord[],
  allocations: ReadonlyMap<string, NodeAllocation>,
  need: PlacementNeed,
): Placement {
  const why: string[] = [];
  const fitting: { name: string; freeMemory: number }[] = [];
  for (const node of nodes) {
    const problem = whyNot(node, allocations.get(node.name), need);
    if (problem) why.push(`${node.name}: ${problem}`);
    else {
      const used = allocations.get(node.name)?.memoryMb ?? 0;
      fitting.push({ name: node.name, freeMemory: node.memoryMb === null ? -1 : node.memoryMb - used });
    }
  }
  fitting.sort((a, b) => b.freeMemory - a.freeMemory || a.name.localeCompare(b.name));
  if (fitting[0]) return { node: fitting[0].name };
  return {
    node: undefined,
    reason: nodes.length === 0 ? 'no node with a Docker engine is registered' : `no node fits (${why.join('; ')})`,
  };
}

function whyNot(node: NodeRecord, allocation: NodeAllocation | undefined, need: PlacementNeed): string | undefined {
  if (!node.engine) return node.engineProblem ?? 'no Docker engine';
  if (node.cordoned) return 'cordoned';
  if (node.state === 'down') return `down (${node.stateError ?? 'no answer'})`;
  const missing = Object.entries(need.selector).filter(([name, value]) => node.labels[name] !== value);
  if (missing.length > 0) return `lacks label ${missing.map(([name, value]) => `${name}=${value}`).join(', ')}`;
  const used = allocation ?? { agents: 0, cpus: 0, memoryMb: 0 };
  const cpuRoom = node.cpus === null ? Infinity : node.cpus * CPU_OVERCOMMIT - used.cpus;
  if (cpuRoom < Math.min(need.cpus, node.cpus ?? need.cpus)) {
    return `${round(cpuRoom)} CPUs left to give (${CPU_OVERCOMMIT}× its ${node.cpus}), the tier needs ${need.cpus}`;
  }
  if (node.memoryMb !== null && node.memoryMb - used.memoryMb < need.memoryMb) {
    return `${node.memoryMb - used.memoryMb} MB free, the tier needs ${need.memoryMb} MB`;
  }
  return undefined;
}

const round = (value: number) => Math.round(value * 100) / 100;
