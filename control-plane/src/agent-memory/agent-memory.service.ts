import { Injectable, NotFoundException } from '@nestjs/common';
import type pg from 'pg';
import {
  MEMORY_LIMITS,
  type AgentMemory,
  type EpisodeBatchResult,
  type MemoryEpisode,
  type MemoryNote,
  type MemoryNotes,
  type ReplaceNotesRequest,
  type StoredEpisode,
} from '../contract/index.js';
import { DatabaseService } from '../database/database.service.js';
import { foldNotes } from './note-folding.js';

interface MemoryRow {
  notes: MemoryNote[];
  digest: string;
  folded: number;
}

interface EpisodeRow {
  episode: MemoryEpisode;
  recorded_at: Date;
  updated_at: Date;
}

/**
 * An agent's memory, kept here so that a replaced container resumes with it: the episodic log (the
 * newest MEMORY_LIMITS.episodesKept lines, keyed by the runtime) and the reflection notes (capped;
 * the oldest folded into a digest by `foldNotes`). Only the agent writes it; nothing here is shown
 * to other agents or to the public.
 */
@Injectable()
export class AgentMemoryService {
  constructor(private readonly database: DatabaseService) {}

  async read(agentId: string, episodes: number): Promise<AgentMemory> {
    const [notes, page, count] = await Promise.all([
      this.notes(agentId),
      this.database.query<EpisodeRow>(
        `SELECT episode, recorded_at, updated_at
           FROM (SELECT id, episode, recorded_at, updated_at FROM agent_episodes WHERE agent_id = $1
                  ORDER BY id DESC LIMIT $2) newest
          ORDER BY id`,
        [agentId, episodes],
      ),
      this.database.query<{ total: number }>('SELECT count(*)::int AS total FROM agent_episodes WHERE agent_id = $1', [
        agentId,
      ]),
    ]);
    return { ...notes, episodes: page.rows.map(toStoredEpisode), episodeCount: count.rows[0]!.total };
  }

  async notes(agentId: string): Promise<MemoryNotes> {
    const { rows } = await this.database.query<MemoryRow & { agent_id: string }>(
      `SELECT a.id AS agent_id, m.notes, m.digest, m.folded
         FROM agents a LEFT JOIN agent_memory m ON m.agent_id = a.id WHERE a.id = $1`,
      [agentId],
    );
    if (!rows[0]) throw noAgent(agentId);
    return toNotes(agentId, rows[0].notes === null ? undefined : rows[0]);
  }

  /** Adds episodes, or updates those whose key it has; then forgets all but the newest. */
  async recordEpisodes(agentId: string, episodes: MemoryEpisode[]): Promise<EpisodeBatchResult> {
    // The last report of a key wins within one batch too (ON CONFLICT may touch a row once per statement).
    const byKey = new Map(episodes.map((episode) => [episode.key, episode]));
    const kept = await this.database
      .transaction(async (client) => {
        await client.query(
          `INSERT INTO agent_episodes (agent_id, key, episode)
           SELECT $1, e->>'key', e FROM jsonb_array_elements($2::jsonb) AS e
           ON CONFLICT (agent_id, key) DO UPDATE SET episode = EXCLUDED.episode, updated_at = now()`,
          [agentId, JSON.stringify([...byKey.values()])],
        );
        await client.query(
          `DELETE FROM agent_episodes WHERE agent_id = $1 AND id <= (
             SELECT id FROM agent_episodes WHERE agent_id = $1 ORDER BY id DESC OFFSET $2 LIMIT 1)`,
          [agentId, MEMORY_LIMITS.episodesKept],
        );
        const { rows } = await client.query<{ total: number }>(
          'SELECT count(*)::int AS total FROM agent_episodes WHERE agent_id = $1',
          [agentId],
        );
        return rows[0]!.total;
      })
      .catch((error: unknown) => {
        throw isMissingAgent(error) ? noAgent(agentId) : error;
      });
    return { received: episodes.length, kept };
  }

  /** One more note; beyond the cap the oldest are folded into the digest. */
  addNote(agentId: string, text: string): Promise<MemoryNotes> {
    return this.change(agentId, (state) =>
      foldNotes({ ...state, notes: [...state.notes, { text, at: new Date().toISOString() }] }),
    );
  }

  /** The agent rewrites its notes (all of them, and the digest if it gives one). */
  replaceNotes(agentId: string, request: ReplaceNotesRequest): Promise<MemoryNotes> {
    const at = new Date().toISOString();
    return this.change(agentId, (state) => ({
      notes: request.notes.map((text) => ({ text, at })),
      digest: request.digest ?? state.digest,
      folded: state.folded,
    }));
  }

  /** Reads the notes under a row lock, changes them, writes them back: one change at a time per agent. */
  private async change(agentId: string, update: (state: MemoryRow) => MemoryRow): Promise<MemoryNotes> {
    return this.database
      .transaction(async (client) => {
        await client.query('INSERT INTO agent_memory (agent_id) VALUES ($1) ON CONFLICT (agent_id) DO NOTHING', [
          agentId,
        ]);
        const current = await lockedState(client, agentId);
        const next = update(current);
        await client.query(
          'UPDATE agent_memory SET notes = $2, digest = $3, folded = $4, updated_at = now() WHERE agent_id = $1',
          [agentId, JSON.stringify(next.notes), next.digest, next.folded],
        );
        return toNotes(agentId, next);
      })
      .catch((error: unknown) => {
        throw isMissingAgent(error) ? noAgent(agentId) : error;
      });
  }
}

async function lockedState(client: pg.PoolClient, agentId: string): Promise<MemoryRow> {
  const { rows } = await client.query<MemoryRow>(
    'SELECT notes, digest, folded FROM agent_memory WHERE agent_id = $1 FOR UPDATE',
    [agentId],
  );
  return rows[0]!;
}

function toNotes(agentId: string, row: MemoryRow | undefined): MemoryNotes {
  return { agentId, notes: row?.notes ?? [], digest: row?.digest ?? '', folded: row?.folded ?? 0 };
}

function toStoredEpisode(row: EpisodeRow): StoredEpisode {
  return { ...row.episode, recordedAt: row.recorded_at.toISOString(), updatedAt: row.updated_at.toISOString() };
}

function isMissingAgent(error: unknown): boolean {
  return (error as { code?: string }).code === '23503';
}

function noAgent(agentId: string): NotFoundException {
  return new NotFoundException(`there is no agent with id "${agentId}"`);
}
