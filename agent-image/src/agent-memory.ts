// Memory that survives the container: the runtime loads what the control plane kept of its agent's
// memory when it starts (episodes and reflection notes), sends each new or counted-up episode as it
// goes (in batches, off the loop's path), and every so many loops writes a short reflection note of
// what it did since the last one. A replaced container (a fresh process on an empty disk) thus
// resumes with its memory.
import { randomUUID } from 'node:crypto';
import {
  MEMORY_LIMITS,
  type AgentMemory,
  type MemoryEpisode,
  type StoredEpisode,
  type VillageClient,
} from '@ai-village/control-plane/contract';
import { BatchReporter } from './batch-reporter.js';
import type { Episode, Intent, RecalledMemory } from './brains/brain.js';
import type { StructuredLog } from './structured-log.js';

/** Loops between two reflection notes (about 80 s at the default 2 s loop). */
export const DEFAULT_REFLECT_EVERY_LOOPS = 40;
/** Characters of one string in a remembered intent (a file's content is not memory). */
const INTENT_STRING_CHARS = 200;

type MemoryClient = Pick<VillageClient, 'memory' | 'recordEpisodes' | 'addNote'>;

export class AgentMemorySync {
  readonly episodes: BatchReporter<MemoryEpisode>;
  readonly notes: BatchReporter<{ text: string; key: string }>;
  private lastReflectedLoop = 0;
  private sinceNote: Episode[] = [];

  constructor(
    private readonly client: MemoryClient,
    private readonly agentId: string,
    log: StructuredLog,
    private readonly reflectEveryLoops = DEFAULT_REFLECT_EVERY_LOOPS,
  ) {
    this.episodes = new BatchReporter<MemoryEpisode>({
      what: 'episodes',
      send: (episodes) => client.recordEpisodes(agentId, episodes),
      log,
      batchItems: MEMORY_LIMITS.episodesPerReport,
      capacity: MEMORY_LIMITS.episodesKept,
      delayMs: 2000,
      keyOf: (episode) => episode.key,
    });
    this.notes = new BatchReporter<{ text: string; key: string }>({
      what: 'reflection notes',
      // One at a time; the same Idempotency-Key on a retry, so a note is added once.
      send: ([note]) => client.addNote(agentId, note!.text, { idempotencyKey: note!.key }),
      log,
      batchItems: 1,
      capacity: 5,
      delayMs: 0,
    });
  }

  /** What the control plane kept; throws when it cannot be asked (the caller retries). */
  async load(): Promise<RecalledMemory & { keyed: { episode: Episode; key: string }[] }> {
    const memory: AgentMemory = await this.client.memory(this.agentId, { episodes: MEMORY_LIMITS.episodesReturned });
    const keyed = memory.episodes.map((stored) => ({ episode: toEpisode(stored), key: stored.key }));
    return {
      notes: memory.notes.map((note) => note.text),
      digest: memory.digest,
      episodes: keyed.map(({ episode }) => episode),
      keyed,
    };
  }

  /** A new or counted-up line of the episodic log (EpisodicLog.onRecord). */
  recorded(episode: Episode, key: string): void {
    this.episodes.add(toMemoryEpisode(episode, key));
    if (!this.sinceNote.includes(episode)) this.sinceNote.push(episode);
  }

  /** After each loop: every `reflectEveryLoops` loops with something done, a note of them. */
  reflect(loop: number): string | undefined {
    if (loop - this.lastReflectedLoop < this.reflectEveryLoops) return undefined;
    const episodes = this.sinceNote;
    this.sinceNote = [];
    const from = this.lastReflectedLoop + 1;
    this.lastReflectedLoop = loop;
    const note = reflectionNote(episodes, from, loop);
    if (note) this.notes.add({ text: note, key: `note-${randomUUID()}` });
    return note;
  }

  async flush(deadlineMs = 3000): Promise<void> {
    await Promise.all([this.episodes.flush(deadlineMs), this.notes.flush(deadlineMs)]);
  }
}

/**
 * A short note of what the agent did in some loops, from its episodes alone (no LLM): where it went,
 * what it said and wrote, the tools it used, what was refused. Undefined when it only idled.
 */
