// Generates the shipped default village map, Willowbrook, as a Tiled JSON map (.tmj):
//   node control-plane/scripts/generate-village-map.mjs
// writes control-plane/assets/maps/village.tmj: an 80×60 orthogonal map of 32px tiles with one
// embedded tileset (each tile's `type` names its terrain; `walkable` and `color` properties), a
// `ground` tile layer and a `landmarks` object layer (one rectangle per place agents can go to).
//
// The committed village.tmj is the source of truth: admins open and edit it in the Tiled editor
// (run `node control-plane/scripts/write-tileset-png.mjs` first to get the tileset image). This
// script only produced its first version. Re-running it OVERWRITES the map, hand edits included.
//
// Deterministic: no Math.random, only a seeded PRNG, so the same script always writes the same file.
// Plain Node, no dependencies.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const OUT = fileURLToPath(new URL('../assets/maps/village.tmj', import.meta.url));

const WIDTH = 80;
const HEIGHT = 60;
const TILE = 32;

/** The terrains, in tile-id order (gid = id + 1). Colours are Tiled's #AARRGGBB. */
const TERRAINS = [
  { type: 'grass', walkable: true, color: '#ff7fb35a', ascii: '.' },
  { type: 'path', walkable: true, color: '#ffd4b27a', ascii: '=' },
  { type: 'plaza', walkable: true, color: '#ffb4b0a8', ascii: '#' },
  { type: 'floor', walkable: true, color: '#fff1e4cf', ascii: '_' },
  { type: 'door', walkable: true, color: '#ff7a4a24', ascii: 'D' },
  { type: 'bridge', walkable: true, color: '#ffa8773f', ascii: 'H' },
  { type: 'flowers', walkable: true, color: '#ffe89ac0', ascii: '*' },
  { type: 'sand', walkable: true, color: '#fff0d890', ascii: ':' },
  { type: 'field', walkable: true, color: '#ffc9c45c', ascii: '"' },
  { type: 'water', walkable: false, color: '#ff4a8fd0', ascii: '~' },
  { type: 'wall', walkable: false, color: '#ff7d5a4a', ascii: 'W' },
  { type: 'tree', walkable: false, color: '#ff2e6b3a', ascii: 'T' },
  { type: 'fence', walkable: false, color: '#ffb58a55', ascii: '|' },
  { type: 'rock', walkable: false, color: '#ff8d8d8d', ascii: 'o' },
  { type: 'stall', walkable: false, color: '#ffd6453d', ascii: 'S' },
  { type: 'noticeboard', walkable: false, color: '#ff4d3320', ascii: 'B' },
  { type: 'well', walkable: false, color: '#ff5f7f9a', ascii: 'O' },
];
const T = Object.fromEntries(TERRAINS.map((t, id) => [t.type, id]));

/** mulberry32: a tiny seeded PRNG, so "random" decoration is the same on every run. */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rand = prng(0x5eed_b00c);

const grid = new Array(WIDTH * HEIGHT).fill(T.grass);
const inside = (x, y) => x >= 0 && y >= 0 && x < WIDTH && y < HEIGHT;
const get = (x, y) => grid[y * WIDTH + x];
const set = (x, y, t) => {
  if (inside(x, y)) grid[y * WIDTH + x] = t;
};
const fill = (x0, y0, w, h, t) => {
  for (let y = y0; y < y0 + h; y++) for (let x = x0; x < x0 + w; x++) set(x, y, t);
};
const walkable = (t) => TERRAINS[t].walkable;
const ROADLIKE = new Set([T.path, T.plaza, T.bridge]);
const NEIGHBOURS = [
  [1, 0],
  [-1, 0],
  [0, 1],
  [0, -1],
];

/** Landmarks in tiles; converted to pixel rectangles on output. */
const landmarks = [];
const landmark = (slug, kind, name, [x, y, width, height], description) =>
  landmarks.push({ slug, kind, name, x, y, width, height, description });

// --- The river: three tiles wide, meandering north to south east of the town. ---------------------
const riverX = (y) => 57 + Math.round(1.5 * Math.sin(y / 7) + 0.6 * Math.sin(y / 3.3));
for (let y = 0; y < HEIGHT; y++) for (let dx = -1; dx <= 1; dx++) set(riverX(y) + dx, y, T.water);

