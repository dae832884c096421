import { z } from 'zod';

/**
 * The part of Tiled's JSON map format (https://doc.mapeditor.org/en/stable/reference/json-map-format/)
 * the village reads: an orthogonal, finite map with embedded tilesets, a `ground` tile layer, an
 * optional `collision` tile layer and a `landmarks` object layer. Anything else Tiled writes passes.
 */
const PropertySchema = z.object({ name: z.string(), type: z.string().optional(), value: z.unknown() });
export type TiledProperty = z.infer<typeof PropertySchema>;

const TileSchema = z.object({
  id: z.number().int().nonnegative(),
  // Tiled ≥ 1.9 writes `class` where older versions wrote `type`.
  type: z.string().optional(),
  class: z.string().optional(),
  properties: z.array(PropertySchema).optional(),
});

const TilesetSchema = z.object({
  firstgid: z.number().int().positive(),
  name: z.string(),
  tilecount: z.number().int().positive(),
  tiles: z.array(TileSchema).optional(),
  source: z.string().optional(),
});

const TileLayerSchema = z.object({
  type: z.literal('tilelayer'),
  name: z.string(),
  width: z.number().int().positive(),
  height: z.number().int().positive(),
  data: z.array(z.number().int().nonnegative()),
  encoding: z.literal('csv').optional(),
});

const MapObjectSchema = z.object({
  id: z.number().int(),
  name: z.string(),
  type: z.string().optional(),
  class: z.string().optional(),
  x: z.number(),
  y: z.number(),
  width: z.number().nonnegative().default(0),
  height: z.number().nonnegative().default(0),
  point: z.boolean().optional(),
  properties: z.array(PropertySchema).optional(),
});
export type TiledObject = z.infer<typeof MapObjectSchema>;

const ObjectLayerSchema = z.object({
  type: z.literal('objectgroup'),
  name: z.string(),
  objects: z.array(MapObjectSchema),
});

const OtherLayerSchema = z.object({ type: z.enum(['imagelayer', 'group']), name: z.string() });

export const TiledMapSchema = z.object({
  type: z.literal('map').optional(),
  orientation: z.literal('orthogonal', { message: 'only orthogonal maps are supported' }),
  infinite: z.literal(false, { message: 'infinite maps are not supported; save the map as fixed-size' }),
  width: z.number().int().positive(),
  height: z.number().int().positive(),
  tilewidth: z.number().int().positive(),
  tileheight: z.number().int().positive(),
  properties: z.array(PropertySchema).optional(),
  tilesets: z.array(TilesetSchema).min(1),
  layers: z.array(z.discriminatedUnion('type', [TileLayerSchema, ObjectLayerSchema, OtherLayerSchema])),
});
export type TiledMap = z.infer<typeof TiledMapSchema>;

export function property(properties: TiledProperty[] | undefined, name: string): unknown {
  return properties?.find((p) => p.name === name)?.value;
}

/** Tiled keeps flip and rotation flags in the top four bits of a gid. */
export const TILED_GID_MASK = 0x0fffffff;

/** What the village reads from a tileset tile. */
export interface TileType {
  /** The tile's class (Tiled ≥ 1.9) or type, e.g. `grass`, `water`; the tileset's name otherwise. */
  type: string;
  /** A tile can be walked on unless its `walkable` property is false. */
  walkable: boolean;
  /** The `color` property as Tiled writes it (`#AARRGGBB` or `#RRGGBB`), if any. */
  color: string | undefined;
}

/** Every gid the map's tilesets define, with its type. External tilesets are refused. */
export function tileTypesByGid(tiled: TiledMap): Map<number, TileType> {
  const types = new Map<number, TileType>();
  for (const tileset of tiled.tilesets) {
    if (tileset.source) {
      throw new Error(`tileset "${tileset.source}" is external; embed it in the map (Tiled: Embed Tileset)`);
    }
    for (let id = 0; id < tileset.tilecount; id++) {
      types.set(tileset.firstgid + id, { type: tileset.name, walkable: true, color: undefined });
    }
    for (const tile of tileset.tiles ?? []) {
      const color = property(tile.properties, 'color');
      types.set(tileset.firstgid + tile.id, {
        type: tile.class ?? tile.type ?? tileset.name,
        walkable: property(tile.properties, 'walkable') !== false,
        color: typeof color === 'string' ? color : undefined,
      });
    }
  }
  return types;
}
