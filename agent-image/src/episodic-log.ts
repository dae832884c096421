// The agent's short-term memory: what it did, where, and how it went. Capped, so a runtime that lives
// for weeks holds the same few hundred lines. Each line has a key (this runtime's id and a number):
// the control plane keeps a copy by key (agent-memory.ts), so a replaced container resumes with it,
// and a line counted up later (the same idle again) updates its copy instead of adding one.
import { randomUUID } from 'node:crypto';
import type { Episode } from './brains/brain.js';

export const EPISODIC_LOG_CAPACITY = 200;

export type EpisodeListener = (episode: Episode, key: string) => void;

export class EpisodicLog {
  private readonly episodes: Episode[] = [];
  private readonly keys = new WeakMap<Episode, string>();
  private readonly listeners: EpisodeListener[] = [];
  private seq = 0;

  constructor(
    readonly capacity = EPISODIC_LOG_CAPACITY,
    /** Tells this runtime's lines from a previous runtime's. */
    readonly runId: string = randomUUID().slice(0, 8),
  ) {}

  /** Called with every line written or counted up. */
  onRecord(listener: EpisodeListener): void {
    this.listeners.push(listener);
  }

  /** Adds an episode; the same idle loop after loop is folded into one line with a count. */
  record(episode: Episode): void {
    const last = this.episodes.at(-1);
    if (last && isSameIdle(last, episode)) {
      last.repeats = (last.repeats ?? 1) + 1;
      last.loop = episode.loop;
      last.tick = episode.tick;
      last.position = episode.position;
      this.announce(last);
      return;
    }
    const stored = { ...episode };
    this.keys.set(stored, `${this.runId}:${++this.seq}`);
    this.episodes.push(stored);
    if (this.episodes.length > this.capacity) this.episodes.splice(0, this.episodes.length - this.capacity);
    this.announce(stored);
  }

  /** Puts back what a previous runtime remembered (oldest first), before anything new. */
  restore(lines: readonly { episode: Episode; key: string }[]): void {
    const kept = lines.slice(-this.capacity);
    this.episodes.splice(0, this.episodes.length, ...kept.map(({ episode }) => episode));
    for (const { episode, key } of kept) this.keys.set(episode, key);
  }

  /** Oldest first. */
  entries(): readonly Episode[] {
    return this.episodes;
  }

  get size(): number {
    return this.episodes.length;
  }

  private announce(episode: Episode): void {
    const key = this.keys.get(episode);
    if (key === undefined) return;
    for (const listener of this.listeners) listener(episode, key);
  }
}

function isSameIdle(a: Episode, b: Episode): boolean {
  return (
    a.intent.kind === 'idle' &&
    b.intent.kind === 'idle' &&
    a.intent.why === b.intent.why &&
    a.landmark === b.landmark &&
    a.status === b.status
  );
}
