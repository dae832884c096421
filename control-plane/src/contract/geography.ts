import { z } from 'zod';
import type { Landmark, Position } from './world.js';
import { TILED_GID_MASK, TiledMapSchema, property, tileTypesByGid, type TiledMap, type TiledObject } from './tiled.js';

/**
 * How the village reads its geography from a Tiled map: which tiles can be walked on, what each
 * tile is, and the named landmarks with their entrances. One reader, shared by the control plane
 * (authoritative) and by anything else that needs the same answers (tests, tools).
 */
export interface VillageGeography {
  name: string;
  width: number;
  height: number;
  tileSize: number;
  /** Per tile, row-major: 1 where an agent may stand. */
  walkable: Uint8Array;
  /** Per tile, row-major: the tile's type (grass, water, ...). */
  terrain: string[];
  landmarks: Landmark[];
}

/** A map the village cannot use; the message says why. */
export class TiledMapError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TiledMapError';
  }
}

/**
 * Which landmark holds each tile: for each tile (row-major) the index of the landmark in `landmarks`,
 * or -1. Where areas overlap, the smallest area wins (a cottage inside a district), then the later one.
 */
export function landmarkIndex(width: number, height: number, landmarks: readonly Landmark[]): Int16Array {
  const index = new Int16Array(width * height).fill(-1);
  const size = (i: number) => landmarks[i]!.area.width * landmarks[i]!.area.height;
  landmarks.forEach((landmark, i) => {
    const { x, y, width: w, height: h } = landmark.area;
    for (let ty = Math.max(0, y); ty < Math.min(height, y + h); ty++) {
      for (let tx = Math.max(0, x); tx < Math.min(width, x + w); tx++) {
        const held = index[ty * width + tx]!;
        if (held < 0 || size(i) <= size(held)) index[ty * width + tx] = i;
      }
    }
  });
  return index;
}

export function readVillageGeography(json: unknown): VillageGeography {
  const parsed = TiledMapSchema.safeParse(json);
  if (!parsed.success) throw new TiledMapError(z.prettifyError(parsed.error));
  const tiled = parsed.data;
  const { width, height } = tiled;
  const fail = (problem: string) => new TiledMapError(problem);
  if (tiled.tilewidth !== tiled.tileheight) throw fail('tiles must be square');

  let tileInfo: ReturnType<typeof tileTypesByGid>;
  try {
    tileInfo = tileTypesByGid(tiled);
  } catch (error) {
    throw fail((error as Error).message);
  }
  const ground = tiled.layers.find((l) => l.type === 'tilelayer' && l.name === 'ground');
  if (!ground || ground.type !== 'tilelayer') throw fail('it has no tile layer named "ground"');
  if (ground.data.length !== width * height) {
    throw fail(`layer "ground" has ${ground.data.length} tiles, expected ${width * height}`);
  }
  const collision = tiled.layers.find((l) => l.type === 'tilelayer' && l.name === 'collision');

  const walkable = new Uint8Array(width * height);
  const terrain: string[] = new Array<string>(width * height);
  for (let i = 0; i < width * height; i++) {
    const gid = ground.data[i]! & TILED_GID_MASK;
    const info = tileInfo.get(gid);
    if (!info) throw fail(`tile ${i % width},${Math.floor(i / width)} uses gid ${gid}, which no tileset defines`);
    const blockedByCollision = collision?.type === 'tilelayer' && (collision.data[i] ?? 0) !== 0;
    walkable[i] = info.walkable && !blockedByCollision ? 1 : 0;
    terrain[i] = info.type;
  }

  const isWalkable = (x: number, y: number) => walkable[y * width + x] === 1;
  const layer = tiled.layers.find((l) => l.type === 'objectgroup' && l.name === 'landmarks');
  const objects = layer?.type === 'objectgroup' ? layer.objects : [];
  const landmarks = objects.map((object) => toLandmark(object, tiled, isWalkable, fail));
  const seen = new Set<string>();
  for (const landmark of landmarks) {
    if (seen.has(landmark.id)) throw fail(`two landmarks share the id "${landmark.id}"`);
    seen.add(landmark.id);
  }
  const name = String(property(tiled.properties, 'name') ?? 'The village');
  return { name, width, height, tileSize: tiled.tilewidth, walkable, terrain, landmarks };
}

function toLandmark(
  object: TiledObject,
  tiled: TiledMap,
  isWalkable: (x: number, y: number) => boolean,
  fail: (p: string) => Error,
): Landmark {
  const size = tiled.tilewidth;
  const x = Math.floor(object.x / size);
  const y = Math.floor(object.y / size);
  if (x < 0 || y < 0 || x >= tiled.width || y >= tiled.height)
    throw fail(`landmark "${object.name}" lies outside the map`);
  // Clipped to the map, so an area drawn past the edge cannot wrap onto the next row.
  const area = {
    x,
    y,
    width: Math.min(tiled.width - x, Math.max(1, Math.ceil((object.x + object.width) / size) - x)),
    height: Math.min(tiled.height - y, Math.max(1, Math.ceil((object.y + object.height) / size) - y)),
  };
  const id = String(property(object.properties, 'slug') ?? slugify(object.name));
  const centre = { x: area.x + (area.width - 1) / 2, y: area.y + (area.height - 1) / 2 };
  let entrance: Position | undefined;
  let best = Infinity;
  for (let ty = area.y; ty < area.y + area.height; ty++) {
    for (let tx = area.x; tx < area.x + area.width; tx++) {
      if (!isWalkable(tx, ty)) continue;
      const distance = Math.abs(tx - centre.x) + Math.abs(ty - centre.y);
      if (distance < best) {
        best = distance;
        entrance = { x: tx, y: ty };
      }
    }
  }
  if (!entrance) throw fail(`landmark "${object.name}" has no walkable tile inside its area`);
  const description = property(object.properties, 'description');
  return {
    id,
    name: object.name,
    kind: object.class ?? object.type ?? 'place',
    area,
    entrance,
    ...(typeof description === 'string' ? { description } : {}),
  };
}

export function slugify(text: string): string {
  return text
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 48);
}
