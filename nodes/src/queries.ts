import type { Agent, World } from '@ai-village/control-plane/contract';
import { QUERY_NODES } from './catalog.js';
import { optionalNumber, registerApiNode, requireString } from './fields.js';
import type { NodeAPI, NodeMessage } from './red.js';
import type { VillageConnection } from './connection.js';
import type { FieldValues } from './fields.js';

type Query = (connection: VillageConnection, values: FieldValues, msg: NodeMessage) => Promise<NodeMessage | null>;

const QUERIES: Record<string, Query> = {
  'village-world': async (connection, values, msg) => {
    const world = await connection.client.world();
    if (values.mode !== 'nearest') return { ...msg, payload: world };
    const landmarkId = requireString(values, 'landmark', 'landmark');
    const nearest = nearestAgent(world, landmarkId);
    return nearest ? { ...msg, payload: nearest.agent, distance: nearest.distance } : null;
  },
  'village-agent': async (connection, values, msg) => ({
    ...msg,
    payload: await connection.client.agent(requireString(values, 'agent', 'agent')),
  }),
  'village-balance': async (connection, values, msg) => ({
    ...msg,
    payload: await connection.client.balance(requireString(values, 'agent', 'agent')),
  }),
  'village-posts': async (connection, values, msg) => {
    const post = optionalNumber(values, 'post', 'post id');
    if (post !== undefined) return { ...msg, payload: await connection.client.post(post) };
    const filter = values.filter ?? {};
    if (typeof filter !== 'object' || Array.isArray(filter)) throw new Error('filter must be a JSON object');
    const limit = Number(values.limit || 25);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new Error('limit must be 1-1000');
    const page = await connection.client.posts({ filter: filter as Record<string, unknown>, range: [0, limit - 1] });
    return { ...msg, payload: page.items, total: page.total };
  },
};

/** The online agent nearest (in tiles, as the crow flies) to a landmark's entrance. */
export function nearestAgent(world: World, landmarkId: string): { agent: Agent; distance: number } | undefined {
  const landmark = world.landmarks.find((item) => item.id === landmarkId);
  if (!landmark) {
    throw new Error(`there is no landmark "${landmarkId}"; landmarks: ${world.landmarks.map((l) => l.id).join(', ')}`);
  }
  let best: { agent: Agent; distance: number } | undefined;
  for (const agent of world.agents) {
    if (!agent.status.online) continue;
    const distance = Math.hypot(agent.position.x - landmark.entrance.x, agent.position.y - landmark.entrance.y);
    if (!best || distance < best.distance) best = { agent, distance: Math.round(distance * 10) / 10 };
  }
  return best;
}

/** The query nodes: each message reads the village through the API; the answer becomes msg.payload. */
export default function register(RED: NodeAPI) {
  for (const spec of QUERY_NODES)
    registerApiNode(RED, spec, (connection, values, msg) => QUERIES[spec.type]!(connection, values, msg));
}