// --- Roads: a main street (the road out of the village, east and west), two avenues, side roads. ---
/** Lays road; where it crosses water it becomes a bridge. */
const road = (x0, y0, w, h) => {
  for (let y = y0; y < y0 + h; y++)
    for (let x = x0; x < x0 + w; x++) if (inside(x, y)) set(x, y, get(x, y) === T.water ? T.bridge : T.path);
};
road(0, 29, WIDTH, 2); // main street
road(24, 4, 2, 52); // west avenue
road(44, 4, 2, 52); // east avenue
road(4, 14, 73, 1); // north lane, over the north bridge
road(4, 45, 49, 1); // south lane
road(68, 4, 1, 52); // river lane, east of the river

// --- Buildings: walls around a floor, a door in one wall, a path from the door to the nearest road. -
/** Lays a path from `door`, a tile on the rim of the rectangle, outwards to the nearest road. */
function pathFrom(x0, y0, w, h, [dx, dy]) {
  const [sx, sy] = dx === x0 ? [-1, 0] : dx === x0 + w - 1 ? [1, 0] : dy === y0 ? [0, -1] : [0, 1];
  let [x, y] = [dx + sx, dy + sy];
  while (inside(x, y) && !ROADLIKE.has(get(x, y))) {
    set(x, y, T.path);
    [x, y] = [x + sx, y + sy];
  }
  if (!inside(x, y)) throw new Error(`the way out at ${dx},${dy} leads nowhere`);
}

/** A building: walls around a floor, with `door` ([x, y] on a wall) and a path from it to a road. */
function building(x0, y0, w, h, door) {
  fill(x0, y0, w, h, T.wall);
  fill(x0 + 1, y0 + 1, w - 2, h - 2, T.floor);
  set(door[0], door[1], T.door);
  pathFrom(x0, y0, w, h, door);
  return [x0, y0, w, h];
}

/** A fenced field of crops with a gate, and a path from the gate to a road. */
function field(x0, y0, w, h, gate) {
  fill(x0, y0, w, h, T.fence);
  fill(x0 + 1, y0 + 1, w - 2, h - 2, T.field);
  set(gate[0], gate[1], T.path);
  pathFrom(x0, y0, w, h, gate);
}

// Town square: a cobbled plaza spanning the two avenues, crossed by the main street.
fill(26, 22, 18, 16, T.plaza);
for (const [x, y] of [
  [27, 23],
  [42, 23],
  [27, 36],
  [42, 36],
])
  set(x, y, T.tree);
for (const [x, y] of [
  [28, 23],
  [27, 24],
  [41, 23],
  [42, 24],
  [28, 36],
  [27, 35],
  [41, 36],
  [42, 35],
])
  set(x, y, T.flowers);
landmark(
  'town-square',
  'square',
  'Town Square',
  [26, 22, 18, 16],
  'The cobbled heart of Willowbrook, where the main street meets the two avenues. Newcomers arrive here, and neighbours stop to chat under the corner trees.',
);

// The bulletin board, in a little cobbled nook off the north edge of the square.
fill(37, 17, 6, 5, T.plaza);
set(39, 18, T.noticeboard);
set(40, 18, T.noticeboard);
set(37, 17, T.flowers);
set(42, 17, T.flowers);
landmark(
  'town-board',
  'board',
  'Town Bulletin Board',
  [37, 17, 6, 5],
  'A weathered oak notice board by the square, covered in announcements, requests, offers of help and lost-and-found notes. Anyone may pin a message here.',
);

// The old well, just south of the square.
fill(33, 38, 4, 4, T.plaza);
fill(34, 39, 2, 2, T.well);
landmark(
  'old-well',
  'well',
  'Old Stone Well',
  [33, 38, 4, 4],
  "The village's old stone well just south of the square. The water is cold and sweet, and people say a wish whispered into it comes true.",
);

landmark(
  'cafe',
  'cafe',
  'Café Aurora',
  building(27, 16, 8, 5, [30, 20]),
  'A cosy corner café on the square serving coffee, tea, soup and warm cinnamon buns; the favourite spot for a morning chat.',
);

