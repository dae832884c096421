// Hand-built perceptions for the scripted brain's unit tests (the brain is a pure function of what
// it perceives, so these need no server). The landmarks are the REAL default map's, read from
// control-plane/assets/maps/village.tmj by the contract's readVillageGeography, the control plane's
// own reader; agent-loop.test.ts checks them against a real server's `GET /api/world`.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { AgentSchema, WorldSchema, readVillageGeography } from '@ai-village/control-plane/contract';
import type { Agent, Landmark, World } from '@ai-village/control-plane/contract';

/** Compiled location: agent-image/dist/test/ → control-plane/assets/maps/village.tmj. */
export const VILLAGE_MAP_PATH = fileURLToPath(
  new URL('../../../control-plane/assets/maps/village.tmj', import.meta.url),
);

/** The default map read by the contract's reader, the one the control plane itself uses. */
const VILLAGE = readVillageGeography(JSON.parse(readFileSync(VILLAGE_MAP_PATH, 'utf8')));

/** Every landmark of the default map, as `GET /api/world` lists them. */
export const LANDMARKS: readonly Landmark[] = VILLAGE.landmarks;

export const ADA_PERSONA = 'A curious engineer who loves puzzles and strong tea, and likes to fix things.';

export function landmark(id: string): Landmark {
  const found = LANDMARKS.find((candidate) => candidate.id === id);
  if (!found) throw new Error(`the default map has no landmark "${id}"`);
  return found;
}

/** An agent as the API returns it (checked by the contract's schema), standing at the town square by default. */
export function makeAgent(fields: Partial<Agent> & Pick<Agent, 'id' | 'displayName'>): Agent {
  return AgentSchema.parse({
    persona: '',
    position: landmark('town-square').entrance,
    version: 0,
    walking: null,
    landmark: 'town-square',
    status: { online: true, lastSeenAt: null },
    builtIn: false,
    createdAt: '2026-11-01T00:00:00.000Z',
    ...fields,
  });
}

/** An agent standing on a landmark's entrance, as it does after walking there. */
export function agentAt(landmarkId: string, fields: Partial<Agent> & Pick<Agent, 'id' | 'displayName'>): Agent {
  return makeAgent({ ...fields, landmark: landmarkId, position: landmark(landmarkId).entrance });
}

/** Neighbours who stay put: one at the café, one on the square, one in the library. */
export function neighbours(): Agent[] {
  return [
    agentAt('cafe', { id: 'bruno', displayName: 'Bruno' }),
    agentAt('town-square', { id: 'cleo', displayName: 'Cleo' }),
    agentAt('library', { id: 'dev', displayName: 'Dev' }),
  ];
}

/** The world as `GET /api/world` answers for the default map, with these agents at this tick. */
export function worldOf(agents: readonly Agent[], tick = 0): World {
  return WorldSchema.parse({
    name: VILLAGE.name,
    size: { width: VILLAGE.width, height: VILLAGE.height, tileSize: VILLAGE.tileSize },
    map: { url: '/api/world/map', format: 'tiled-json' },
    landmarks: LANDMARKS,
    agents,
    clock: { tick, tickMs: 1000 },
  });
}
