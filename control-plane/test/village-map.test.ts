import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { findPath } from '../src/world/pathfinding.js';
import { MapLoadError, VillageMap } from '../src/world/village-map.js';
import { DEFAULT_MAP_FILE } from '../src/world/world-map.provider.js';

/** A tiny Tiled map: `.` walkable, `#` blocked, with landmarks as tile rectangles. */
function tinyMap(
  rows: string[],
  landmarks: Array<{ name: string; type: string; x: number; y: number; w: number; h: number }> = [],
) {
  const width = rows[0]!.length;
  return {
    type: 'map',
    orientation: 'orthogonal',
    infinite: false,
    width,
    height: rows.length,
    tilewidth: 16,
    tileheight: 16,
    tilesets: [
      {
        firstgid: 1,
        name: 't',
        tilecount: 2,
        tiles: [
          { id: 0, type: 'grass', properties: [{ name: 'walkable', type: 'bool', value: true }] },
          { id: 1, type: 'wall', properties: [{ name: 'walkable', type: 'bool', value: false }] },
        ],
      },
    ],
    layers: [
      {
        type: 'tilelayer',
        name: 'ground',
        width,
        height: rows.length,
        data: rows
          .join('')
          .split('')
          .map((c) => (c === '#' ? 2 : 1)),
      },
      {
        type: 'objectgroup',
        name: 'landmarks',
        objects: landmarks.map((l, i) => ({
          id: i + 1,
          name: l.name,
          type: l.type,
          x: l.x * 16,
          y: l.y * 16,
          width: l.w * 16,
          height: l.h * 16,
        })),
      },
    ],
  };
}

