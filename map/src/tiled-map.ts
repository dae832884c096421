// Reads the ground of the village from the Tiled 1.10 JSON map the control plane serves at
// `world.map.url`. The Tiled format is part of the shared contract: the map's size and which tiles can
// be walked on (the `ground` layer's tile properties and the `collision` layer) come from the contract's
// `readVillageGeography`, the reader the control plane itself uses, so the page and the server agree.
// Only the colours the page paints (each tile's `color` property) are read here.
import {
  TILED_GID_MASK,
  TiledMapSchema,
  readVillageGeography,
  tileTypesByGid,
} from '@ai-village/control-plane/contract';

/** Straight (not premultiplied) RGBA, 0-255 each. */
export type Rgba = [number, number, number, number];

/** The ground grid, row-major, y-down. */
export interface Ground {
  width: number;
  height: number;
  /** Per cell: index into `colours`, or -1 where the layer is empty. */
  cells: Int32Array;
  colours: Rgba[];
  /** Per cell: 1 where an agent may stand (the contract's answer, the same the server gives). */
  walkable: Uint8Array;
}

const UNKNOWN_WALKABLE: Rgba = [143, 188, 106, 255];
const UNKNOWN_BLOCKED: Rgba = [110, 110, 110, 255];

/** Whether a tile can be walked on; undefined outside the map. */
export function walkableAt(ground: Ground, x: number, y: number): boolean | undefined {
  if (x < 0 || y < 0 || x >= ground.width || y >= ground.height) return undefined;
  return ground.walkable[y * ground.width + x] === 1;
}

export async function fetchGround(url: string): Promise<Ground> {
  const response = await fetch(new URL(url, window.location.href), { headers: { accept: 'application/json' } });
  if (!response.ok) throw new Error(`the village map (${url}) answered ${response.status}`);
  return readGround(await response.json());
}

/** Reads the map with the contract's geography reader, plus the colour of each tile type. */
export function readGround(json: unknown): Ground {
  let geography: ReturnType<typeof readVillageGeography>;
  try {
    geography = readVillageGeography(json);
  } catch (error) {
    throw new Error(`the village map is not a map the village can read: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const { width, height, walkable } = geography;
  // readVillageGeography has checked the schema, the tilesets and the ground layer already.
  const map = TiledMapSchema.parse(json);
  const groundLayer = map.layers.find((layer) => layer.type === 'tilelayer' && layer.name === 'ground');
  const data = groundLayer?.type === 'tilelayer' ? groundLayer.data : [];
  const typesByGid = tileTypesByGid(map);

  // One colour per distinct gid, so the grid holds small indices and a lookup per cell is cheap.
  const colours: Rgba[] = [];
  const colourIndexByGid = new Map<number, number>();
  const cells = new Int32Array(width * height);
  for (let i = 0; i < cells.length; i++) {
    const gid = (data[i] ?? 0) & TILED_GID_MASK;
    if (gid === 0) {
      cells[i] = -1;
      continue;
    }
    let index = colourIndexByGid.get(gid);
    if (index === undefined) {
      const type = typesByGid.get(gid);
      const rgba = type?.color ? parseTiledColour(type.color) : undefined;
      index = colours.push(rgba ?? (type?.walkable === false ? UNKNOWN_BLOCKED : UNKNOWN_WALKABLE)) - 1;
      colourIndexByGid.set(gid, index);
    }
    cells[i] = index;
  }
  return { width, height, cells, colours, walkable };
}

/** Tiled writes colours as `#AARRGGBB`, or `#RRGGBB` when opaque. */
export function parseTiledColour(value: string): Rgba | undefined {
  const hex = /^#?([0-9a-f]{6}|[0-9a-f]{8})$/i.exec(value.trim())?.[1];
  if (!hex) return undefined;
  const n = (at: number) => parseInt(hex.slice(at, at + 2), 16);
  return hex.length === 8 ? [n(2), n(4), n(6), n(0)] : [n(0), n(2), n(4), 255];
}
