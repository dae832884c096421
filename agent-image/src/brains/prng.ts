// A small seeded PRNG, so that a brain's choices are reproducible from its seed alone.
// Math.random is never used by a brain.

/** FNV-1a over UTF-16 code units: a stable 32-bit hash of a string (seeds, home choice). */
export function hashString(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

export interface Prng {
  /** A float in [0, 1). */
  next(): number;
  /** An integer in [0, n). */
  int(n: number): number;
  /** True with probability p. */
  chance(p: number): boolean;
  /** One element of a non-empty array. */
  pick<T>(items: readonly T[]): T;
  /** One element, each drawn with probability proportional to its weight (weights > 0). */
  pickWeighted<T>(items: readonly T[], weight: (item: T) => number): T;
}

/** mulberry32: tiny, fast and good enough for behaviour (not for anything secret). */
export function createPrng(seed: string): Prng {
  let state = hashString(seed);
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(items: readonly T[]): T => {
    if (items.length === 0) throw new Error('pick from an empty list');
    return items[int(items.length)] as T;
  };
  return {
    next,
    int,
    chance: (p) => next() < p,
    pick,
    pickWeighted(items, weight) {
      const weights = items.map(weight);
      const total = weights.reduce((sum, w) => sum + w, 0);
      let roll = next() * total;
      for (let i = 0; i < items.length; i++) {
        roll -= weights[i] ?? 0;
        if (roll < 0) return items[i] as (typeof items)[number];
      }
      return pick(items);
    },
  };
}