describe('the village map (Tiled JSON)', () => {
  const village = VillageMap.fromFile(DEFAULT_MAP_FILE);

  test('the default village is at least 64×48 with the named landmarks', () => {
    assert.ok(village.width >= 64 && village.height >= 48);
    const kinds = new Set(village.landmarks.map((l) => l.kind));
    for (const kind of ['home', 'cafe', 'market', 'board', 'park', 'square']) assert.ok(kinds.has(kind), kind);
    assert.ok(village.landmark('town-square'));
    assert.ok(village.landmark('town-board'));
  });

  test('every landmark of the default village is reachable from the town square', () => {
    const square = village.landmark('town-square')!.entrance;
    for (const landmark of village.landmarks) {
      assert.ok(village.isWalkable(landmark.entrance.x, landmark.entrance.y), `${landmark.id} entrance walkable`);
      assert.ok(findPath(village, square, landmark.entrance), `${landmark.id} reachable`);
      assert.equal(village.landmarkAt(landmark.entrance.x, landmark.entrance.y)?.id, landmark.id);
    }
  });

  test('blocked tiles, bounds and reasons', () => {
    const map = VillageMap.fromTiled(tinyMap(['..#', '..#']));
    assert.equal(map.isWalkable(0, 0), true);
    assert.equal(map.isWalkable(2, 0), false);
    assert.equal(map.isWalkable(3, 0), false);
    assert.equal(map.isWalkable(-1, 0), false);
    assert.match(map.whyNotWalkable(2, 1)!, /blocked \(wall\)/);
    assert.match(map.whyNotWalkable(9, 9)!, /outside the 3×2 map/);
    assert.equal(map.whyNotWalkable(1, 1), undefined);
  });

  test('a collision layer blocks tiles whatever their ground', () => {
    const json = tinyMap(['...', '...']);
    json.layers.push({
      type: 'tilelayer',
      name: 'collision',
      width: 3,
      height: 2,
      data: [0, 7, 0, 0, 0, 0] as number[],
    } as never);
    const map = VillageMap.fromTiled(json);
    assert.equal(map.isWalkable(0, 0), true);
    assert.equal(map.isWalkable(1, 0), false);
  });

  test('overlapping landmarks: the smallest area holds the tile', () => {
    const map = VillageMap.fromTiled(
      tinyMap(
        ['.....', '.....', '.....'],
        [
          { name: 'District', type: 'district', x: 0, y: 0, w: 5, h: 3 },
          { name: 'Cottage', type: 'home', x: 1, y: 1, w: 2, h: 1 },
        ],
      ),
    );
    assert.equal(map.landmarkAt(1, 1)?.id, 'cottage');
    assert.equal(map.landmarkAt(0, 0)?.id, 'district');
  });

  test('the walkability bits follow PostgreSQL get_bit order', () => {
    const map = VillageMap.fromTiled(tinyMap(['.#.#.#.#', '#.......']));
    const bit = (n: number) => (map.walkableBits[n >> 3]! >> (n & 7)) & 1;
    for (let i = 0; i < 16; i++) assert.equal(bit(i), map.isWalkable(i % 8, Math.floor(i / 8)) ? 1 : 0, `tile ${i}`);
  });

  test('path-finding takes the shortest walkable way, or none', () => {
    const map = VillageMap.fromTiled(tinyMap(['.....', '.###.', '.#...', '.#.#.', '...#.']));
    const path = findPath(map, { x: 2, y: 2 }, { x: 0, y: 4 })!;
    assert.ok(path);
    // Down through the gap: (2,3), (2,4), (1,4), (0,4).
    assert.equal(path.length, 4);
    const around = findPath(map, { x: 2, y: 2 }, { x: 0, y: 2 })!;
    assert.equal(around.length, 6, 'round the wall, not through it');
    let previous = { x: 2, y: 2 };
    for (const tile of path) {
      assert.ok(map.isWalkable(tile.x, tile.y));
      assert.equal(Math.abs(tile.x - previous.x) + Math.abs(tile.y - previous.y), 1);
      previous = tile;
    }
    assert.deepEqual(previous, { x: 0, y: 4 });
    assert.deepEqual(findPath(map, { x: 0, y: 0 }, { x: 0, y: 0 }), []);
    assert.equal(findPath(map, { x: 0, y: 0 }, { x: 1, y: 1 }), undefined, 'a blocked target');
    const island = VillageMap.fromTiled(tinyMap(['..#..', '..#..']));
    assert.equal(findPath(island, { x: 0, y: 0 }, { x: 4, y: 0 }), undefined, 'no way across');
  });

  test('landmarks: slug ids, kinds from the object class, an entrance on a walkable tile', () => {
    const map = VillageMap.fromTiled(
      tinyMap(['####', '#..#', '####'], [{ name: 'Café Aurora', type: 'cafe', x: 0, y: 0, w: 4, h: 3 }]),
    );
    const cafe = map.landmark('cafe-aurora')!;
    assert.equal(cafe.kind, 'cafe');
    assert.deepEqual(cafe.area, { x: 0, y: 0, width: 4, height: 3 });
    assert.ok(map.isWalkable(cafe.entrance.x, cafe.entrance.y));
    assert.equal(map.landmarkAt(0, 0)?.id, 'cafe-aurora');
  });

  test('maps the village cannot use are refused with the reason', () => {
    const cases: Array<[unknown, RegExp]> = [
      [{ ...tinyMap(['..']), infinite: true }, /infinite maps are not supported/],
      [{ ...tinyMap(['..']), orientation: 'isometric' }, /only orthogonal/],
      [{ ...tinyMap(['..']), layers: [] }, /no tile layer named "ground"/],
      [tinyMap(['.#'], [{ name: 'Rock', type: 'x', x: 1, y: 0, w: 1, h: 1 }]), /no walkable tile inside/],
      [
        tinyMap(
          ['..'],
          [
            { name: 'A', type: 'x', x: 0, y: 0, w: 1, h: 1 },
            { name: 'A', type: 'x', x: 1, y: 0, w: 1, h: 1 },
          ],
        ),
        /two landmarks share the id "a"/,
      ],
      [{ ...tinyMap(['..']), tilesets: [{ firstgid: 1, name: 'x', tilecount: 1, source: 'x.tsx' }] }, /external/],
      ['not a map', /expected object/],
    ];
    for (const [json, message] of cases) {
      assert.throws(
        () => VillageMap.fromTiled(json),
        (error: unknown) => error instanceof MapLoadError && message.test(error.message),
        String(message),
      );
    }
  });
});
