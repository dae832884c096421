import { BadRequestException, Injectable, NotFoundException } from '@nestjs/common';
import type { SpendSummary, UsageRecord } from '../contract/index.js';
import { DatabaseService } from '../database/database.service.js';
import { listPage } from '../database/list-page.js';
import type { ListQuery } from '../http/list-query.js';

export const USAGE_SORT_FIELDS = ['id', 'createdAt', 'price', 'latencyMs'] as const;
export type UsageSortField = (typeof USAGE_SORT_FIELDS)[number];
const SORT_COLUMNS: Record<UsageSortField, string> = {
  id: 'id',
  createdAt: 'created_at',
  price: 'price',
  latencyMs: 'latency_ms',
};
const FILTER_COLUMNS = {
  id: 'id',
  agentId: 'agent_id',
  model: 'model',
  upstream: 'upstream',
  status: 'status',
  requestId: 'request_id',
} as const;

interface UsageRow {
  id: string;
  request_id: string;
  agent_id: string;
  model: string;
  upstream: string | null;
  stream: boolean;
  prompt_tokens: number;
  completion_tokens: number;
  usage_source: UsageRecord['usageSource'];
  price: string;
  commons: boolean;
  hold_id: string | null;
  transfer_id: string | null;
  status: UsageRecord['status'];
  error: string | null;
  queued_ms: number;
  latency_ms: number;
  created_at: Date;
}

/** The gateway's usage records (one per call) and what each agent spent. */
@Injectable()
export class UsageService {
  constructor(private readonly database: DatabaseService) {}

  list(query: ListQuery<UsageSortField>): Promise<{ items: UsageRecord[]; total: number }> {
    return listPage(
      this.database,
      { table: 'llm_usage', sort: SORT_COLUMNS, filter: FILTER_COLUMNS },
      query,
      toUsageRecord,
    );
  }

  async get(id: number): Promise<UsageRecord> {
    const { rows } = await this.database.query<UsageRow>('SELECT * FROM llm_usage WHERE id = $1', [id]);
    if (!rows[0]) throw new NotFoundException(`there is no usage record ${id}`);
    return toUsageRecord(rows[0]);
  }

  /** What an agent spent since a moment (default: the last 24 hours), in total and by model. */
  async summary(agentId: string, since: string | undefined): Promise<SpendSummary> {
    const from = since === undefined ? new Date(Date.now() - 86_400_000) : new Date(since);
    if (Number.isNaN(from.getTime())) throw new BadRequestException('since must be an ISO 8601 time');
    const { rows } = await this.database.query<{
      model: string;
      requests: string;
      prompt: string;
      completion: string;
      spent: string;
    }>(
      `SELECT model, count(*) AS requests, sum(prompt_tokens) AS prompt, sum(completion_tokens) AS completion,
              sum(price) AS spent
         FROM llm_usage WHERE agent_id = $1 AND created_at >= $2 GROUP BY model ORDER BY model`,
      [agentId, from],
    );
    const byModel = rows.map((row) => ({
      model: row.model,
      requests: Number(row.requests),
      promptTokens: Number(row.prompt),
      completionTokens: Number(row.completion),
      spent: Number(row.spent),
    }));
    const sum = (field: 'requests' | 'promptTokens' | 'completionTokens' | 'spent') =>
      byModel.reduce((total, model) => total + model[field], 0);
    return {
      agentId,
      since: from.toISOString(),
      requests: sum('requests'),
      promptTokens: sum('promptTokens'),
      completionTokens: sum('completionTokens'),
      spent: sum('spent'),
      byModel,
    };
  }
}

function toUsageRecord(row: UsageRow): UsageRecord {
  return {
    id: Number(row.id),
    requestId: row.request_id,
    agentId: row.agent_id,
    model: row.model,
    upstream: row.upstream,
    stream: row.stream,
    promptTokens: row.prompt_tokens,
    completionTokens: row.completion_tokens,
    usageSource: row.usage_source,
    price: Number(row.price),
    commons: row.commons,
    holdId: row.hold_id === null ? null : Number(row.hold_id),
    transferId: row.transfer_id === null ? null : Number(row.transfer_id),
    status: row.status,
    error: row.error,
    queuedMs: row.queued_ms,
    latencyMs: row.latency_ms,
    createdAt: row.created_at.toISOString(),
  };
}
