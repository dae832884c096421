import type { Agent } from '../contract/index.js';
import type { VillageMap } from '../world/village-map.js';

/** An `agents` row as raw SQL returns it (snake_case, bigint as string). */
export interface AgentRow {
  id: string;
  display_name: string;
  persona: string;
  x: number;
  y: number;
  version: string | number | bigint;
  path: number[] | null;
  destination_x: number | null;
  destination_y: number | null;
  destination_landmark: string | null;
  online: boolean;
  last_seen_at: Date | null;
  built_in: boolean;
  created_at: Date;
}

/** The columns `toAgent` needs; select these wherever an Agent is returned. */
export const AGENT_COLUMNS = `id, display_name, persona, x, y, version, path, destination_x, destination_y,
  destination_landmark, online, last_seen_at, built_in, created_at`;

export function toAgent(row: AgentRow, map: VillageMap): Agent {
  const remaining = row.path?.length ?? 0;
  return {
    id: row.id,
    displayName: row.display_name,
    persona: row.persona,
    position: { x: row.x, y: row.y },
    version: Number(row.version),
    walking:
      remaining > 0 && row.destination_x !== null && row.destination_y !== null
        ? { destination: { x: row.destination_x, y: row.destination_y }, landmark: row.destination_landmark, remaining }
        : null,
    landmark: map.landmarkAt(row.x, row.y)?.id ?? null,
    status: { online: row.online, lastSeenAt: row.last_seen_at?.toISOString() ?? null },
    builtIn: row.built_in,
    createdAt: row.created_at.toISOString(),
  };
}