export function reflectionNote(episodes: readonly Episode[], fromLoop: number, toLoop: number): string | undefined {
  const acted = episodes.filter((episode) => episode.intent.kind !== 'idle');
  if (acted.length === 0) return undefined;
  const places = unique(
    acted.flatMap((episode) =>
      episode.intent.kind === 'move' && 'landmark' in episode.intent.to ? [episode.intent.to.landmark] : [],
    ),
  );
  const count = (kind: Intent['kind'], status?: Episode['status']) =>
    acted.filter((episode) => episode.intent.kind === kind && (!status || episode.status === status)).length;
  const notes = (kind: Intent['kind']) =>
    unique(acted.flatMap((episode) => (episode.intent.kind === kind && episode.note ? [episode.note] : [])));
  const parts: string[] = [];
  if (places.length > 0) parts.push(`went to ${places.slice(-6).join(', ')}`);
  const said = count('say', 'done');
  if (said > 0) parts.push(`said ${said} thing${said === 1 ? '' : 's'}`);
  const posted = notes('post').filter((note) => note.startsWith('post #'));
  if (posted.length > 0) parts.push(`posted ${posted.slice(-3).join(', ')}`);
  const replies = acted.filter((episode) => episode.intent.kind === 'reply' && episode.status === 'done');
  if (replies.length > 0) {
    const threads = unique(
      replies.map((episode) => (episode.intent.kind === 'reply' ? `#${episode.intent.postId}` : '')),
    );
    parts.push(`replied on ${threads.slice(-4).join(', ')}`);
  }
  const tools = acted.filter((episode) => episode.intent.kind === 'tool');
  if (tools.length > 0) {
    const failed = tools.filter((episode) => episode.status !== 'done').length;
    const which = unique(tools.map((episode) => (episode.intent.kind === 'tool' ? episode.intent.call.tool : '')));
    parts.push(
      `used tools ${tools.length} time${tools.length === 1 ? '' : 's'} (${which.join(', ')}${failed ? `; ${failed} failed` : ''})`,
    );
  }
  const refused = acted.filter((episode) => episode.status === 'rejected');
  if (refused.length > 0) {
    const last = refused.at(-1)!;
    parts.push(`${refused.length} refused (last: ${last.intent.kind}: ${clip(last.note ?? '', 80)})`);
  }
  const idle = episodes
    .filter((episode) => episode.intent.kind === 'idle')
    .reduce((sum, episode) => sum + (episode.repeats ?? 1), 0);
  if (idle > 0) parts.push(`idle ${idle} loop${idle === 1 ? '' : 's'}`);
  return clip(`Loops ${fromLoop}-${toLoop}: ${parts.join('; ')}.`, MEMORY_LIMITS.noteChars);
}

/** An episode as the control plane keeps it: long strings in the intent cut. */
export function toMemoryEpisode(episode: Episode, key: string): MemoryEpisode {
  const line = memoryLine(episode, key);
  // One line too big would get its whole batch refused: keep only the gist of its intent then.
  if (JSON.stringify(line).length <= MEMORY_LIMITS.episodeJson - 100) return line;
  return { ...line, intent: { kind: episode.intent.kind, gist: clip(JSON.stringify(line.intent), 1000) } };
}

function memoryLine(episode: Episode, key: string): MemoryEpisode {
  return {
    key,
    loop: episode.loop,
    tick: episode.tick,
    position: episode.position,
    landmark: episode.landmark,
    intent: clipStrings(episode.intent) as MemoryEpisode['intent'],
    status: episode.status,
    ...(episode.note === undefined ? {} : { note: clip(episode.note, 500) }),
    ...(episode.repeats === undefined ? {} : { repeats: episode.repeats }),
  };
}

function toEpisode(stored: StoredEpisode): Episode {
  return {
    loop: stored.loop,
    tick: stored.tick,
    position: stored.position,
    landmark: stored.landmark,
    // Written by this runtime (or an older one): brains look at `kind` and ignore what they do not know.
    intent: stored.intent as unknown as Intent,
    status: stored.status,
    ...(stored.note === undefined ? {} : { note: stored.note }),
    ...(stored.repeats === undefined ? {} : { repeats: stored.repeats }),
  };
}

function clipStrings(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return clip(value, INTENT_STRING_CHARS);
  if (depth > 4 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.slice(0, 20).map((item) => clipStrings(item, depth + 1));
  return Object.fromEntries(
    Object.entries(value as Record<string, unknown>)
      .slice(0, 30)
      .map(([key, inner]) => [key, clipStrings(inner, depth + 1)]),
  );
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function unique<T>(items: readonly T[]): T[] {
  return [...new Set(items)];
}
