import { readFileSync } from 'node:fs';
import { z } from 'zod';
import {
  TILED_GID_MASK,
  TiledMapSchema,
  property,
  tileTypesByGid,
  type Landmark,
  type Position,
  type TiledMap,
  type TiledObject,
} from '../contract/index.js';

export class MapLoadError extends Error {
  constructor(source: string, problem: string) {
    super(`cannot load the village map ${source}: ${problem}`);
    this.name = 'MapLoadError';
  }
}

/**
 * The world's static geography, built from a Tiled map: which tiles can be walked on, what each
 * tile is, and the named landmarks. Immutable once loaded; every replica loads the same file.
 */
export class VillageMap {
  readonly landmarks: readonly Landmark[];
  private readonly landmarksById: ReadonlyMap<string, Landmark>;
  /** For each tile, the index of the landmark whose area holds it, or -1. */
  private readonly landmarkIndex: Int16Array;

  private constructor(
    readonly name: string,
    readonly width: number,
    readonly height: number,
    readonly tileSize: number,
    private readonly walkable: Uint8Array,
    private readonly terrain: readonly string[],
    landmarks: Landmark[],
    /** The Tiled JSON exactly as read from the file (every field Tiled wrote), served to the map page. */
    readonly tiled: unknown,
  ) {
    this.landmarks = landmarks;
    this.landmarksById = new Map(landmarks.map((l) => [l.id, l]));
    this.landmarkIndex = new Int16Array(width * height).fill(-1);
    landmarks.forEach((landmark, index) => {
      const { x, y, width: w, height: h } = landmark.area;
      for (let ty = y; ty < y + h; ty++) for (let tx = x; tx < x + w; tx++) this.landmarkIndex[ty * width + tx] = index;
    });
  }

  static fromFile(path: string): VillageMap {
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(path, 'utf8'));
    } catch (error) {
      throw new MapLoadError(path, (error as Error).message);
    }
    return VillageMap.fromTiled(json, path);
  }

  static fromTiled(json: unknown, source = 'map'): VillageMap {
    const parsed = TiledMapSchema.safeParse(json);
    if (!parsed.success) throw new MapLoadError(source, z.prettifyError(parsed.error));
    const tiled = parsed.data;
    const { width, height } = tiled;
    const fail = (problem: string) => new MapLoadError(source, problem);
    if (tiled.tilewidth !== tiled.tileheight) throw fail('tiles must be square');

    let tileInfo: ReturnType<typeof tileTypesByGid>;
    try {
      tileInfo = tileTypesByGid(tiled);
    } catch (error) {
      throw fail((error as Error).message);
    }
    const ground = tiled.layers.find((l) => l.type === 'tilelayer' && l.name === 'ground');
    if (!ground || ground.type !== 'tilelayer') throw fail('it has no tile layer named "ground"');
    if (ground.data.length !== width * height)
      throw fail(`layer "ground" has ${ground.data.length} tiles, expected ${width * height}`);
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
    return new VillageMap(name, width, height, tiled.tilewidth, walkable, terrain, landmarks, json);
  }

  /**
   * Walkability as a bit string in PostgreSQL's `get_bit(bytea, n)` order (bit n is bit n % 8,
   * least significant first, of byte n / 8), so a single UPDATE can check a step's target tile.
   */
  get walkableBits(): Buffer {
    if (!this.bits) {
      this.bits = Buffer.alloc(Math.ceil(this.walkable.length / 8));
      this.walkable.forEach((walkable, i) => {
        if (walkable) this.bits![i >> 3]! |= 1 << (i & 7);
      });
    }
    return this.bits;
  }
  private bits: Buffer | undefined;

  inBounds(x: number, y: number): boolean {
    return Number.isInteger(x) && Number.isInteger(y) && x >= 0 && y >= 0 && x < this.width && y < this.height;
  }

  isWalkable(x: number, y: number): boolean {
    return this.inBounds(x, y) && this.walkable[y * this.width + x] === 1;
  }

  terrainAt(x: number, y: number): string | undefined {
    return this.inBounds(x, y) ? this.terrain[y * this.width + x] : undefined;
  }

  landmark(id: string): Landmark | undefined {
    return this.landmarksById.get(id);
  }

  landmarkAt(x: number, y: number): Landmark | undefined {
    if (!this.inBounds(x, y)) return undefined;
    const index = this.landmarkIndex[y * this.width + x]!;
    return index < 0 ? undefined : this.landmarks[index];
  }

  /** Tile index as stored in an agent's path. */
  indexOf(position: Position): number {
    return position.y * this.width + position.x;
  }

  positionOf(index: number): Position {
    return { x: index % this.width, y: Math.floor(index / this.width) };
  }

  /** Says why a tile cannot be stood on, or undefined when it can. */
  whyNotWalkable(x: number, y: number): string | undefined {
    if (!this.inBounds(x, y)) return `tile (${x}, ${y}) is outside the ${this.width}×${this.height} map`;
    if (!this.isWalkable(x, y)) return `tile (${x}, ${y}) is blocked (${this.terrainAt(x, y)})`;
    return undefined;
  }
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
