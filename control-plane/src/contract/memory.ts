import { z } from 'zod';
import { PositionSchema } from './world.js';

/**
 * An agent's memory, kept by the control plane so that a replaced container (a fresh process on an
 * empty disk) resumes with it: the episodic log (what it did, where, how it went; the newest few
 * hundred kept) and its reflection notes (a few, each short; the oldest folded into a digest).
 * Only the agent itself writes it; the agent and moderators read it.
 */

export const MEMORY_LIMITS = {
  /** Notes kept; adding one more folds the oldest into the digest. */
  notes: 20,
  noteChars: 1000,
  /** The digest of folded notes keeps its newest this many characters. */
  digestChars: 2000,
  /** Characters of each folded note that go into the digest. */
  foldedNoteChars: 200,
  /** Episodes kept per agent (the oldest are deleted). */
  episodesKept: 500,
  episodesPerReport: 100,
  /** JSON text of one episode. */
  episodeJson: 4000,
  /** Episodes `GET /api/agents/:id/memory` returns by default (newest ones, oldest first). */
  episodesReturned: 200,
} as const;

export const EPISODE_STATUSES = ['done', 'rejected', 'failed', 'skipped'] as const;

/**
 * One line of the episodic log as the runtime writes it. `key` is the runtime's own id for the
 * line: the same key again updates the line (an idle loop folded into the last one counts up
 * `repeats`), so a retried report changes nothing.
 */
const episodeShape = {
  key: z.string().min(1).max(80),
  loop: z.number().int().nonnegative(),
  tick: z.number().int().nonnegative(),
  position: PositionSchema,
  landmark: z.string().max(100).nullable(),
  /** The intent (`kind` and its fields), as the runtime describes it. */
  intent: z.looseObject({ kind: z.string().min(1).max(40) }),
  status: z.enum(EPISODE_STATUSES),
  note: z.string().max(500).optional(),
  repeats: z.number().int().positive().optional(),
};
export const MemoryEpisodeSchema = z
  .strictObject(episodeShape)
  .refine(
    (episode) => JSON.stringify(episode).length <= MEMORY_LIMITS.episodeJson,
    `an episode must be at most ${MEMORY_LIMITS.episodeJson} characters of JSON`,
  );
export type MemoryEpisode = z.infer<typeof MemoryEpisodeSchema>;

export const EpisodeBatchRequestSchema = z.strictObject({
  episodes: z
    .array(MemoryEpisodeSchema)
    .min(1, 'send at least one episode')
    .max(MEMORY_LIMITS.episodesPerReport, `at most ${MEMORY_LIMITS.episodesPerReport} episodes in one report`),
});
export type EpisodeBatchRequest = z.infer<typeof EpisodeBatchRequestSchema>;

export const EpisodeBatchResultSchema = z.object({
  received: z.number().int().nonnegative(),
  /** Episodes the agent's memory now holds (at most MEMORY_LIMITS.episodesKept). */
  kept: z.number().int().nonnegative(),
});
export type EpisodeBatchResult = z.infer<typeof EpisodeBatchResultSchema>;

const noteText = z
  .string()
  .trim()
  .min(1, 'a note must not be empty')
  .max(MEMORY_LIMITS.noteChars, `a note must be at most ${MEMORY_LIMITS.noteChars} characters`);

/** `POST /api/agents/:id/memory/notes`: one more reflection note. */
export const AddNoteRequestSchema = z.strictObject({ text: noteText });
export type AddNoteRequest = z.infer<typeof AddNoteRequestSchema>;

/** `PUT /api/agents/:id/memory/notes`: the agent rewrites its notes (and, if given, the digest). */
export const ReplaceNotesRequestSchema = z.strictObject({
  notes: z.array(noteText).max(MEMORY_LIMITS.notes, `at most ${MEMORY_LIMITS.notes} notes`),
  digest: z
    .string()
    .trim()
    .max(MEMORY_LIMITS.digestChars, `the digest must be at most ${MEMORY_LIMITS.digestChars} characters`)
    .optional(),
});
export type ReplaceNotesRequest = z.infer<typeof ReplaceNotesRequestSchema>;

export const MemoryNoteSchema = z.object({ text: z.string(), at: z.string() });
export type MemoryNote = z.infer<typeof MemoryNoteSchema>;

export const MemoryNotesSchema = z.object({
  agentId: z.string(),
  /** Oldest first. */
  notes: z.array(MemoryNoteSchema),
  /** What is left of the notes folded away, oldest first, one line each. */
  digest: z.string(),
  /** How many notes were folded into the digest, ever. */
  folded: z.number().int().nonnegative(),
});
export type MemoryNotes = z.infer<typeof MemoryNotesSchema>;

export const StoredEpisodeSchema = z.object({ ...episodeShape, recordedAt: z.string(), updatedAt: z.string() });
export type StoredEpisode = z.infer<typeof StoredEpisodeSchema>;

/** `GET /api/agents/:id/memory`: the notes and the newest episodes, oldest first. */
export const AgentMemorySchema = MemoryNotesSchema.extend({
  episodes: z.array(StoredEpisodeSchema),
  /** Episodes held in all (the answer may carry fewer). */
  episodeCount: z.number().int().nonnegative(),
});
export type AgentMemory = z.infer<typeof AgentMemorySchema>;

export const MemoryQuerySchema = z.strictObject({
  episodes: z.coerce
    .number({ error: 'episodes must be a number' })
    .int('episodes must be a whole number')
    .min(0, 'episodes must be at least 0')
    .max(MEMORY_LIMITS.episodesKept, `episodes must be at most ${MEMORY_LIMITS.episodesKept}`)
    .default(MEMORY_LIMITS.episodesReturned),
});
export type MemoryQuery = z.infer<typeof MemoryQuerySchema>;