fill(28, 11, 14, 1, T.flowers); // flower beds in front of the library
landmark(
  'library',
  'library',
  'Willowbrook Library',
  building(29, 4, 12, 7, [34, 10]),
  'A quiet stone library with long reading tables, a local-history archive and a librarian who insists on whispering.',
);

landmark(
  'workshop',
  'workshop',
  "Tinker's Workshop",
  building(47, 17, 7, 6, [47, 19]),
  'A cluttered workshop full of tools, timber and half-finished projects. Anyone may borrow a hammer, as long as they bring it back.',
);
set(50, 24, T.rock); // timber and stone waiting outside
set(51, 24, T.rock);

// Riverside market: a cobbled plaza between the east avenue and the river, with rows of stalls.
fill(46, 32, 8, 12, T.plaza);
for (const y of [34, 37, 40]) for (const x of [48, 49, 51, 52]) set(x, y, T.stall);
landmark(
  'market',
  'market',
  'Riverside Market',
  [46, 32, 8, 12],
  'Open-air stalls by the river selling vegetables, bread, cheese, honey and odds and ends. Busiest in the morning.',
);

// Homes: four cottages on the north lane, two on the river lane east of the river.
const homes = [
  [
    'home-ada',
    "Ada's Cottage",
    building(5, 8, 6, 5, [7, 12]),
    'A whitewashed cottage with a herb garden by the north lane.',
  ],
  [
    'home-basil',
    "Basil's Cottage",
    building(14, 8, 6, 5, [17, 12]),
    'A snug cottage with a blue door and a shelf of well-thumbed books.',
  ],
  [
    'home-clara',
    "Clara's Cottage",
    building(5, 16, 6, 5, [8, 16]),
    'A cottage by the orchard that always smells of baking.',
  ],
  [
    'home-dmitri',
    "Dmitri's House",
    building(14, 16, 6, 5, [16, 16]),
    'A tidy house with a workbench on the porch and wind chimes by the door.',
  ],
  [
    'home-elena',
    "Elena's Riverside House",
    building(70, 17, 6, 5, [70, 19]),
    'A house across the north bridge with a view of the river.',
  ],
  [
    'home-farid',
    "Farid's Cottage",
    building(70, 34, 6, 5, [70, 36]),
    'A cottage on the river lane with a vegetable patch and a very old cat.',
  ],
];
for (const [slug, name, rect, description] of homes) landmark(slug, 'home', name, rect, description);

// Willow Park: a hedged park west of the square, with paths, flower beds, trees and a lily pond.
{
  const [x0, y0, w, h] = [4, 32, 19, 12];
  fill(x0, y0, w, h, T.grass);
  for (let x = x0; x < x0 + w; x++) {
    set(x, y0, T.tree);
    set(x, y0 + h - 1, T.tree);
  }
  for (let y = y0; y < y0 + h; y++) {
    set(x0, y, T.tree);
    set(x0 + w - 1, y, T.tree);
  }
  road(13, 31, 1, 14); // north-south through the park, main street to south lane
  road(5, 37, 19, 1); // west-east, out to the west avenue
  for (let y = y0 + 1; y < y0 + h - 1; y++)
    for (let x = x0 + 1; x < x0 + w - 1; x++) {
      const pond = ((x - 8) / 2.6) ** 2 + ((y - 40.5) / 1.7) ** 2;
      if (pond <= 1) set(x, y, T.water);
      else if (get(x, y) === T.grass && pond <= 1.9) set(x, y, T.sand);
    }
  fill(16, 33, 5, 2, T.flowers);
  fill(6, 33, 4, 2, T.flowers);
  fill(16, 40, 5, 2, T.flowers);
  for (let y = y0 + 1; y < y0 + h - 1; y++)
    for (let x = x0 + 1; x < x0 + w - 1; x++) if (get(x, y) === T.grass && rand() < 0.16) set(x, y, T.tree);
  landmark(
    'park',
    'park',
    'Willow Park',
    [x0, y0, w, h],
    'A green park west of the square with shady trees, flower beds, winding paths and a little lily pond. A good place for a quiet walk.',
  );
}

