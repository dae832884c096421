import { Injectable } from '@nestjs/common';
import { PRESENCE_TOUCH_MS } from '../config/config.js';
import { DatabaseService } from '../database/database.service.js';
import { EventBus } from '../events/event-bus.service.js';

/** Keeps agents' online status and last-seen time from their own requests. */
@Injectable()
export class PresenceService {
  private readonly lastTouch = new Map<string, number>();

  constructor(
    private readonly database: DatabaseService,
    private readonly events: EventBus,
  ) {}

  async touch(agentId: string) {
    const now = Date.now();
    if ((this.lastTouch.get(agentId) ?? 0) > now - PRESENCE_TOUCH_MS) return;
    this.lastTouch.set(agentId, now);
    const { rows } = await this.database.query<{ was_online: boolean }>(
      `UPDATE agents a SET online = true, last_seen_at = now()
         FROM (SELECT online FROM agents WHERE id = $1 FOR UPDATE) before
        WHERE a.id = $1
        RETURNING before.online AS was_online`,
      [agentId],
    );
    if (rows[0] && !rows[0].was_online) await this.events.publish([{ type: 'agent.online', agentId }]);
  }

  /** Marks agents silent for longer than `offlineAfterMs` offline; run by the tick leader. */
  async markSilentAgentsOffline(offlineAfterMs: number) {
    const { rows } = await this.database.query<{ id: string; last_seen_at: Date | null }>(
      `UPDATE agents SET online = false
        WHERE online AND (last_seen_at IS NULL OR last_seen_at < now() - make_interval(secs => $1::double precision / 1000))
        RETURNING id, last_seen_at`,
      [offlineAfterMs],
    );
    for (const row of rows) this.lastTouch.delete(row.id);
    return rows.map((row) => ({
      type: 'agent.offline' as const,
      agentId: row.id,
      lastSeenAt: row.last_seen_at?.toISOString() ?? null,
    }));
  }
}
