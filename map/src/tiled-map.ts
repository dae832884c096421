// Reads the ground of the village from the Tiled 1.10 JSON map the control plane serves at
// `world.map.url`: the `ground` tile layer and the colour and walkability of each tile type.
// The Tiled format is not part of our API contract, so only the fields the map draws are checked here.

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

/** Tiled keeps flip and rotation flags in the top bits of a gid. */
const GID_MASK = 0x0fffffff;
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

export function readGround(json: unknown): Ground {
  const map = asRecord(json, 'map');
  const width = positiveInt(map.width, 'map width');
  const height = positiveInt(map.height, 'map height');
  const layers = asArray(map.layers, 'map layers').map((layer, i) => asRecord(layer, `layer ${i}`));
  const groundLayer = layers.find((layer) => layer.type === 'tilelayer' && layer.name === 'ground');
  if (!groundLayer) throw new Error('the village map has no tile layer named "ground"');
  const gids = layerGids(groundLayer, width * height);

  const tilesets = asArray(map.tilesets, 'map tilesets')
    .map((tileset, i) => readTileset(asRecord(tileset, `tileset ${i}`)))
    .sort((a, b) => b.firstgid - a.firstgid);

  // One TileType per distinct gid, so the grid holds small indices and a lookup per cell is cheap.
  const tileTypes: TileType[] = [];
  const typeIndexByGid = new Map<number, number>();
  const cells = new Int32Array(width * height);
  for (let i = 0; i < cells.length; i++) {
    const gid = (gids[i] ?? 0) & GID_MASK;
    if (gid === 0) {
      cells[i] = -1;
      continue;
    }
    let index = typeIndexByGid.get(gid);
    if (index === undefined) {
      const tileset = tilesets.find((t) => t.firstgid <= gid);
      index = tileTypes.push(tileset?.types.get(gid - tileset.firstgid) ?? UNKNOWN_BLOCKED) - 1;
      typeIndexByGid.set(gid, index);
    }
    cells[i] = index;
  }
  return { width, height, cells, tileTypes };
}

function readTileset(tileset: Record<string, unknown>): { firstgid: number; types: Map<number, TileType> } {
  const firstgid = positiveInt(tileset.firstgid, 'tileset firstgid');
  const types = new Map<number, TileType>();
  for (const entry of Array.isArray(tileset.tiles) ? tileset.tiles : []) {
    const tile = asRecord(entry, 'tileset tile');
    if (typeof tile.id !== 'number') continue;
    const properties = new Map<string, unknown>();
    for (const property of Array.isArray(tile.properties) ? tile.properties : []) {
      const { name, value } = asRecord(property, 'tile property');
      if (typeof name === 'string') properties.set(name, value);
    }
    const walkable = properties.get('walkable') !== false;
    const colour = properties.get('color');
    const rgba = typeof colour === 'string' ? parseTiledColour(colour) : undefined;
    types.set(tile.id, rgba ? { rgba, walkable } : walkable ? UNKNOWN_WALKABLE : UNKNOWN_BLOCKED);
  }
  return { firstgid, types };
}

function layerGids(layer: Record<string, unknown>, expected: number): ArrayLike<number> {
  let gids: ArrayLike<number>;
  if (Array.isArray(layer.data)) {
    gids = layer.data.map((gid) => (typeof gid === 'number' ? gid >>> 0 : 0));
  } else if (typeof layer.data === 'string' && layer.encoding === 'base64' && !layer.compression) {
    // Uncompressed base64 is little-endian uint32 gids.
    const bytes = Uint8Array.from(atob(layer.data.trim()), (c) => c.charCodeAt(0));
    gids = new Uint32Array(bytes.buffer, 0, Math.floor(bytes.length / 4));
  } else {
    throw new Error('the "ground" layer must hold its data as a JSON array (or uncompressed base64)');
  }
  if (gids.length !== expected) {
    throw new Error(`the "ground" layer has ${gids.length} tiles; the map is ${expected} tiles`);
  }
  return gids;
}

/** Tiled writes colours as `#AARRGGBB`, or `#RRGGBB` when opaque. */
export function parseTiledColour(value: string): [number, number, number, number] | undefined {
  const hex = /^#?([0-9a-f]{6}|[0-9a-f]{8})$/i.exec(value.trim())?.[1];
  if (!hex) return undefined;
  const n = (at: number) => parseInt(hex.slice(at, at + 2), 16);
  return hex.length === 8 ? [n(2), n(4), n(6), n(0)] : [n(0), n(2), n(4), 255];
}

function asRecord(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Error(`the village map's ${what} is not an object`);
  }
  return value as Record<string, unknown>;
}

function asArray(value: unknown, what: string): unknown[] {
  if (!Array.isArray(value)) throw new Error(`the village map's ${what} is not a list`);
  return value;
}

function positiveInt(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    throw new Error(`the village map's ${what} is not a positive whole number`);
  }
  return value;
}
