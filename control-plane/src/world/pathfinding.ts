import type { Position } from '../contract/index.js';
import type { VillageMap } from './village-map.js';

/**
 * Shortest 4-connected walk from `from` to `to` over walkable tiles (A* with a Manhattan heuristic
 * and a binary heap). Returns the tiles to step on, excluding `from`; [] when already there;
 * undefined when unreachable.
 */
export function findPath(map: VillageMap, from: Position, to: Position): Position[] | undefined {
  if (from.x === to.x && from.y === to.y) return [];
  if (!map.isWalkable(to.x, to.y)) return undefined;
  const { width, height } = map;
  const size = width * height;
  const start = from.y * width + from.x;
  const goal = to.y * width + to.x;
  const cost = new Float64Array(size).fill(Infinity);
  const cameFrom = new Int32Array(size).fill(-1);
  const closed = new Uint8Array(size);
  const heap = new MinHeap();
  const heuristic = (i: number) => Math.abs((i % width) - to.x) + Math.abs(Math.floor(i / width) - to.y);
  cost[start] = 0;
  heap.push(start, heuristic(start));
  while (heap.size > 0) {
    const current = heap.pop();
    if (current === goal) return reconstruct(cameFrom, goal, start, width);
    if (closed[current]) continue;
    closed[current] = 1;
    const cx = current % width;
    const cy = (current - cx) / width;
    for (const [nx, ny] of [
      [cx + 1, cy],
      [cx - 1, cy],
      [cx, cy + 1],
      [cx, cy - 1],
    ] as const) {
      if (nx < 0 || ny < 0 || nx >= width || ny >= height || !map.isWalkable(nx, ny)) continue;
      const next = ny * width + nx;
      const tentative = cost[current]! + 1;
      if (tentative < cost[next]!) {
        cost[next] = tentative;
        cameFrom[next] = current;
        heap.push(next, tentative + heuristic(next));
      }
    }
  }
  return undefined;
}

function reconstruct(cameFrom: Int32Array, goal: number, start: number, width: number): Position[] {
  const path: Position[] = [];
  for (let at = goal; at !== start; at = cameFrom[at]!) path.push({ x: at % width, y: Math.floor(at / width) });
  return path.reverse();
}

/** A binary min-heap of tile indices keyed by priority; duplicates are allowed and skipped on pop. */
class MinHeap {
  private items: number[] = [];
  private priorities: number[] = [];
  get size() {
    return this.items.length;
  }
  push(item: number, priority: number) {
    this.items.push(item);
    this.priorities.push(priority);
    let i = this.items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.priorities[parent]! <= this.priorities[i]!) break;
      this.swap(i, parent);
      i = parent;
    }
  }
  pop(): number {
    const top = this.items[0]!;
    const lastItem = this.items.pop()!;
    const lastPriority = this.priorities.pop()!;
    if (this.items.length > 0) {
      this.items[0] = lastItem;
      this.priorities[0] = lastPriority;
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        const right = left + 1;
        let smallest = i;
        if (left < this.items.length && this.priorities[left]! < this.priorities[smallest]!) smallest = left;
        if (right < this.items.length && this.priorities[right]! < this.priorities[smallest]!) smallest = right;
        if (smallest === i) break;
        this.swap(i, smallest);
        i = smallest;
      }
    }
    return top;
  }
  private swap(a: number, b: number) {
    [this.items[a], this.items[b]] = [this.items[b]!, this.items[a]!];
    [this.priorities[a], this.priorities[b]] = [this.priorities[b]!, this.priorities[a]!];
  }
}
