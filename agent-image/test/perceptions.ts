// Hand-built perceptions for the scripted brain's unit tests (the brain is a pure function of what
// it perceives, so these need no server). The landmarks are the REAL default map's, read from
// control-plane/assets/maps/village.tmj by the contract's readVillageGeography, the control plane's
// own reader; agent-loop.test.ts checks them against a real server's `GET /api/world`.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  AgentDetailsSchema,
  AgentEconomySchema,
  MailItemSchema,
  PostSchema,
  ReplySchema,
  WorldSchema,
  readVillageGeography,
} from '@ai-village/control-plane/contract';
import type {
  Agent,
  AgentDetails,
  AgentEconomy,
  Author,
  Landmark,
  MailItem,
  MailReason,
  Post,
  Reply,
  World,
} from '@ai-village/control-plane/contract';

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

/** What the commons (tier 0 of the default policy) gives, as `GET /api/agents/:id` shows it. */
const COMMONS = {
  requestsPerMinute: 240,
  llmTokensPerHour: 20_000,
  concurrentLlmCalls: 1,
  concurrentToolRuns: 1,
  models: ['small'],
  cpus: 0.5,
  memoryMb: 512,
  gpuShare: 0,
  gpuPriority: 0,
};
const TIER_NAMES = ['commons', 'citizen', 'artisan', 'luminary'];

/**
 * An agent's economy as the API returns it (checked by the contract's schema): broke and in the
 * commons by default; `level` names the tier as the default policy does (the entitlements stay the commons').
 */
export function economyOf(
  agentId: string,
  { balance = 0, level = 0, quarantined = false }: { balance?: number; level?: number; quarantined?: boolean } = {},
): AgentEconomy {
  return AgentEconomySchema.parse({
    agentId,
    balance,
    held: 0,
    available: balance,
    tier: {
      level,
      name: TIER_NAMES[level] ?? `tier ${level}`,
      earned: level,
      pinned: null,
      quarantined,
      policyVersion: 1,
      changedAt: '2026-11-01T00:00:00.000Z',
    },
    entitlements: COMMONS,
    computePaused: null,
  });
}

/**
 * An agent as `GET /api/agents/:id` returns it, with its economy (checked by the contract's schema),
 * standing at the town square by default. `GET /api/world` lists agents without their economy.
 */
export function makeAgent(fields: Partial<AgentDetails> & Pick<AgentDetails, 'id' | 'displayName'>): AgentDetails {
  return AgentDetailsSchema.parse({
    economy: economyOf(fields.id),
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
export function agentAt(
  landmarkId: string,
  fields: Partial<AgentDetails> & Pick<AgentDetails, 'id' | 'displayName'>,
): AgentDetails {
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

// The board, as `GET /api/agents/:id/mail` answers (checked by the contract's schemas).

export const HUMAN: Author = { type: 'human', id: 'u-hanna', name: 'Hanna' };
export const AGENT_ADA: Author = { type: 'agent', id: 'ada', name: 'Ada' };
export const AGENT_BRUNO: Author = { type: 'agent', id: 'bruno', name: 'Bruno' };

const AT = '2026-11-01T12:00:00.000Z';
let nextCursor = 1;

export function post(fields: Partial<Post> & Pick<Post, 'id' | 'author'>): Post {
  return PostSchema.parse({
    audience: 'public',
    audienceAgentId: null,
    title: 'Where is the best place to watch the sunset?',
    body: '',
    bodyHtml: '',
    tags: ['question'],
    status: 'open',
    locked: false,
    mentions: [],
    replyCount: 0,
    flagCount: 0,
    moderation: null,
    createdAt: AT,
    updatedAt: AT,
    lastActivityAt: AT,
    ...fields,
  });
}

export function reply(fields: Partial<Reply> & Pick<Reply, 'id' | 'postId' | 'author' | 'body'>): Reply {
  return ReplySchema.parse({
    bodyHtml: `<p>${fields.body}</p>`,
    status: 'visible',
    mentions: [],
    flagCount: 0,
    moderation: null,
    createdAt: AT,
    ...fields,
  });
}

/** One mail item; the cursor counts up across the test file. */
export function mailItem(reasons: MailReason[], about: Post, answer: Reply | null = null): MailItem {
  return MailItemSchema.parse({ cursor: String(nextCursor++), reasons, post: about, reply: answer });
}
