import { Injectable, NotFoundException } from '@nestjs/common';
import {
  redactToolArguments,
  type ToolCall,
  type ToolCallBatchResult,
  type ToolCallReport,
} from '../contract/index.js';
import { DatabaseService } from '../database/database.service.js';
import { listPage } from '../database/list-page.js';
import { EventBus } from '../events/event-bus.service.js';
import type { ListQuery } from '../http/list-query.js';

export const TOOL_CALL_SORT_FIELDS = ['id', 'startedAt', 'durationMs'] as const;
export type ToolCallSortField = (typeof TOOL_CALL_SORT_FIELDS)[number];
const SORT_COLUMNS: Record<ToolCallSortField, string> = {
  id: 'id',
  startedAt: 'started_at',
  durationMs: 'duration_ms',
};
const FILTER_COLUMNS = { id: 'id', agentId: 'agent_id', tool: 'tool', action: 'action', ok: 'ok' } as const;
/** The error's first line, at most this long, goes into the event. */
const EVENT_ERROR_CHARS = 200;

interface ToolCallRow {
  id: string;
  agent_id: string;
  call_id: string;
  tool: ToolCall['tool'];
  action: string;
  arguments: Record<string, unknown>;
  cwd: string | null;
  ok: boolean;
  exit_code: number | null;
  output: string;
  error: string | null;
  duration_ms: number;
  started_at: Date;
  finished_at: Date;
  recorded_at: Date;
}

/**
 * The tool-call log: every call an agent's runtime ran (or refused) in its container, reported in
 * batches by the agent itself, stored once per call id, and announced to moderators as
 * `agent.tool_call`. The log is its own append-only record; it is not copied to the audit log.
 */
@Injectable()
export class ToolCallsService {
  constructor(
    private readonly database: DatabaseService,
    private readonly events: EventBus,
  ) {}

  async record(agentId: string, calls: ToolCallReport[]): Promise<ToolCallBatchResult> {
    // Redacted again here: the runtime redacts before sending, but the log must not depend on it.
    const rows = calls.map((call) => ({ ...call, arguments: redactToolArguments(call.arguments) }));
    const { rows: stored } = await this.database
      .query<ToolCallRow>(
        `INSERT INTO tool_calls (agent_id, call_id, tool, action, arguments, cwd, ok, exit_code, output, error,
                                 duration_ms, started_at, finished_at)
         SELECT $1, c."callId", c.tool, c.action, c.arguments, c.cwd, c.ok, c."exitCode", c.output, c.error,
                c."durationMs", c."startedAt", c."finishedAt"
           FROM jsonb_to_recordset($2::jsonb) AS c("callId" text, tool text, action text, arguments jsonb, cwd text,
                ok boolean, "exitCode" int, output text, error text, "durationMs" int, "startedAt" timestamptz,
                "finishedAt" timestamptz)
         ON CONFLICT (agent_id, call_id) DO NOTHING
         RETURNING *`,
        [agentId, JSON.stringify(rows)],
      )
      .catch((error: unknown) => {
        if ((error as { code?: string }).code === '23503')
          throw new NotFoundException(`there is no agent with id "${agentId}"`);
        throw error;
      });
    if (stored.length > 0) {
      await this.events.publish(
        stored.map((row) => ({
          type: 'agent.tool_call' as const,
          agentId,
          callId: Number(row.id),
          tool: row.tool,
          action: row.action,
          ok: row.ok,
          exitCode: row.exit_code,
          durationMs: row.duration_ms,
          error: row.error === null ? null : firstLine(row.error),
        })),
      );
    }
    return { received: calls.length, stored: stored.length };
  }

  list(query: ListQuery<ToolCallSortField>): Promise<{ items: ToolCall[]; total: number }> {
    return listPage(
      this.database,
      { table: 'tool_calls', sort: SORT_COLUMNS, filter: FILTER_COLUMNS },
      query,
      toToolCall,
    );
  }

  async get(id: number): Promise<ToolCall> {
    const { rows } = await this.database.query<ToolCallRow>('SELECT * FROM tool_calls WHERE id = $1', [id]);
    if (!rows[0]) throw new NotFoundException(`there is no tool call with id ${id}`);
    return toToolCall(rows[0]);
  }
}

function firstLine(text: string): string {
  const line = text.split('\n', 1)[0]!;
  return line.length <= EVENT_ERROR_CHARS ? line : `${line.slice(0, EVENT_ERROR_CHARS - 1)}…`;
}

function toToolCall(row: ToolCallRow): ToolCall {
  return {
    id: Number(row.id),
    agentId: row.agent_id,
    callId: row.call_id,
    tool: row.tool,
    action: row.action,
    arguments: row.arguments,
    cwd: row.cwd,
    ok: row.ok,
    exitCode: row.exit_code,
    output: row.output,
    error: row.error,
    durationMs: row.duration_ms,
    startedAt: row.started_at.toISOString(),
    finishedAt: row.finished_at.toISOString(),
    recordedAt: row.recorded_at.toISOString(),
  };
}
