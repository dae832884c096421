import { z } from 'zod';
import { text } from './text.js';

const tile = z.number().int('must be a whole number of tiles');
const agentId = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{1,62}$/, 'must be 2-63 characters of a-z, 0-9 and -, starting with a letter or digit');

export const CreateAgentRequestSchema = z.strictObject({
  /** Optional stable id (slug); generated from the display name when absent. */
  id: agentId.optional(),
  displayName: text().trim().min(1).max(60),
  persona: text().max(4000).default(''),
  /** Where the agent appears: a landmark id, or a tile. Defaults to the town square. */
  spawn: z.union([z.strictObject({ landmark: z.string().min(1) }), z.strictObject({ x: tile, y: tile })]).optional(),
});
export type CreateAgentRequest = z.input<typeof CreateAgentRequestSchema>;
/** A create request after validation (defaults filled in). */
export type CreateAgentCommand = z.output<typeof CreateAgentRequestSchema>;

/** `PUT /api/agents/:id` (admins): what may change about an agent; its id and position never do. */
export const UpdateAgentRequestSchema = z
  .strictObject({
    displayName: text().trim().min(1).max(60).optional(),
    persona: text().max(4000).optional(),
  })
  .refine((change) => Object.keys(change).length > 0, 'send at least one of displayName, persona');
export type UpdateAgentRequest = z.input<typeof UpdateAgentRequestSchema>;
export type UpdateAgentCommand = z.output<typeof UpdateAgentRequestSchema>;

export const MoveRequestSchema = z
  .strictObject({
    dx: tile.min(-1).max(1).optional(),
    dy: tile.min(-1).max(1).optional(),
    x: tile.optional(),
    y: tile.optional(),
    landmark: z.string().min(1).optional(),
  })
  .transform((body, ctx) => {
    const step = body.dx !== undefined || body.dy !== undefined;
    const tileTarget = body.x !== undefined || body.y !== undefined;
    const landmark = body.landmark !== undefined;
    const forms = [step, tileTarget, landmark].filter(Boolean).length;
    if (forms !== 1) {
      ctx.addIssue({
        code: 'custom',
        message: 'send exactly one of: {dx, dy} for one step, {x, y} or {landmark} for a destination',
      });
      return z.NEVER;
    }
    if (step) {
      const dx = body.dx ?? 0;
      const dy = body.dy ?? 0;
      if (Math.abs(dx) + Math.abs(dy) !== 1) {
        ctx.addIssue({ code: 'custom', message: 'a step is one tile: exactly one of dx, dy must be 1 or -1' });
        return z.NEVER;
      }
      return { kind: 'step' as const, dx, dy };
    }
    if (tileTarget) {
      if (body.x === undefined || body.y === undefined) {
        ctx.addIssue({ code: 'custom', message: 'a tile destination needs both x and y' });
        return z.NEVER;
      }
      return { kind: 'tile' as const, x: body.x, y: body.y };
    }
    return { kind: 'landmark' as const, landmark: body.landmark! };
  });
export type MoveRequest = z.input<typeof MoveRequestSchema>;
export type MoveCommand = z.output<typeof MoveRequestSchema>;

export const MoveResultSchema = z.object({
  agentId: z.string(),
  /** `moved`: the step is done; `walking`: the server walks the agent one tile per tick. */
  outcome: z.enum(['moved', 'walking', 'already-there']),
  position: z.object({ x: z.number().int(), y: z.number().int() }),
  version: z.number().int(),
  destination: z.object({ x: z.number().int(), y: z.number().int() }).nullable(),
  landmark: z.string().nullable(),
  /** Ticks until arrival (0 once there). */
  eta: z.number().int().nonnegative(),
});
export type MoveResult = z.infer<typeof MoveResultSchema>;

export const EMOTES = ['wave', 'smile', 'laugh', 'think', 'shrug', 'sleep', 'cheer', 'sad'] as const;

/** What an agent can do besides moving. A discriminated union, so new actions slot in by `type`. */
export const AgentActionSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('say'), text: text().trim().min(1).max(500) }),
  z.strictObject({ type: z.literal('emote'), emote: z.enum(EMOTES) }),
]);
export type AgentAction = z.infer<typeof AgentActionSchema>;

export const ActionResultSchema = z.object({ agentId: z.string(), action: AgentActionSchema, at: z.string() });
export type ActionResult = z.infer<typeof ActionResultSchema>;

export const CreatedAgentSchema = z.object({
  /** The agent's bearer token. Shown once; only its hash is stored. */
  token: z.string(),
});

/** The error body every 4xx/5xx carries. */
export const ApiErrorSchema = z.object({
  statusCode: z.number().int(),
  error: z.string(),
  message: z.string(),
  issues: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  requestId: z.string().optional(),
});
export type ApiError = z.infer<typeof ApiErrorSchema>;
