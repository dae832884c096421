import { z } from 'zod';

/** A tile position. The grid is y-down, origin at the top-left tile, as in Tiled. */
export const PositionSchema = z.object({
  x: z.number().int().nonnegative(),
  y: z.number().int().nonnegative(),
});
export type Position = z.infer<typeof PositionSchema>;

/** A rectangle of tiles (inclusive x,y; width and height in tiles). */
export const TileAreaSchema = z.object({
  x: z.number().int(),
  y: z.number().int(),
  width: z.number().int().positive(),
  height: z.number().int().positive(),
});
export type TileArea = z.infer<typeof TileAreaSchema>;

export const LandmarkSchema = z.object({
  /** Stable slug, e.g. `cafe` or `home-ada`; what `{ landmark }` moves name. */
  id: z.string(),
  name: z.string(),
  /** home, cafe, market, board, park, ... (the Tiled object's class). */
  kind: z.string(),
  area: TileAreaSchema,
  /** The walkable tile agents walk to when they head for this landmark. */
  entrance: PositionSchema,
  description: z.string().optional(),
});
export type Landmark = z.infer<typeof LandmarkSchema>;

export const AgentStatusSchema = z.object({
  online: z.boolean(),
  lastSeenAt: z.string().nullable(),
});

export const WalkSchema = z.object({
  destination: PositionSchema,
  landmark: z.string().nullable(),
  /** Tiles still to walk, one per tick. */
  remaining: z.number().int().nonnegative(),
});
export type Walk = z.infer<typeof WalkSchema>;

export const AgentSchema = z.object({
  id: z.string(),
  displayName: z.string(),
  persona: z.string(),
  position: PositionSchema,
  /** Bumped on every position change: apply an update only if it is newer than what you hold. */
  version: z.number().int().nonnegative(),
  walking: WalkSchema.nullable(),
  /** The landmark whose area holds the agent now, if any. */
  landmark: z.string().nullable(),
  status: AgentStatusSchema,
  builtIn: z.boolean(),
  createdAt: z.string(),
});
export type Agent = z.infer<typeof AgentSchema>;

export const WorldSchema = z.object({
  name: z.string(),
  size: z.object({
    width: z.number().int().positive(),
    height: z.number().int().positive(),
    tileSize: z.number().int().positive(),
  }),
  /** Where the Tiled JSON map (tiles, tileset, objects) can be fetched. */
  map: z.object({ url: z.string(), format: z.literal('tiled-json') }),
  landmarks: z.array(LandmarkSchema),
  agents: z.array(AgentSchema),
  clock: z.object({ tick: z.number().int().nonnegative(), tickMs: z.number().int().positive() }),
});
export type World = z.infer<typeof WorldSchema>;

export const HealthSchema = z.object({
  status: z.enum(['ok', 'degraded']),
  replica: z.string(),
  checks: z.record(z.string(), z.object({ ok: z.boolean(), latencyMs: z.number(), error: z.string().optional() })),
});
export type Health = z.infer<typeof HealthSchema>;
