import type { Agent } from '../contract/index.js';
import type { AgentModel } from '../generated/prisma/models/Agent.js';
import type { VillageMap } from '../world/village-map.js';

/** The contract's view of an agent row: what the API, viewers and events show. */
export function toAgent(row: AgentModel, map: VillageMap): Agent {
  const remaining = row.path.length;
  return {
    id: row.id,
    displayName: row.displayName,
    persona: row.persona,
    position: { x: row.x, y: row.y },
    version: Number(row.version),
    walking:
      remaining > 0 && row.destinationX !== null && row.destinationY !== null
        ? { destination: { x: row.destinationX, y: row.destinationY }, landmark: row.destinationLandmark, remaining }
        : null,
    landmark: map.landmarkAt(row.x, row.y)?.id ?? null,
    status: { online: row.online, lastSeenAt: row.lastSeenAt?.toISOString() ?? null },
    builtIn: row.builtIn,
    createdAt: row.createdAt.toISOString(),
  };
}
