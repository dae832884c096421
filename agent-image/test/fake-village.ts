// A tiny stand-in for the control plane's world: a few landmarks, one agent that walks one tile per
// tick to a landmark's entrance, some neighbours standing still. Every answer is parsed with the
// contract's own schemas, so a test cannot pass on data the real API would never send.
import {
  ActionResultSchema,
  AgentActionSchema,
  AgentSchema,
  ApiErrorSchema,
  MoveRequestSchema,
  MoveResultSchema,
  WorldSchema,
} from '@ai-village/control-plane/contract';
import type {
  ActionResult,
  Agent,
  ApiError,
  Landmark,
  MoveResult,
  Position,
  World,
} from '@ai-village/control-plane/contract';

function landmark(id: string, kind: string, name: string, x: number, y: number): Landmark {
  // A 3x3 area with the entrance on its bottom-middle tile.
  return { id, kind, name, area: { x, y, width: 3, height: 3 }, entrance: { x: x + 1, y: y + 2 } };
}

export const LANDMARKS: readonly Landmark[] = [
  landmark('town-square', 'square', 'Town Square', 18, 12),
  landmark('cafe', 'cafe', 'The Copper Kettle', 10, 4),
  landmark('market', 'market', 'Market Street', 26, 4),
  landmark('library', 'library', 'Village Library', 4, 14),
  landmark('town-board', 'board', 'Town Board', 22, 16),
  landmark('park', 'park', 'Willow Park', 30, 20),
  landmark('workshop', 'workshop', 'Tinker Workshop', 34, 10),
  landmark('home-ada', 'home', "Ada's Cottage", 2, 2),
  landmark('home-bruno', 'home', "Bruno's House", 6, 2),
  landmark('home-3', 'home', 'Blue House', 38, 2),
];

export const ADA_PERSONA = 'A curious engineer who loves puzzles and strong tea, and likes to fix things.';

export function makeAgent(fields: Partial<Agent> & Pick<Agent, 'id' | 'displayName'>): Agent {
  return AgentSchema.parse({
    persona: '',
    position: { x: 19, y: 14 },
    version: 0,
    walking: null,
    landmark: null,
    status: { online: true, lastSeenAt: null },
    builtIn: false,
    createdAt: '2026-11-01T00:00:00.000Z',
    ...fields,
  });
}

/** Neighbours who stay put all day, one at the café, one on the square, one in the library. */
export function neighbours(): Agent[] {
  return [
    makeAgent({ id: 'bruno', displayName: 'Bruno', landmark: 'cafe', position: { x: 11, y: 5 } }),
    makeAgent({ id: 'cleo', displayName: 'Cleo', landmark: 'town-square', position: { x: 19, y: 13 } }),
    makeAgent({ id: 'dev', displayName: 'Dev', landmark: 'library', position: { x: 5, y: 15 } }),
  ];
}

export type VillageAnswer<T> = { ok: true; value: T } | { ok: false; status: number; error: ApiError };

export interface FakeVillageOptions {
  self?: Agent;
  others?: Agent[];
  tick?: number;
  /** Landmarks a move to is refused with 422, as the real API does for unreachable targets. */
  unreachable?: string[];
}

export class FakeVillage {
  tick: number;
  self: Agent;
  readonly others: Agent[];
  readonly unreachable: Set<string>;
  readonly said: string[] = [];

  constructor(options: FakeVillageOptions = {}) {
    this.tick = options.tick ?? 0;
    this.self =
      options.self ??
      makeAgent({
        id: 'ada',
        displayName: 'Ada',
        persona: ADA_PERSONA,
        landmark: 'town-square',
        position: { x: 19, y: 14 },
      });
    this.others = options.others ?? neighbours();
    this.unreachable = new Set(options.unreachable ?? []);
  }

  world(): World {
    return WorldSchema.parse({
      name: 'Test Village',
      size: { width: 42, height: 24, tileSize: 32 },
      map: { url: '/api/world/map', format: 'tiled-json' },
      landmarks: LANDMARKS,
      agents: [this.self, ...this.others],
      clock: { tick: this.tick, tickMs: 1000 },
    });
  }

  agent(): Agent {
    return AgentSchema.parse(this.self);
  }

  /** Time passes: the agent walks one tile a tick, and stands on the landmark when it arrives. */
  advance(ticks: number): void {
    this.tick += ticks;
    const walk = this.self.walking;
    if (!walk) return;
    const remaining = Math.max(0, walk.remaining - ticks);
    if (remaining > 0) {
      this.self = { ...this.self, walking: { ...walk, remaining }, landmark: null, version: this.self.version + 1 };
      return;
    }
    this.self = {
      ...this.self,
      position: walk.destination,
      walking: null,
      landmark: walk.landmark,
      version: this.self.version + 1,
    };
  }

  move(body: unknown): VillageAnswer<MoveResult> {
    const parsed = MoveRequestSchema.safeParse(body);
    if (!parsed.success) return refuse(422, 'Unprocessable Entity', parsed.error.issues[0]?.message ?? 'invalid');
    const command = parsed.data;
    let destination: Position;
    let landmarkId: string | null = null;
    if (command.kind === 'landmark') {
      const target = LANDMARKS.find((candidate) => candidate.id === command.landmark);
      if (!target) return refuse(404, 'Not Found', `no landmark ${command.landmark}`);
      if (this.unreachable.has(target.id)) return refuse(422, 'Unprocessable Entity', `${target.id} is unreachable`);
      destination = target.entrance;
      landmarkId = target.id;
    } else if (command.kind === 'tile') {
      destination = { x: command.x, y: command.y };
    } else {
      destination = { x: this.self.position.x + command.dx, y: this.self.position.y + command.dy };
    }
    const steps = Math.abs(destination.x - this.self.position.x) + Math.abs(destination.y - this.self.position.y);
    if (steps === 0) {
      return ok(MoveResultSchema.parse(this.moveResult('already-there', destination, landmarkId, 0)));
    }
    if (command.kind === 'step') {
      this.self = { ...this.self, position: destination, landmark: null, version: this.self.version + 1 };
      return ok(MoveResultSchema.parse(this.moveResult('moved', destination, null, 0)));
    }
    this.self = { ...this.self, walking: { destination, landmark: landmarkId, remaining: steps }, landmark: null };
    return ok(MoveResultSchema.parse(this.moveResult('walking', destination, landmarkId, steps)));
  }

  act(body: unknown): VillageAnswer<ActionResult> {
    const parsed = AgentActionSchema.safeParse(body);
    if (!parsed.success) return refuse(422, 'Unprocessable Entity', parsed.error.issues[0]?.message ?? 'invalid');
    if (parsed.data.type === 'say') this.said.push(parsed.data.text);
    return ok(ActionResultSchema.parse({ agentId: this.self.id, action: parsed.data, at: new Date(0).toISOString() }));
  }

  private moveResult(outcome: MoveResult['outcome'], destination: Position, landmarkId: string | null, eta: number) {
    return {
      agentId: this.self.id,
      outcome,
      position: this.self.position,
      version: this.self.version,
      destination,
      landmark: landmarkId,
      eta,
    };
  }
}

function ok<T>(value: T): VillageAnswer<T> {
  return { ok: true, value };
}

export function refuse(
  statusCode: number,
  error: string,
  message: string,
): { ok: false; status: number; error: ApiError } {
  return { ok: false, status: statusCode, error: ApiErrorSchema.parse({ statusCode, error, message }) };
}
