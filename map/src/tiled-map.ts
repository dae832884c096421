// Reads the ground of the village from the Tiled 1.10 JSON map the control plane serves at
// `world.map.url`: the `ground` tile layer and the colour and walkability of each tile type.
// The Tiled format and its tile rules come from the shared contract (TiledMapSchema, tileTypesByGid).
import { TILED_GID_MASK, TiledMapSchema, tileTypesByGid } from '@ai-village/control-plane/contract';

/** The ground grid: one tile type per cell, row-major, y-down. */
export interface Ground {
  width: number;
  height: number;
  /** Per cell: index into `tileTypes`, or -1 where the layer is empty. */
  cells: Int32Array;
  tileTypes: TileType[];
}

export interface TileType {
  /** Straight (not premultiplied) RGBA, 0-255 each. */
  rgba: [number, number, number, number];
  walkable: boolean;
}

const UNKNOWN_WALKABLE: TileType = { rgba: [143, 188, 106, 255], walkable: true };
const UNKNOWN_BLOCKED: TileType = { rgba: [110, 110, 110, 255], walkable: false };

export function cellAt(ground: Ground, x: number, y: number): TileType | undefined {
  if (x < 0 || y < 0 || x >= ground.width || y >= ground.height) return undefined;
  const index = ground.cells[y * ground.width + x] ?? -1;
  return index < 0 ? undefined : ground.tileTypes[index];
}

export async function fetchGround(url: string): Promise<Ground> {
  const response = await fetch(new URL(url, window.location.href), { headers: { accept: 'application/json' } });
  if (!response.ok) throw new Error(`the village map (${url}) answered ${response.status}`);
  return readGround(await response.json());
}

/** Reads the map with the contract's Tiled schema and tile rules, the same ones the control plane uses. */
export function readGround(json: unknown): Ground {
  const parsed = TiledMapSchema.safeParse(json);
  if (!parsed.success) throw new Error(`the village map is not a map the village can read: ${parsed.error.message}`);
  const map = parsed.data;
  const { width, height } = map;
  const groundLayer = map.layers.find((layer) => layer.type === 'tilelayer' && layer.name === 'ground');
  if (!groundLayer || groundLayer.type !== 'tilelayer')
    throw new Error('the village map has no tile layer named "ground"');
  if (groundLayer.data.length !== width * height) {
    throw new Error(`the "ground" layer has ${groundLayer.data.length} tiles; the map is ${width * height} tiles`);
  }
  const typesByGid = tileTypesByGid(map);

  // One TileType per distinct gid, so the grid holds small indices and a lookup per cell is cheap.
  const tileTypes: TileType[] = [];
  const typeIndexByGid = new Map<number, number>();
  const cells = new Int32Array(width * height);
  for (let i = 0; i < cells.length; i++) {
    const gid = (groundLayer.data[i] ?? 0) & TILED_GID_MASK;
    if (gid === 0) {
      cells[i] = -1;
      continue;
    }
    let index = typeIndexByGid.get(gid);
    if (index === undefined) {
      const type = typesByGid.get(gid);
      const rgba = type?.color ? parseTiledColour(type.color) : undefined;
      index =
        tileTypes.push(
          rgba ? { rgba, walkable: type!.walkable } : type?.walkable ? UNKNOWN_WALKABLE : UNKNOWN_BLOCKED,
        ) - 1;
      typeIndexByGid.set(gid, index);
    }
    cells[i] = index;
  }
  return { width, height, cells, tileTypes };
}

/** Tiled writes colours as `#AARRGGBB`, or `#RRGGBB` when opaque. */
export function parseTiledColour(value: string): [number, number, number, number] | undefined {
  const hex = /^#?([0-9a-f]{6}|[0-9a-f]{8})$/i.exec(value.trim())?.[1];
  if (!hex) return undefined;
  const n = (at: number) => parseInt(hex.slice(at, at + 2), 16);
  return hex.length === 8 ? [n(2), n(4), n(6), n(0)] : [n(0), n(2), n(4), 255];
}
