import { readFileSync } from 'node:fs';
import {
  TiledMapError,
  landmarkIndex,
  readVillageGeography,
  type Landmark,
  type Position,
  type VillageGeography,
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
    this.landmarkIndex = landmarkIndex(width, height, landmarks);
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
    let geography: VillageGeography;
    try {
      geography = readVillageGeography(json);
    } catch (error) {
      if (error instanceof TiledMapError) throw new MapLoadError(source, error.message);
      throw error;
    }
    const { name, width, height, tileSize, walkable, terrain, landmarks } = geography;
    return new VillageMap(name, width, height, tileSize, walkable, terrain, landmarks, json);
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

  /** Says why a tile cannot be stood on, or undefined when it can. */
  whyNotWalkable(x: number, y: number): string | undefined {
    if (!this.inBounds(x, y)) return `tile (${x}, ${y}) is outside the ${this.width}×${this.height} map`;
    if (!this.isWalkable(x, y)) return `tile (${x}, ${y}) is blocked (${this.terrainAt(x, y)})`;
    return undefined;
  }
}