// Mill pond: a wide pond south of the square with a sandy shore and a jetty.
{
  const [x0, y0, w, h] = [28, 47, 14, 9];
  const [cx, cy] = [34.5, 51.5];
  for (let y = y0; y < y0 + h; y++)
    for (let x = x0; x < x0 + w; x++) {
      const d = ((x - cx) / 5.2) ** 2 + ((y - cy) / 3.1) ** 2;
      if (d <= 1) set(x, y, T.water);
      else if (d <= 1.9) set(x, y, T.sand);
    }
  for (let y = 46; get(34, y) === T.grass; y++) set(34, y, T.path); // from the south lane
  for (let y = y0; y < 51; y++) if (get(34, y) === T.water) set(34, y, T.bridge); // the jetty
  landmark(
    'mill-pond',
    'pond',
    'Mill Pond',
    [x0, y0, w, h],
    'A wide pond south of the square with a sandy shore and a wooden jetty, good for fishing, paddling and skipping stones.',
  );
}

// Fields and an orchard.
field(4, 3, 18, 4, [12, 6]);
field(47, 4, 7, 8, [47, 8]);
field(47, 47, 7, 9, [47, 51]);
field(70, 4, 7, 8, [70, 8]);
for (let y = 23; y <= 27; y += 2) for (let x = 5; x <= 21; x += 3) set(x, y, T.tree);

// --- Nature: a tree border (a forest at the edges), woods in the south-east, river banks. ----------
/** A smooth depth per border position: 2..5 trees deep. */
const borderDepth = (n) => {
  const raw = Array.from({ length: n }, () => rand());
  return raw.map((_, i) => {
    const avg = (raw[Math.max(0, i - 1)] + raw[i] + raw[Math.min(n - 1, i + 1)]) / 3;
    return 2 + Math.floor(avg * 4);
  });
};
const [top, bottom, left, right] = [borderDepth(WIDTH), borderDepth(WIDTH), borderDepth(HEIGHT), borderDepth(HEIGHT)];
for (let y = 0; y < HEIGHT; y++)
  for (let x = 0; x < WIDTH; x++) {
    const edge = y < top[x] || y >= HEIGHT - bottom[x] || x < left[y] || x >= WIDTH - right[y];
    if (edge && get(x, y) === T.grass) set(x, y, T.tree);
  }
for (let y = 42; y < HEIGHT; y++)
  for (let x = 61; x < WIDTH; x++) if (get(x, y) === T.grass && rand() < 0.55) set(x, y, T.tree);
// Copses: round clumps of trees in the meadows, thinning out towards their edges.
for (const [cx, cy, r] of [
  [10, 51, 4.5],
  [63, 24, 2.6],
  [64, 9, 2.2],
  [19, 49, 2.4],
])
  for (let y = Math.floor(cy - r); y <= cy + r; y++)
    for (let x = Math.floor(cx - r); x <= cx + r; x++) {
      const d = Math.hypot(x - cx, y - cy) / r;
      if (inside(x, y) && get(x, y) === T.grass && rand() < 1.1 - d) set(x, y, T.tree);
    }
for (let y = 0; y < HEIGHT; y++)
  for (let x = 0; x < WIDTH; x++) {
    if (get(x, y) !== T.grass) continue;
    const byWater = NEIGHBOURS.some(([dx, dy]) => inside(x + dx, y + dy) && get(x + dx, y + dy) === T.water);
    if (byWater && rand() < 0.5) set(x, y, T.sand);
  }

// Scattered trees, wildflowers and rocks on open grass, never right beside a road or a door.
for (let y = 0; y < HEIGHT; y++)
  for (let x = 0; x < WIDTH; x++) {
    if (get(x, y) !== T.grass) continue;
    const nearWay = NEIGHBOURS.some(([dx, dy]) => {
      const t = inside(x + dx, y + dy) ? get(x + dx, y + dy) : T.tree;
      return t === T.path || t === T.door || t === T.bridge || t === T.plaza;
    });
    const r = rand();
    if (r < 0.035 && !nearWay) set(x, y, T.tree);
    else if (r < 0.058) set(x, y, T.flowers);
    else if (r < 0.071 && !nearWay) set(x, y, T.rock);
  }

