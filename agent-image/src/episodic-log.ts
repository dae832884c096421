// The agent's short-term memory: what it did, where, and how it went. In memory only and capped,
// so a runtime that lives for weeks holds the same few hundred lines.
import type { Episode } from './brains/brain.js';

export const EPISODIC_LOG_CAPACITY = 200;

export class EpisodicLog {
  private readonly episodes: Episode[] = [];

  constructor(readonly capacity = EPISODIC_LOG_CAPACITY) {}

  /** Adds an episode; the same idle loop after loop is folded into one line with a count. */
  record(episode: Episode): void {
    const last = this.episodes.at(-1);
    if (last && isSameIdle(last, episode)) {
      last.repeats = (last.repeats ?? 1) + 1;
      last.loop = episode.loop;
      last.tick = episode.tick;
      last.position = episode.position;
      return;
    }
    this.episodes.push({ ...episode });
    if (this.episodes.length > this.capacity) this.episodes.splice(0, this.episodes.length - this.capacity);
  }

  /** Oldest first. */
  entries(): readonly Episode[] {
    return this.episodes;
  }

  get size(): number {
    return this.episodes.length;
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
