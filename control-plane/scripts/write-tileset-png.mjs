// Writes the tileset image of a Tiled map, so the map can be opened and edited in the Tiled editor:
//   node control-plane/scripts/write-tileset-png.mjs [map.tmj]
// The map (default: the shipped village, control-plane/assets/maps/village.tmj) embeds one tileset
// whose tiles carry a `color` property (#AARRGGBB); this draws each tile as a 32×32 square of that
// colour with a darker rim and a sprinkle of texture dots, one row of tiles, and saves it beside the
// map under the tileset's `image` name (village-tiles.png). The PNG is derived, not committed.
//
// Deterministic, plain Node: the PNG is encoded by hand (signature, IHDR, IDAT via zlib, IEND).
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deflateSync } from 'node:zlib';

const mapPath = resolve(process.argv[2] ?? fileURLToPath(new URL('../assets/maps/village.tmj', import.meta.url)));
const map = JSON.parse(readFileSync(mapPath, 'utf8'));
const tileset = map.tilesets?.find((t) => typeof t.image === 'string' && Array.isArray(t.tiles));
if (!tileset) throw new Error(`${mapPath} has no embedded tileset with an image`);

const { tilewidth: tw, tileheight: th, tilecount, margin = 0, spacing = 0 } = tileset;
const columns = tileset.columns || tilecount;
const rows = Math.ceil(tilecount / columns);
const width = tileset.imagewidth ?? margin * 2 + columns * tw + (columns - 1) * spacing;
const height = tileset.imageheight ?? margin * 2 + rows * th + (rows - 1) * spacing;

/** #AARRGGBB or #RRGGBB to [r, g, b, a]; magenta for a tile without a colour, so it stands out. */
function rgba(color) {
  const m = /^#([0-9a-f]{2})?([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(color ?? '');
  if (!m) return [255, 0, 255, 255];
  return [parseInt(m[2], 16), parseInt(m[3], 16), parseInt(m[4], 16), m[1] === undefined ? 255 : parseInt(m[1], 16)];
}
const shade = ([r, g, b, a], f) => [
  Math.min(255, Math.round(r * f)),
  Math.min(255, Math.round(g * f)),
  Math.min(255, Math.round(b * f)),
  a,
];

const pixels = Buffer.alloc(width * height * 4); // RGBA, transparent where no tile is
for (let id = 0; id < tilecount; id++) {
  const tile = tileset.tiles.find((t) => t.id === id);
  const base = rgba(tile?.properties?.find((p) => p.name === 'color')?.value);
  const rim = shade(base, 0.78);
  const dark = shade(base, 0.88);
  const light = shade(base, 1.12);
  const ox = margin + (id % columns) * (tw + spacing);
  const oy = margin + Math.floor(id / columns) * (th + spacing);
  for (let y = 0; y < th; y++)
    for (let x = 0; x < tw; x++) {
      let c = base;
      if (x === 0 || y === 0 || x === tw - 1 || y === th - 1) c = rim;
      else {
        // A fixed pseudo-random speckle, different per tile id: a few darker and lighter dots.
        const h = (Math.imul((x * 73856093) ^ (y * 19349663) ^ ((id + 1) * 83492791), 2654435761) >>> 24) & 0xff;
        if (h < 14) c = dark;
        else if (h > 243) c = light;
      }
      pixels.set(c, ((oy + y) * width + ox + x) * 4);
    }
}

const CRC_TABLE = new Uint32Array(256).map((_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type, data) {
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const out = Buffer.alloc(body.length + 8);
  out.writeUInt32BE(data.length, 0);
  body.copy(out, 4);
  out.writeUInt32BE(crc32(body), body.length + 4);
  return out;
}

const ihdr = Buffer.alloc(13);
ihdr.writeUInt32BE(width, 0);
ihdr.writeUInt32BE(height, 4);
ihdr[8] = 8; // bit depth
ihdr[9] = 6; // colour type: RGBA
ihdr[10] = 0; // compression
ihdr[11] = 0; // filter method
ihdr[12] = 0; // no interlace
const raw = Buffer.alloc(height * (width * 4 + 1)); // each scanline: filter byte 0 (none), then pixels
for (let y = 0; y < height; y++) pixels.copy(raw, y * (width * 4 + 1) + 1, y * width * 4, (y + 1) * width * 4);
const png = Buffer.concat([
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
  chunk('IHDR', ihdr),
  chunk('IDAT', deflateSync(raw, { level: 9 })),
  chunk('IEND', Buffer.alloc(0)),
]);

const out = resolve(dirname(mapPath), tileset.image);
writeFileSync(out, png);
console.log(`wrote ${out}: ${width}×${height}, ${tilecount} tiles`);