// --- Connectivity: everything walkable must be reachable from the town square. --------------------
{
  const seen = new Uint8Array(WIDTH * HEIGHT);
  const start = 30 * WIDTH + 34;
  const queue = [start];
  seen[start] = 1;
  while (queue.length > 0) {
    const i = queue.pop();
    const [x, y] = [i % WIDTH, Math.floor(i / WIDTH)];
    for (const [dx, dy] of NEIGHBOURS) {
      const [nx, ny] = [x + dx, y + dy];
      const j = ny * WIDTH + nx;
      if (inside(nx, ny) && !seen[j] && walkable(grid[j])) {
        seen[j] = 1;
        queue.push(j);
      }
    }
  }
  for (let i = 0; i < grid.length; i++) {
    if (seen[i] || !walkable(grid[i])) continue;
    // Stray pockets of open ground cut off by trees become woodland; anything built must connect.
    if ([T.grass, T.flowers, T.sand].includes(grid[i])) grid[i] = T.tree;
    else throw new Error(`unreachable ${TERRAINS[grid[i]].type} tile at ${i % WIDTH},${Math.floor(i / WIDTH)}`);
  }
  for (const l of landmarks) {
    let ok = false;
    for (let y = l.y; y < l.y + l.height; y++) for (let x = l.x; x < l.x + l.width; x++) ok ||= walkable(get(x, y));
    if (!ok) throw new Error(`landmark ${l.slug} has no walkable tile`);
  }
}

// --- Output. ----------------------------------------------------------------------------------------
const prop = (name, type, value) => ({ name, type, value });
const map = {
  type: 'map',
  version: '1.10',
  tiledversion: '1.10.2',
  orientation: 'orthogonal',
  renderorder: 'right-down',
  compressionlevel: -1,
  infinite: false,
  width: WIDTH,
  height: HEIGHT,
  tilewidth: TILE,
  tileheight: TILE,
  nextlayerid: 3,
  nextobjectid: landmarks.length + 1,
  properties: [prop('name', 'string', 'Willowbrook')],
  tilesets: [
    {
      firstgid: 1,
      name: 'village',
      tilewidth: TILE,
      tileheight: TILE,
      tilecount: TERRAINS.length,
      columns: TERRAINS.length,
      margin: 0,
      spacing: 0,
      image: 'village-tiles.png',
      imagewidth: TILE * TERRAINS.length,
      imageheight: TILE,
      tiles: TERRAINS.map((t, id) => ({
        id,
        type: t.type,
        properties: [prop('walkable', 'bool', t.walkable), prop('color', 'color', t.color)],
      })),
    },
  ],
  layers: [
    {
      id: 1,
      name: 'ground',
      type: 'tilelayer',
      x: 0,
      y: 0,
      width: WIDTH,
      height: HEIGHT,
      opacity: 1,
      visible: true,
      data: '@DATA@',
    },
    {
      id: 2,
      name: 'landmarks',
      type: 'objectgroup',
      draworder: 'topdown',
      opacity: 1,
      visible: true,
      x: 0,
      y: 0,
      objects: landmarks.map((l, i) => ({
        id: i + 1,
        name: l.name,
        type: l.kind,
        x: l.x * TILE,
        y: l.y * TILE,
        width: l.width * TILE,
        height: l.height * TILE,
        rotation: 0,
        visible: true,
        properties: [prop('description', 'string', l.description), prop('slug', 'string', l.slug)],
      })),
    },
  ],
};

// Pretty-printed, but the tile data one map row per line, so the file stays small and diffable.
const rows = [];
for (let y = 0; y < HEIGHT; y++)
  rows.push(
    grid
      .slice(y * WIDTH, (y + 1) * WIDTH)
      .map((t) => t + 1)
      .join(','),
  );
const json = JSON.stringify(map, null, 1).replace('"@DATA@"', `[\n${rows.map((r) => `    ${r}`).join(',\n')}\n   ]`);
mkdirSync(dirname(OUT), { recursive: true });
writeFileSync(OUT, `${json}\n`);
console.log(`wrote ${OUT}: ${WIDTH}×${HEIGHT} tiles, ${landmarks.length} landmarks`);
